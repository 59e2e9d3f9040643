/**
 * Writes the role-sync URL and secret into Vault, where the database webhook and the cron sweep
 * read them (`rolepass.request_role_sync`). Uses Vault's own functions so it works on Supabase's
 * real Vault as on the bootstrap's stand-in.
 */
import type { Sql } from "../../_shared/db.ts";

/** Creates or updates the named Vault secret. */
export async function upsertVaultSecret(sql: Sql, name: string, value: string): Promise<void> {
  const existing = await sql<{ id: string }[]>`
    select id from vault.secrets where name = ${name}`;
  const [secret] = existing;
  if (secret) {
    await sql`select vault.update_secret(${secret.id}::uuid, ${value})`;
  } else {
    await sql`select vault.create_secret(${value}, ${name})`;
  }
}

/** Points the database webhook and the cron sweep at this runner's role-sync. */
export async function pointRoleSyncAt(
  sql: Sql,
  roleSyncUrl: string,
  roleSyncSecret: string,
): Promise<void> {
  await upsertVaultSecret(sql, "role_sync_url", roleSyncUrl);
  await upsertVaultSecret(sql, "role_sync_secret", roleSyncSecret);
}

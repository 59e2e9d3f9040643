/**
 * Check: Vault holds what the database webhook and the cron sweep need to wake role-sync:
 * `role_sync_url` (the role-sync function's URL) and `role_sync_secret` (equal to the functions'
 * ROLE_SYNC_SECRET). Without them the database never calls role-sync and no role is ever granted.
 */
import type { Sql } from "../../_shared/db.ts";
import { fail, type Finding, pass, warn } from "./finding.ts";
import { answered, type Probe, refused } from "./probe.ts";

/** The two Vault entries; null when absent or empty. */
export interface VaultFacts {
  roleSyncUrl: string | null;
  roleSyncSecret: string | null;
}

/** Reads the two entries from vault.decrypted_secrets. */
export async function fetchVaultFacts(sql: Sql): Promise<Probe<VaultFacts>> {
  try {
    const rows = await sql<{ name: string; value: string | null }[]>`
      select name, decrypted_secret as value from vault.decrypted_secrets
      where name in ('role_sync_url', 'role_sync_secret')`;
    const value = (name: string) => rows.find((row) => row.name === name)?.value || null;
    return answered({
      roleSyncUrl: value("role_sync_url"),
      roleSyncSecret: value("role_sync_secret"),
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? null;
    return refused(null, code, error instanceof Error ? error.message : String(error));
  }
}

const ROLE_SYNC_PATH = "/functions/v1/role-sync";

function setSecret(name: string, value: string): string {
  return `run in the SQL editor: select vault.create_secret('${value}', '${name}'); ` +
    `(or vault.update_secret when it exists; or [db.vault] in supabase/config.toml)`;
}

/** Judges the Vault entries against the functions' configuration. */
export function checkVault(
  facts: Probe<VaultFacts>,
  expected: { supabaseUrl?: string; roleSyncSecret?: string },
): Finding[] {
  if (!facts.ok) {
    return [fail(
      "vault.role_sync",
      `Cannot read Vault: ${facts.error}`,
      "connect as the postgres user (DATABASE_URL), and make sure supabase_vault is enabled",
    )];
  }
  const expectedUrl = expected.supabaseUrl
    ? `${expected.supabaseUrl.replace(/\/+$/, "")}${ROLE_SYNC_PATH}`
    : `https://<project-ref>.supabase.co${ROLE_SYNC_PATH}`;
  const findings: Finding[] = [];
  const { roleSyncUrl, roleSyncSecret } = facts.value;
  if (!roleSyncUrl) {
    findings.push(fail(
      "vault.role_sync",
      "Vault has no role_sync_url: the database cannot wake role-sync, so no role is granted",
      setSecret("role_sync_url", expectedUrl),
    ));
  } else {
    let url: URL | null = null;
    try {
      url = new URL(roleSyncUrl);
    } catch {
      url = null;
    }
    if (!url || !/^https?:$/.test(url.protocol) || !url.pathname.endsWith(ROLE_SYNC_PATH)) {
      findings.push(fail(
        "vault.role_sync",
        `Vault's role_sync_url (${roleSyncUrl}) is not the role-sync function's URL`,
        `set it to ${expectedUrl}`,
      ));
    } else if (expected.supabaseUrl && new URL(expected.supabaseUrl).host !== url.host) {
      findings.push(warn(
        "vault.role_sync",
        `Vault's role_sync_url (${roleSyncUrl}) is on another host than SUPABASE_URL`,
        `fine under \`supabase start\`, where the database reaches functions through Docker's ` +
          `network; in production set it to ${expectedUrl}`,
      ));
    }
  }
  if (!roleSyncSecret) {
    findings.push(fail(
      "vault.role_sync",
      "Vault has no role_sync_secret: role-sync would refuse the database's calls",
      setSecret("role_sync_secret", "<the value of ROLE_SYNC_SECRET>"),
    ));
  } else if (expected.roleSyncSecret && roleSyncSecret !== expected.roleSyncSecret) {
    findings.push(fail(
      "vault.role_sync",
      "Vault's role_sync_secret differs from ROLE_SYNC_SECRET: role-sync would refuse the " +
        "database's calls",
      "set both to the same value (supabase secrets set ROLE_SYNC_SECRET=...; " +
        "vault.update_secret for role_sync_secret)",
    ));
  }
  if (!findings.some((finding) => finding.status === "fail")) {
    findings.unshift(pass(
      "vault.role_sync",
      `Vault holds role_sync_url (${roleSyncUrl}) and the matching role_sync_secret`,
    ));
  }
  return findings;
}

/**
 * A guild's own Customer Portal configuration (`guilds.stripe_portal_configuration_id`, saved by
 * `deno task plans:apply`): the portal opens with it, so a member switches only between the
 * guild's own prices even when several guilds sell on one Stripe account.
 */
import type postgres from "postgres";
import { z } from "zod";

const row = z.object({ stripe_portal_configuration_id: z.string().nullable() });

/** The guild's configuration id, or null while it has none (the account's default serves). */
export async function findGuildPortalConfigurationId(
  sql: postgres.Sql | postgres.TransactionSql,
  guildId: string,
): Promise<string | null> {
  const [found] = await sql`
    select stripe_portal_configuration_id from rolepass.guilds where id = ${guildId}`;
  return found ? row.parse(found).stripe_portal_configuration_id : null;
}

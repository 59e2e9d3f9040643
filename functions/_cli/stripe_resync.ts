/**
 * `deno task stripe:resync -- --guild <id>` re-reads every membership of a guild from Stripe
 * through the webhook's own path and lock, so it can run while webhooks arrive. The hourly Events
 * catch-up covers Stripe's 30 days of events; this covers anything older (a cursor that fell
 * behind, an account moved, a database restored from a backup).
 *
 * Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL and DATABASE_URL (or SUPABASE_DB_URL) from the
 * environment or the project's `.env`.
 */
import { discordIdSchema } from "../_core/discord_id.ts";
import { createSql } from "../_shared/db.ts";
import { parseEnv, requireDatabaseUrl } from "../_shared/env.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import { createLogger } from "../_shared/log.ts";
import { connectStripe, stripeTaskEnv } from "../_shared/stripe_gateway.ts";
import { resyncGuildSubscriptions } from "../role-sync/reconciliation_stripe.ts";
import type { TaskOutput } from "./close.ts";
import { runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

/** The command line of `deno task stripe:resync`. */
export const STRIPE_RESYNC_TASK: TaskDefinition = {
  name: "stripe:resync",
  help: `Usage: deno task stripe:resync -- --guild <guild id>

Re-reads every member of the guild from Stripe and corrects their membership and role, the same
way a webhook does. Safe while webhooks arrive; running it twice changes nothing more.

Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, DATABASE_URL (or SUPABASE_DB_URL) from the
environment or .env.`,
  flags: { guild: { type: "string" } },
};

/** The task's body; returns the exit code (1 when a member could not be read from Stripe). */
export async function runStripeResync(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  output: TaskOutput,
): Promise<number> {
  const guild = discordIdSchema.safeParse(flags.guild);
  if (!guild.success) {
    output.error("stripe:resync: --guild must be a Discord server id (17 to 20 digits)");
    return USAGE_EXIT_CODE;
  }
  const config = parseEnv(stripeTaskEnv, env);
  const sql = createSql(requireDatabaseUrl(env), { max: 2 });
  try {
    const summary = await resyncGuildSubscriptions({
      sql,
      stripe: connectStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE_URL),
      now: () => new Date(),
      logger: createLogger("stripe:resync"),
      stripeMode: stripeModeFrom(env),
    }, guild.data);
    output.out(
      `guild ${guild.data}: ${summary.checked} member(s) re-read from Stripe, ` +
        `${summary.changed} corrected, ${summary.withoutSubscription} without a subscription ` +
        `to a plan of this guild.`,
    );
    for (const failure of summary.failed) {
      output.error(`membership ${failure.membershipId}: ${failure.error}`);
    }
    if (summary.failed.length) {
      output.error("Some members could not be read from Stripe: run the command again.");
      return 1;
    }
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(STRIPE_RESYNC_TASK, ({ args, env }) =>
    runStripeResync(args.flags, env.values, {
      out: (text) => console.log(text),
      error: (text) => console.error(text),
    }));
}

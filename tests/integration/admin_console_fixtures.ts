/**
 * The world of the `/rolepass resync` and `health` tests: the real migrated database, the Stripe
 * double (a guild, a plan, members who went to Checkout), the Discord double (checking every
 * request against Discord's OpenAPI description) holding the same guild and role, the signed
 * interactions endpoint and role-sync, both built through their production config path.
 */
import { createApp as createRoleSyncApp } from "../../functions/role-sync/app.ts";
import {
  depsFromConfig,
  type RoleSyncConfig,
  type RoleSyncTuning,
} from "../../functions/role-sync/config.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { type DiscordDouble, startDiscordDouble } from "../doubles/discord.ts";
import { assertEquals } from "../harness/assert.ts";
import {
  buildApp,
  createDiscordSigner,
  type DiscordSigner,
  postSigned,
  subscribeInteraction,
} from "./interactions_fixtures.ts";
import { BOT_TOKEN, configureVault, ROLE_SYNC_SECRET } from "./role_sync_fixtures.ts";
import { startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

/** Manage Server (0x20). */
export const MANAGE_GUILD = "32";
/**
 * Send Messages and Use Application Commands: what a member holds when a server admin lets
 * everyone run `/rolepass` through Integrations > command permissions.
 */
export const EVERYONE_OVERRIDE = String((1n << 11n) | (1n << 31n));
/** The operator who runs the commands. */
export const OPERATOR_ID = "210000000000000001";

/** What the console tests work with. */
export interface ConsoleWorld {
  stripe: WebhookWorld;
  discord: DiscordDouble;
  signer: DiscordSigner;
  guildId: string;
  roleId: string;
  /** The log channel of the guild. */
  logChannelId: string;
  interactions: ReturnType<typeof buildApp>;
  roleSync: ReturnType<typeof createRoleSyncApp>;
  roleSyncDeps: ReturnType<typeof depsFromConfig>;
  /** Sends `/rolepass <subcommand>` signed; returns the HTTP status and the reply. */
  run(subcommand: string, options?: RunOptions): Promise<{ status: number; reply: Reply }>;
  /** Wakes role-sync's `/admin-requests` as the database webhook does. */
  wakeAdminRequests(): Promise<Record<string, unknown>>;
  /** Wakes role-sync's `/health-checks` as pg_cron does. */
  wakeHealthChecks(): Promise<Record<string, unknown>>;
  /** Drains role jobs and notices until none is open. */
  settle(): Promise<void>;
}

/** What a `/rolepass` interaction varies in. */
export interface RunOptions {
  member?: string;
  /** The roles Discord resolves for the member option (`data.resolved.members`). */
  memberRoles?: string[];
  permissions?: string;
  guildId?: string | null;
  locale?: string;
  token?: string;
}

/** An interaction response as the endpoint answers it. */
export interface Reply {
  type: number;
  data?: { content?: string; flags?: number };
}

/** Runs `fn` in a fresh world, with Stripe reachable from role-sync. */
export async function withConsoleWorld(
  fn: (world: ConsoleWorld) => Promise<void>,
  options: {
    stripeKey?: boolean;
    tuning?: RoleSyncTuning;
    /** Configuration role-sync adds (platform mode, PUBLIC_SITE_URL). */
    config?: Partial<RoleSyncConfig>;
  } = {},
): Promise<void> {
  const stripe = await startWebhookWorld();
  const discord = await startDiscordDouble({ botToken: BOT_TOKEN });
  const signer = await createDiscordSigner();
  const interactions = buildApp(stripe.db.url, signer.publicKeyHex, {
    DISCORD_APPLICATION_ID: discord.applicationId,
  });
  try {
    discord.addGuild({ id: stripe.guildId, botRolePosition: 10 });
    discord.addRole(stripe.guildId, { id: stripe.plan.roleId, name: "Supporter", position: 5 });
    const logChannelId = discord.addChannel(stripe.guildId, { name: "rolepass-log" }).id;
    await stripe.db.sql`update rolepass.guilds set operator_log_channel_id = ${logChannelId}
      where id = ${stripe.guildId}`;
    await configureVault(stripe.db.sql, "http://localhost/functions/v1/role-sync");
    const roleSyncDeps = depsFromConfig(
      {
        secret: ROLE_SYNC_SECRET,
        botToken: BOT_TOKEN,
        applicationId: discord.applicationId,
        discordApiBaseUrl: discord.apiBaseUrl,
        databaseUrl: stripe.db.url,
        ...(options.stripeKey === false
          ? {}
          : { stripe: { secretKey: "sk_test_rolepass", apiBaseUrl: stripe.stripeDouble.url } }),
        ...options.config,
      },
      {
        runInBackground: undefined,
        discordTimeoutMs: 2_000,
        retryPolicy: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
        ...options.tuning,
      },
      stripe.appSql,
    );
    const roleSync = createRoleSyncApp(roleSyncDeps);
    const wake = async (route: string) => {
      const response = await roleSync.request(`/role-sync/${route}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-rolepass-secret": ROLE_SYNC_SECRET },
        body: "{}",
      });
      const body = await response.json();
      assertEquals(response.status, 200, JSON.stringify(body));
      return body;
    };
    const world: ConsoleWorld = {
      stripe,
      discord,
      signer,
      guildId: stripe.guildId,
      roleId: stripe.plan.roleId,
      logChannelId,
      interactions,
      roleSync,
      roleSyncDeps,
      async run(subcommand, runOptions = {}) {
        const token = runOptions.token ?? `admin-token-${crypto.randomUUID()}`;
        const guildId = runOptions.guildId === undefined ? stripe.guildId : runOptions.guildId;
        discord.registerInteraction(token, { guildId: guildId ?? undefined, responded: true });
        const body = await subscribeInteraction({
          commandName: "rolepass",
          guildId,
          memberId: OPERATOR_ID,
          applicationId: discord.applicationId,
          token,
          locale: runOptions.locale,
        });
        const data = body.data as Record<string, unknown>;
        data.options = [{
          type: 1,
          name: subcommand,
          ...(runOptions.member
            ? { options: [{ type: 6, name: "member", value: runOptions.member }] }
            : {}),
        }];
        if (runOptions.member && runOptions.memberRoles) {
          data.resolved = {
            users: { [runOptions.member]: { id: runOptions.member, username: "member" } },
            members: { [runOptions.member]: { roles: runOptions.memberRoles } },
          };
        }
        const member = body.member as Record<string, unknown> | undefined;
        if (member) member.permissions = runOptions.permissions ?? MANAGE_GUILD;
        const response = await postSigned(interactions.app, signer, body);
        return { status: response.status, reply: await response.json() };
      },
      wakeAdminRequests: () => wake("admin-requests"),
      wakeHealthChecks: () => wake("health-checks"),
      async settle() {
        for (let round = 0; round < 200; round++) {
          await drainRoleJobs(roleSyncDeps, Date.now() + 10_000);
          const [row] = await stripe.db.sql<{ open: number }[]>`
            select (select count(*) from rolepass.role_jobs
              where status in ('pending', 'running'))::int
              + (select count(*) from rolepass.notices
                where status in ('pending', 'running'))::int as open`;
          if (row?.open === 0) return;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        throw new Error("role jobs and notices did not settle");
      },
    };
    await fn(world);
  } finally {
    await interactions.sql.end({ timeout: 5 });
    await discord.close();
    await stripe.close();
  }
}

/** The admin_requests rows, as tests read them. */
export async function adminRequests(world: ConsoleWorld) {
  const rows = await world.stripe.db.sql<
    {
      kind: string;
      status: string;
      member_id: string | null;
      interaction_token: string | null;
      last_error: string | null;
    }[]
  >`select kind, status, member_id, interaction_token, last_error
    from rolepass.admin_requests order by id`;
  return [...rows];
}

/**
 * The Connect endpoint, `POST /stripe-webhook/connect` (platform mode only): events of the guilds'
 * connected accounts, each carrying `account`, signed with the Connect endpoint's own secret. The
 * same rules as the platform endpoint: the signature header is checked before the body is read,
 * the body is capped, a replay is a no-op (rolepass.stripe_events), and the state applied is
 * re-read from Stripe, on the account the event came from, and written under that account's lock.
 * An event of an account no guild owns is recorded as ignored and changes nothing.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type StripeEventEnvelope, stripeEventEnvelope } from "../_core/stripe_shapes.ts";
import { type SellerStanding, sellerStanding } from "../_core/connect.ts";
import { readCappedBody } from "../_shared/body_cap.ts";
import type { Sql } from "../_shared/db.ts";
import {
  applyConnectedAccountRead,
  guildOfConnectedAccount,
  startStripeRead,
} from "../_shared/guild_stripe_accounts.ts";
import type { RequestContextEnv } from "../_shared/http/request_context.ts";
import type { Logger } from "../_shared/log.ts";
import {
  claimEvent,
  isEventDone,
  markIgnoredInTransaction,
  recordIgnored,
} from "../_shared/stripe_event_ledger.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";
import { settleFailedEvent } from "./event_failures.ts";
import { checkSignatureHeader } from "./signature_header.ts";

/** The Connect event types rolepass acts on: the account's state. */
const ACCOUNT_UPDATED = "account.updated";

/** What the Connect endpoint needs. */
export interface ConnectWebhookDeps {
  sql: Sql;
  /** The platform's gateway: a connected account is read with the platform's key. */
  stripe: StripeGateway;
  /** The Connect endpoint's signing secrets (whsec_...); any one may match. */
  connectWebhookSecrets: string[];
  livemode: boolean;
  now: () => Date;
  logger: Logger;
}

/** What happened to a Connect event; the HTTP answer reports it. */
export type ConnectEventOutcome =
  | { status: "applied"; guildId: string; standing: SellerStanding }
  | { status: "duplicate" }
  | { status: "ignored"; why: string };

/**
 * The routes under `/stripe-webhook/connect`.
 *
 * @param signatureToleranceSeconds and `maxBodyBytes`: the platform endpoint's own limits.
 */
export function createConnectWebhookApp(
  deps: ConnectWebhookDeps,
  limits: { signatureToleranceSeconds: number; maxBodyBytes: number },
): Hono<RequestContextEnv> {
  const app = new Hono<RequestContextEnv>();
  app.post("/", async (c) => {
    const now = deps.now();
    const signature = c.req.header("stripe-signature");
    const header = checkSignatureHeader(signature, now, limits.signatureToleranceSeconds);
    if (!header.ok || !signature) {
      throw new HTTPException(400, {
        message: `Cannot verify Stripe signature: ${
          header.ok ? "header is missing" : header.problem
        }`,
      });
    }
    const body = await readCappedBody(c.req.raw, limits.maxBodyBytes);
    if (!body.ok) {
      throw new HTTPException(413, {
        message: "Cannot read the Stripe event: the body is larger than the cap",
      });
    }
    const rawBody = new TextDecoder().decode(body.bytes);
    const envelope = await verifyConnectEvent(deps, rawBody, signature, now, limits);
    const log = c.var.log.child({ eventId: envelope.id, eventType: envelope.type });
    const outcome = await processConnectEvent(deps, envelope, log);
    log.info("Stripe Connect event handled", { ...outcome, account: envelope.account });
    return c.json({ received: true, ...outcome });
  });
  return app;
}

async function verifyConnectEvent(
  deps: ConnectWebhookDeps,
  rawBody: string,
  signature: string,
  now: Date,
  limits: { signatureToleranceSeconds: number },
): Promise<StripeEventEnvelope> {
  let lastProblem = "no Connect signing secret configured";
  for (const secret of deps.connectWebhookSecrets) {
    let event: unknown;
    try {
      event = await deps.stripe.verifyEvent(
        rawBody,
        signature,
        secret,
        limits.signatureToleranceSeconds,
        now,
      );
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new HTTPException(400, { message: "Cannot read the Stripe event: it is not JSON" });
      }
      lastProblem = error instanceof Error ? error.message : String(error);
      continue;
    }
    const envelope = stripeEventEnvelope.safeParse(event);
    if (!envelope.success) {
      throw new HTTPException(400, {
        message: `Cannot read the Stripe event: ${envelope.error.issues[0]?.message}`,
      });
    }
    return envelope.data;
  }
  throw new HTTPException(400, { message: `Cannot verify Stripe signature: ${lastProblem}` });
}

/**
 * Processes one verified Connect event. Throws on dependency failures (the caller answers 500
 * and Stripe retries); everything rolepass does not act on is recorded as ignored, with why.
 */
export async function processConnectEvent(
  deps: ConnectWebhookDeps,
  envelope: StripeEventEnvelope,
  logger: Logger,
): Promise<ConnectEventOutcome> {
  const accountId = envelope.account;
  const skip = accountId === null
    ? "event of the platform's own account sent to the Connect endpoint"
    : envelope.livemode !== deps.livemode
    ? (envelope.livemode
      ? "live-mode event, but the Stripe key is a test-mode key"
      : "test-mode event, but the Stripe key is a live-mode key")
    : envelope.type !== ACCOUNT_UPDATED
    ? `event type ${envelope.type} is not handled on the Connect endpoint`
    : null;
  if (await isEventDone(deps.sql, envelope.id)) return { status: "duplicate" };
  if (skip !== null || accountId === null) {
    const why = skip ?? "event without an account";
    await recordIgnored(deps.sql, envelope, why);
    return { status: "ignored", why };
  }
  // Checked before Stripe is asked anything: an account of no guild is never read.
  if (await guildOfConnectedAccount(deps.sql, accountId) === null) {
    const why = `account ${accountId} belongs to no guild`;
    await recordIgnored(deps.sql, envelope, why);
    return { status: "ignored", why };
  }
  try {
    const readSeq = await startStripeRead(deps.sql);
    const facts = await deps.stripe.retrieveConnectedAccount(accountId);
    if (facts.accountId !== accountId) {
      throw new Error(`Stripe answered account ${facts.accountId} for ${accountId}`);
    }
    const applied = await deps.sql.begin(async (tx) => {
      const lock = tx`pg_advisory_xact_lock(hashtextextended(${"stripe_account:" + accountId}, 0))`;
      if (!await claimEvent(tx, envelope, lock)) return { status: "duplicate" } as const;
      const guildId = await applyConnectedAccountRead(tx, facts, readSeq);
      if (guildId === null) {
        const why = `account ${accountId} belongs to no guild`;
        await markIgnoredInTransaction(tx, envelope.id, why);
        return { status: "ignored", why } as const;
      }
      return { status: "applied", guildId, standing: sellerStanding(facts) } as const;
    });
    return applied;
  } catch (error) {
    return await settleFailedEvent(deps.sql, envelope, error, logger, {
      whyMissing: () => `Stripe has no account ${accountId}`,
      failed: "Stripe Connect event failed; Stripe will retry it",
    });
  }
}

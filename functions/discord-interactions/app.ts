/**
 * The `discord-interactions` function: Discord's interactions endpoint. Every request's Ed25519
 * signature is checked over the raw body before anything else, and its timestamp against the
 * clock; PING gets PONG; `/subscribe` gets an ephemeral reply with a private link, once per
 * interaction. No Stripe code is loaded here.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { InteractionResponseType, InteractionType } from "discord-api-types/v10";
import { ADMIN_COMMAND_NAME, SUBSCRIBE_COMMAND_NAME } from "../_core/commands.ts";
import { newLinkToken } from "../_core/link_token.ts";
import { localeFromDiscord } from "../_core/locale.ts";
import { unknownCommandReply, unsupportedInteractionReply } from "../_core/messages/subscribe.ts";
import { errorHandler } from "../_shared/http/error_handler.ts";
import { requestContext, type RequestContextEnv } from "../_shared/http/request_context.ts";
import { createLogger, type Logger } from "../_shared/log.ts";
import { type AdminCommandDeps, answerAdmin } from "./admin.ts";
import type { AdminStore } from "./admin_store.ts";
import { type Interaction, interactionSchema } from "./interaction.ts";
import { isFreshSignatureTimestamp, type SignatureVerifier } from "./signature.ts";
import { answerSubscribe } from "./subscribe.ts";
import type { SubscribeLinkStore } from "./subscribe_links.ts";

/** The function's name: Supabase passes requests to it under `/<name>/...`. */
export const FUNCTION_NAME = "discord-interactions";

/** Everything the app needs, built by `depsFromConfig` or by a test. */
export interface InteractionsDeps {
  verifySignature: SignatureVerifier;
  subscribeLinks: SubscribeLinkStore;
  adminStore: AdminStore;
  /** Whether STRIPE_SECRET_KEY is a test key (Stripe Dashboard links of `/rolepass`). */
  stripeTestMode: boolean;
  /** What `/rolepass drift` needs: the dry reconciliation, its follow-up, the background. */
  readDrift?: AdminCommandDeps["readDrift"];
  followUp?: AdminCommandDeps["followUp"];
  runInBackground?: AdminCommandDeps["runInBackground"];
  /** DISCORD_APPLICATION_ID: interactions for another application are refused. */
  applicationId: string;
  /** PUBLIC_SITE_URL without a trailing slash. */
  publicSiteUrl: string;
  linkTokenTtlSeconds: number;
  /** Defaults to the CSPRNG token of `_core/link_token.ts`. */
  newLinkToken?: () => string;
  /** The clock signature timestamps are held against; defaults to the system clock. */
  now?: () => Date;
  logger?: Logger;
}

type Env = {
  Variables: RequestContextEnv["Variables"] & {
    signatureHeaders: { signature: string; timestamp: string };
    rawBody: Uint8Array;
  };
};

/** Discord's interaction bodies are a few kilobytes; anything far larger is not from Discord. */
const MAX_BODY_BYTES = 256 * 1024;

/** Builds the Hono app for `deps`. */
export function createApp(deps: InteractionsDeps): Hono<Env> {
  const now = deps.now ?? (() => new Date());
  const commandDeps = {
    subscribeLinks: deps.subscribeLinks,
    publicSiteUrl: deps.publicSiteUrl,
    linkTokenTtlSeconds: deps.linkTokenTtlSeconds,
    newLinkToken: deps.newLinkToken ?? (() => newLinkToken()),
  };
  const adminDeps: AdminCommandDeps = {
    adminStore: deps.adminStore,
    stripeTestMode: deps.stripeTestMode,
    now,
    readDrift: deps.readDrift,
    followUp: deps.followUp,
    runInBackground: deps.runInBackground,
    applicationId: deps.applicationId,
  };
  // An endpoint URL pasted with a trailing slash still works: Discord's check of the URL would
  // otherwise fail with nothing to say why.
  const app = new Hono<Env>({ strict: false }).basePath(`/${FUNCTION_NAME}`);

  app.use(requestContext(deps.logger ?? createLogger(FUNCTION_NAME)));
  app.onError(errorHandler());

  app.notFound((c) => c.json({ error: "Not found" }, 404));

  app.post(
    "/",
    // The headers are checked before a byte of the body is read: a request that cannot be a fresh
    // signed interaction costs nothing to refuse, whatever it carries.
    async (c, next) => {
      const signature = c.req.header("x-signature-ed25519");
      const timestamp = c.req.header("x-signature-timestamp");
      if (!signature || !timestamp) {
        throw new HTTPException(401, {
          message: "Cannot verify interaction: signature is missing",
        });
      }
      if (!isFreshSignatureTimestamp(timestamp, now())) {
        throw new HTTPException(401, {
          message: "Cannot verify interaction: timestamp is outside the accepted window",
        });
      }
      c.set("signatureHeaders", { signature, timestamp });
      await next();
    },
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new HTTPException(413, { message: "Cannot accept interaction: body is too large" });
      },
    }),
    async (c, next) => {
      const { signature, timestamp } = c.var.signatureHeaders;
      const rawBody = new Uint8Array(await c.req.arrayBuffer());
      if (!(await deps.verifySignature(rawBody, signature, timestamp))) {
        throw new HTTPException(401, {
          message: "Cannot verify interaction: signature is invalid",
        });
      }
      c.set("rawBody", rawBody);
      await next();
    },
    async (c) => {
      const interaction = parseInteraction(c.var.rawBody);
      const log = c.var.log.child({ interactionId: interaction.id, type: interaction.type });
      const locale = localeFromDiscord(interaction.locale ?? interaction.guild_locale);
      switch (interaction.type) {
        case InteractionType.Ping:
          return c.json({ type: InteractionResponseType.Pong });
        case InteractionType.ApplicationCommand: {
          if (interaction.application_id !== deps.applicationId) {
            log.error("interaction is for another application: check DISCORD_APPLICATION_ID");
            throw new HTTPException(400, {
              message: "Cannot answer interaction: it is for another application",
            });
          }
          if (interaction.data?.name === ADMIN_COMMAND_NAME) {
            return c.json(await answerAdmin(adminDeps, interaction, locale, log));
          }
          if (interaction.data?.name !== SUBSCRIBE_COMMAND_NAME) {
            log.warn("unknown command", { command: interaction.data?.name });
            return c.json(unknownCommandReply(locale));
          }
          const answer = await answerSubscribe(
            commandDeps,
            interaction,
            deps.applicationId,
            locale,
            log,
          );
          if (!answer.ok) {
            // Discord never sends an interaction twice, so a repeat comes from whoever captured
            // the signed request: it gets a refusal, not a reply meant for the member.
            throw new HTTPException(409, {
              message: "Cannot answer interaction: it was already handled",
            });
          }
          return c.json(answer.reply);
        }
        case InteractionType.ApplicationCommandAutocomplete:
          // No command has options, so there is nothing to suggest.
          return c.json({
            type: InteractionResponseType.ApplicationCommandAutocompleteResult,
            data: { choices: [] },
          });
        case InteractionType.MessageComponent:
        case InteractionType.ModalSubmit:
          // Link buttons never reach the app; any other component is not ours any more.
          return c.json(unsupportedInteractionReply(locale));
        default:
          throw new HTTPException(400, {
            message: `Cannot answer interaction: unknown type ${interaction.type}`,
          });
      }
    },
  );

  return app;
}

function parseInteraction(rawBody: Uint8Array): Interaction {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(rawBody));
  } catch {
    throw new HTTPException(400, { message: "Cannot read interaction: body is not JSON" });
  }
  const parsed = interactionSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((issue) => issue.path.join(".") || "body").join(", ");
    throw new HTTPException(400, { message: `Cannot read interaction: invalid ${where}` });
  }
  return parsed.data;
}

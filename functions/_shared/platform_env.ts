/**
 * The platform-mode variables, parsed the same way by every function and task that reads them:
 * `ROLEPASS_STRIPE_MODE` (standalone by default) and, for the webhook in platform mode, the Connect
 * endpoint's signing secret.
 */
import { type StripeMode, stripeModeSchema } from "../_core/connect.ts";
import { ConfigError, parseEnv, variableSchemas } from "./env.ts";

const shape = {
  ROLEPASS_STRIPE_MODE: stripeModeSchema.default("standalone").describe(
    "standalone (one Stripe account, the default) or platform (each guild sells through its own " +
      "Stripe Connect Express account)",
  ),
  STRIPE_CONNECT_WEBHOOK_SECRET: variableSchemas.STRIPE_WEBHOOK_SECRET.optional().describe(
    "the Connect endpoint's signing secret(s) (Dashboard > Developers > Webhooks, an endpoint " +
      "listening to connected accounts, URL .../stripe-webhook/connect)",
  ),
};

/** The mode of the deployment. */
export function stripeModeFrom(env: Record<string, string | undefined>): StripeMode {
  return parseEnv({ ROLEPASS_STRIPE_MODE: shape.ROLEPASS_STRIPE_MODE }, env).ROLEPASS_STRIPE_MODE;
}

/** The webhook's platform settings: the mode and, in platform mode, the Connect secrets. */
export type WebhookPlatformConfig =
  | { mode: "standalone" }
  | { mode: "platform"; connectWebhookSecrets: string[] };

/** Parses the webhook's platform settings; platform mode needs the Connect endpoint's secret. */
export function webhookPlatformConfigFrom(
  env: Record<string, string | undefined>,
): WebhookPlatformConfig {
  const parsed = parseEnv(shape, env);
  if (parsed.ROLEPASS_STRIPE_MODE === "standalone") return { mode: "standalone" };
  if (!parsed.STRIPE_CONNECT_WEBHOOK_SECRET) {
    throw new ConfigError([
      `STRIPE_CONNECT_WEBHOOK_SECRET is missing: ${shape.STRIPE_CONNECT_WEBHOOK_SECRET.description}`,
    ]);
  }
  return { mode: "platform", connectWebhookSecrets: parsed.STRIPE_CONNECT_WEBHOOK_SECRET };
}

/**
 * The Stripe API test double: an in-memory Stripe account served over HTTP for integration tests,
 * benchmarks and the dev runner's local sandbox. See README.md.
 *
 * @module
 */
export {
  startStripeDouble,
  STRIPE_DOUBLE_API_VERSION,
  type StripeDouble,
  type StripeDoubleOptions,
} from "./server.ts";
export { StripeDoubleControl } from "./control.ts";
export type {
  CreatePriceOptions,
  CreateWebhookEndpointOptions,
  PaymentOutcome,
} from "./billing.ts";
export type { DeliverOptions, DeliveryAttempt } from "./events.ts";
export { eventBody, signPayload } from "./events.ts";
export type { FaultRule, FaultRuleJson } from "./faults.ts";
export type { LoggedRequest, RequestFilter } from "./request_log.ts";
export type { BillingModeType } from "./state.ts";

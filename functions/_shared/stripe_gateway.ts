/**
 * The one module that talks to Stripe: it configures the SDK (the pinned API version, the fetch
 * HTTP client Deno needs, the base URL that tests and the local sandbox point at the Stripe double)
 * and turns what Stripe answers into the core's types, parsed once here.
 */
import Stripe from "stripe";
import { z } from "zod";
import { variableSchemas } from "./env.ts";
import {
  type CheckoutDestination,
  type CheckoutSessionRequest,
  type CheckoutSessionState,
  clientReferenceId,
  memberMetadata,
  type MemberRef,
  type OpenedSession,
  type PortalSessionRequest,
  stripeCheckoutSessionState,
} from "../_core/checkout_session.ts";
import {
  type ConnectedAccountFacts,
  type MoneyDestination,
  stripeConnectedAccount,
} from "../_core/connect.ts";
import type { Locale } from "../_core/locale.ts";
import type { CheckoutTrial } from "../_core/trial.ts";
import {
  type ChargeContext,
  type MoneyInvoice,
  stripeEndedSubscription,
  stripeMoneyDispute,
  stripeMoneyInvoice,
  stripeMoneyRefund,
} from "../_core/ledger.ts";
import { type PassPayment, stripeCheckoutPayment } from "../_core/one_time_pass.ts";
import { type StripePriceFacts } from "../_core/plans_file.ts";
import { billingIntervalSchema } from "../_core/price.ts";
import {
  type ChargeSnapshot,
  stripeCharge,
  stripeEventEnvelope,
  stripeInvoice,
  stripeSubscription,
  type SubscriptionSnapshot,
} from "../_core/stripe_shapes.ts";

/**
 * The Stripe API version every request and every webhook endpoint of rolepass uses.
 * Events carry the account's version, so the webhook code also reads older shapes.
 */
export const STRIPE_API_VERSION = "2026-07-29.dahlia" as const;

/** Default for STRIPE_API_BASE_URL. */
export const STRIPE_DEFAULT_BASE_URL = "https://api.stripe.com";

/** What a task that calls Stripe reads from the environment: the key, and the API it talks to. */
export const stripeTaskEnv = {
  STRIPE_SECRET_KEY: variableSchemas.STRIPE_SECRET_KEY
    .describe("Stripe Dashboard → Developers → API keys → Secret key"),
  STRIPE_API_BASE_URL: variableSchemas.STRIPE_API_BASE_URL.default(STRIPE_DEFAULT_BASE_URL)
    .describe("leave unset for Stripe itself"),
};

/** How long one request may take and how often the SDK retries it on a network error. */
export interface StripeClientOptions {
  timeoutMs?: number;
  maxNetworkRetries?: number;
}

/**
 * Creates a Stripe SDK client for `secretKey` talking to `apiBaseUrl`. Product code reaches Stripe
 * through {@linkcode connectStripe}; the client is for tests that drive the Stripe double.
 */
export function createStripeClient(
  secretKey: string,
  apiBaseUrl: string = STRIPE_DEFAULT_BASE_URL,
  options: StripeClientOptions = {},
): Stripe {
  const base = new URL(apiBaseUrl);
  const protocol = base.protocol === "http:" ? "http" : "https";
  return new Stripe(secretKey, {
    // deno-lint-ignore no-explicit-any
    apiVersion: STRIPE_API_VERSION as any,
    httpClient: Stripe.createFetchHttpClient(),
    host: base.hostname,
    port: base.port || (protocol === "http" ? 80 : 443),
    protocol,
    timeout: options.timeoutMs ?? 10_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 1,
    appInfo: { name: "rolepass" },
    // The SDK otherwise sends the previous request's latency to Stripe on every request; building
    // that header costs the webhook's re-fetch, which runs under the customer's lock, for nothing.
    telemetry: false,
  });
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The gateway for `secretKey` talking to `apiBaseUrl` (STRIPE_API_BASE_URL). */
export function connectStripe(
  secretKey: string,
  apiBaseUrl: string = STRIPE_DEFAULT_BASE_URL,
  options: StripeClientOptions = {},
): StripeGateway {
  return createStripeGateway(createStripeClient(secretKey, apiBaseUrl, options));
}

/** What Stripe said when it refused a request. */
export interface StripeRefusal {
  /** The HTTP status; null when Stripe was never reached. */
  status: number | null;
  /** Stripe's error code, e.g. `resource_missing`. */
  code: string | null;
  /** The SDK's error class, e.g. `StripeAuthenticationError`. */
  type: string;
  message: string;
}

/** Stripe's refusal carried by `error`, or null for any other error. */
export function stripeRefusalOf(error: unknown): StripeRefusal | null {
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  return {
    status: error.statusCode ?? null,
    code: error.code ?? null,
    type: error.type,
    message: error.message,
  };
}

/** Whether `error` is Stripe saying the object asked for does not exist (a permanent answer). */
export function isMissingStripeObject(error: unknown): boolean {
  return stripeRefusalOf(error)?.code === "resource_missing";
}

/** Thrown when Stripe answers a hosted session without a URL (Stripe never does). */
export class StripeAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StripeAnswerError";
  }
}

/** A failed Stripe call as the checkout function answers and logs it. */
export interface StripeCallFailure {
  /** Stripe refused an idempotency key reused with other parameters. */
  idempotencyKeyReused: boolean;
  /** What Stripe said, for the log; null when Stripe's answer itself was unusable. */
  refusal: {
    type: string;
    code: string | undefined;
    stripeRequestId: string | undefined;
    status: number | undefined;
  } | null;
}

/** The Stripe failure `error` is, or null for any other error. */
export function stripeCallFailureOf(error: unknown): StripeCallFailure | null {
  if (error instanceof StripeAnswerError) return { idempotencyKeyReused: false, refusal: null };
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  return {
    idempotencyKeyReused: error instanceof Stripe.errors.StripeIdempotencyError,
    refusal: {
      type: error.rawType ?? error.type,
      code: error.code,
      stripeRequestId: error.requestId,
      status: error.statusCode,
    },
  };
}

/** A refund as the ledger reads it. */
export type MoneyRefund = z.infer<typeof stripeMoneyRefund>;
/** A dispute as the ledger and the refund and dispute policy read it. */
export type MoneyDispute = z.infer<typeof stripeMoneyDispute>;
/** A subscription that ended, as the ledger reads it. */
export type EndedSubscription = z.infer<typeof stripeEndedSubscription>;

/** The subscription an invoice bills, and the end of the service period it bills for. */
export interface InvoiceBilling {
  subscriptionId: string | null;
  periodEnd: Date | null;
}

const invoiceLines = z.object({
  lines: z.object({
    data: z.array(z.object({
      period: z.object({ end: z.number().int() }).nullable().optional(),
    })),
  }).optional(),
});

/** An event as the Events API lists it: the webhook's envelope and when Stripe created it. */
export const listedStripeEvent = stripeEventEnvelope.extend({ created: z.number().int() });

/** An event listed by {@linkcode StripeGateway.listEvents}. */
export type ListedStripeEvent = z.infer<typeof listedStripeEvent>;

/** One page of {@linkcode StripeGateway.listEvents}, newest first. */
export interface StripeEventPage {
  events: ListedStripeEvent[];
  hasMore: boolean;
}

/** A customer's fields the import reads. */
export interface CustomerFacts {
  id: string;
  metadata: Record<string, string>;
}

const customerSchema = z.object({
  id: z.string(),
  deleted: z.boolean().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
});

const priceSchema: z.ZodType<StripePriceFacts> = z.object({
  id: z.string(),
  active: z.boolean(),
  type: z.enum(["one_time", "recurring"]),
  currency: z.string(),
  unit_amount: z.number().int().nullable(),
  billing_scheme: z.string().optional(),
  tax_behavior: z.enum(["inclusive", "exclusive", "unspecified"]).nullable().optional(),
  recurring: z.object({
    interval: billingIntervalSchema,
    interval_count: z.number().int(),
    usage_type: z.string().optional(),
  }).nullable(),
});

/** A webhook endpoint's fields the doctor judges. */
export const webhookEndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  status: z.string(),
  enabled_events: z.array(z.string()),
  api_version: z.string().nullable().optional().transform((v) => v ?? null),
});

/** A webhook endpoint as {@linkcode StripeGateway.listWebhookEndpoints} gives it. */
export type WebhookEndpointFacts = z.infer<typeof webhookEndpointSchema>;

const enabledFeature = z.object({ enabled: z.boolean() });

/** A Customer Portal configuration's fields the doctor judges. */
export const portalConfigurationSchema = z.object({
  id: z.string(),
  is_default: z.boolean(),
  active: z.boolean(),
  features: z.object({
    subscription_cancel: enabledFeature,
    payment_method_update: enabledFeature,
    // Plan switching: `products` is includable, so the list expands it.
    subscription_update: z.object({
      enabled: z.boolean(),
      proration_behavior: z.string().nullable().catch(null),
      products: z.array(z.object({ product: z.string(), prices: z.array(z.string()) }))
        .nullable().optional().transform((products) => products ?? []),
    }),
  }),
});

/** A Customer Portal configuration as {@linkcode StripeGateway.listPortalConfigurations} gives it. */
export type PortalConfigurationFacts = z.infer<typeof portalConfigurationSchema>;

/** A guild's own Customer Portal configuration, as `plans:apply` saves it. */
export interface GuildPortalConfiguration {
  /** The guild's configuration to update; null to create one. */
  configurationId: string | null;
  guildId: string;
  /** The guild's active subscription prices: the only ones a member may switch between. */
  priceIds: readonly string[];
}

const chargeDestinationSchema = z.object({
  transfer_data: z.object({
    destination: z.union([z.string(), z.object({ id: z.string() })]).nullable(),
  }).nullable().optional(),
  application_fee_amount: z.number().int().nullable().optional(),
});

/** A transfer or an application fee, and what went back: platform mode's money, as Stripe says. */
export interface ConnectMoney {
  id: string;
  accountId: string;
  chargeId: string | null;
  amount: number;
  currency: string;
  created: Date;
  /** Reversals of a transfer, refunds of a fee; a reversal that recovered a dispute names it. */
  returned: { id: string; amount: number; created: Date; disputeId: string | null }[];
}

const idOf = z.union([z.string(), z.object({ id: z.string() })]).transform((value) =>
  typeof value === "string" ? value : value.id
);
const returnedMoney = z.object({
  data: z.array(z.object({
    id: z.string(),
    amount: z.number().int(),
    created: z.number().int(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
  })),
}).transform((list) =>
  list.data.map((item) => ({
    id: item.id,
    amount: item.amount,
    created: new Date(item.created * 1000),
    disputeId: item.metadata?.rolepass_dispute_id ?? null,
  }))
);

/** A Stripe object whose money goes somewhere: what an event of the platform endpoint is about. */
export interface MoneyObject {
  kind: "subscription" | "invoice" | "checkout_session" | "charge" | "refund" | "dispute";
  id: string;
}

const moneyDestinationSchema = z.object({
  customer: idOf.nullable().optional(),
  on_behalf_of: idOf.nullable().optional(),
  transfer_data: z.object({ destination: idOf.nullable() }).nullable().optional(),
}).transform((object): MoneyDestination => ({
  customerId: object.customer ?? null,
  destination: object.transfer_data?.destination ?? null,
  onBehalfOf: object.on_behalf_of ?? null,
}));

/** A dispute and the charge it is about: where the charge's money went, and Stripe's fee. */
export interface DisputedCharge {
  id: string;
  status: string;
  amount: number;
  currency: string;
  /** Stripe's dispute fee, debited with the amount (on the withdrawal's balance transaction). */
  fee: number;
  chargeId: string;
  customerId: string | null;
  /** The connected account the charge paid (transfer_data.destination); null for none. */
  destination: string | null;
  /** The charge's transfer to that account; null for none. */
  transferId: string | null;
}

const disputedChargeSchema = z.object({
  id: z.string(),
  status: z.string(),
  amount: z.number().int().nonnegative(),
  currency: z.string(),
  balance_transactions: z.array(z.object({ fee: z.number().int().optional() })).default([]),
  charge: z.object({
    id: z.string(),
    customer: idOf.nullable(),
    transfer: idOf.nullable().optional(),
    transfer_data: z.object({ destination: idOf.nullable() }).nullable().optional(),
  }),
}).transform((dispute): DisputedCharge => ({
  id: dispute.id,
  status: dispute.status,
  amount: dispute.amount,
  currency: dispute.currency,
  fee: dispute.balance_transactions.reduce((sum, transaction) => sum + (transaction.fee ?? 0), 0),
  chargeId: dispute.charge.id,
  customerId: dispute.charge.customer,
  destination: dispute.charge.transfer_data?.destination ?? null,
  transferId: dispute.charge.transfer ?? null,
}));
const transferMoneySchema = z.object({
  id: z.string(),
  destination: idOf,
  source_transaction: idOf.nullable(),
  amount: z.number().int(),
  currency: z.string(),
  created: z.number().int(),
  reversals: returnedMoney,
}).transform((transfer): ConnectMoney => ({
  id: transfer.id,
  accountId: transfer.destination,
  chargeId: transfer.source_transaction,
  amount: transfer.amount,
  currency: transfer.currency,
  created: new Date(transfer.created * 1000),
  returned: transfer.reversals,
}));
const applicationFeeMoneySchema = z.object({
  id: z.string(),
  account: idOf,
  charge: idOf.nullable(),
  amount: z.number().int(),
  currency: z.string(),
  created: z.number().int(),
  refunds: returnedMoney,
}).transform((fee): ConnectMoney => ({
  id: fee.id,
  accountId: fee.account,
  chargeId: fee.charge,
  amount: fee.amount,
  currency: fee.currency,
  created: new Date(fee.created * 1000),
  returned: fee.refunds,
}));

/** A refund just created. */
export interface CreatedRefund {
  id: string;
  amount: number;
  currency: string;
}

/** Stripe's answers as the core's types; every method is one read or write of Stripe. */
export interface StripeGateway {
  /**
   * Checks `signature` (the Stripe-Signature header) over the raw body with `secret`, at `now`,
   * and returns the parsed event. Throws SyntaxError when the signed body is not JSON, and an
   * Error naming the problem when the signature does not hold.
   */
  verifyEvent(
    rawBody: string,
    signature: string,
    secret: string,
    toleranceSeconds: number,
    now: Date,
  ): Promise<unknown>;
  /** One page of the events of `types` created in [`from`, `before`), after `startingAfter`. */
  listEvents(query: {
    from: Date;
    before: Date;
    types: readonly string[];
    startingAfter: string | null;
  }): Promise<StripeEventPage>;
  /** The customer, or null when Stripe says it was deleted. */
  retrieveCustomer(customerId: string): Promise<CustomerFacts | null>;
  updateCustomerMetadata(customerId: string, metadata: Record<string, string>): Promise<void>;
  updateSubscriptionMetadata(
    subscriptionId: string,
    metadata: Record<string, string>,
  ): Promise<void>;
  retrieveSubscription(subscriptionId: string): Promise<SubscriptionSnapshot>;
  /**
   * A paid Checkout Session in payment mode, the facts a one-time pass is recorded from; null for
   * a session of another mode or not paid (yet).
   */
  retrieveCheckoutPayment(sessionId: string): Promise<PassPayment | null>;
  /**
   * Creates the member's Stripe customer. The key derives from the membership alone, so a retry
   * (even from a link in another language) returns the same customer.
   */
  createMemberCustomer(member: MemberRef, locale: Locale): Promise<string>;
  /** Opens a hosted Checkout Session; the request's key makes a retry return the same one. */
  createCheckoutSession(request: CheckoutSessionRequest): Promise<OpenedSession>;
  /** Opens a Customer Portal session; the request's key makes a retry return the same one. */
  createPortalSession(request: PortalSessionRequest): Promise<OpenedSession>;
  /** What became of a Checkout Session, and whose it is. */
  retrieveCheckoutSessionState(sessionId: string): Promise<CheckoutSessionState>;
  /** Expires an open session; returns its state afterwards (it may have completed meanwhile). */
  expireCheckoutSession(sessionId: string): Promise<CheckoutSessionState>;
  /** Every subscription of the customer, whatever its status (Stripe lists 100 at most). */
  listCustomerSubscriptions(customerId: string): Promise<SubscriptionSnapshot[]>;
  /** Cancels at once; the key makes a retry of the same cancellation a no-op at Stripe. */
  cancelSubscription(subscriptionId: string, idempotencyKey: string): Promise<SubscriptionSnapshot>;
  retrieveCharge(chargeId: string): Promise<ChargeSnapshot>;
  /**
   * The invoice a charge paid: named on the charge in legacy API versions, and since basil found
   * through the InvoicePayment of the charge's PaymentIntent. Null for a charge of no invoice.
   */
  invoiceIdOfCharge(charge: ChargeSnapshot): Promise<string | null>;
  retrieveInvoiceBilling(invoiceId: string): Promise<InvoiceBilling>;
  retrieveMoneyInvoice(invoiceId: string): Promise<MoneyInvoice>;
  /** The invoice `chargeId` paid, with the charge's id; null for a charge of no invoice. */
  chargeContext(chargeId: string): Promise<ChargeContext | null>;
  listChargeRefunds(chargeId: string): Promise<MoneyRefund[]>;
  retrieveRefund(refundId: string): Promise<MoneyRefund>;
  retrieveDispute(disputeId: string): Promise<MoneyDispute>;
  retrieveEndedSubscription(subscriptionId: string): Promise<EndedSubscription>;
  /** The customer's most recent paid invoice, or null when they have none. */
  lastPaidInvoice(customerId: string): Promise<MoneyInvoice | null>;
  /** The charge that paid an invoice: its paid InvoicePayment's PaymentIntent's latest charge. */
  chargeOfInvoice(invoiceId: string): Promise<string | null>;
  /**
   * Refunds a charge in full; the key makes a repeated refund return the first one. `connect`, for
   * a destination charge: whether the transfer is reversed and the platform's fee refunded.
   */
  refundCharge(refund: {
    chargeId: string;
    metadata: Record<string, string>;
    idempotencyKey: string;
    connect?: { reverseTransfer: boolean; refundApplicationFee: boolean };
  }): Promise<CreatedRefund>;
  /** Where a charge's money went: its destination account (null when none) and the fee taken. */
  retrieveChargeDestination(
    chargeId: string,
  ): Promise<{ destination: string | null; applicationFeeAmount: number }>;
  retrievePrice(priceId: string): Promise<StripePriceFacts>;
  /** Every webhook endpoint of the account (up to 1,000). */
  listWebhookEndpoints(): Promise<WebhookEndpointFacts[]>;
  /** Every Customer Portal configuration of the account (up to 1,000). */
  listPortalConfigurations(): Promise<PortalConfigurationFacts[]>;
  /**
   * Creates a guild's own Customer Portal configuration, or updates it (`configurationId`): card
   * changes, invoices, cancelling at the period's end, and switching between exactly `priceIds`
   * (the guild's subscription prices, with Stripe's proration) when there are two or more.
   * @returns the configuration's id
   */
  saveGuildPortalConfiguration(request: GuildPortalConfiguration): Promise<string>;
  /** A connected account as Stripe has it now (platform mode). */
  retrieveConnectedAccount(accountId: string): Promise<ConnectedAccountFacts>;
  /**
   * Creates a guild's Express account, asking for card payments and transfers (what destination
   * charges with `on_behalf_of` need); the key makes a retry return the same account.
   */
  createExpressAccount(account: {
    country: string;
    email: string | null;
    metadata: Record<string, string>;
    idempotencyKey: string;
  }): Promise<ConnectedAccountFacts>;
  /** A single-use link to Stripe's hosted onboarding of the account. */
  createOnboardingLink(link: {
    accountId: string;
    refreshUrl: string;
    returnUrl: string;
  }): Promise<{ url: string; expiresAt: Date }>;
  /** A link that signs the community into its Express Dashboard (payouts, statements, exports). */
  createDashboardLink(accountId: string): Promise<{ url: string }>;
  /** A transfer to a connected account, with its reversals (platform mode's money ledger). */
  retrieveTransferMoney(transferId: string): Promise<ConnectMoney>;
  /** An application fee taken from a connected account, with its refunds. */
  retrieveApplicationFeeMoney(feeId: string): Promise<ConnectMoney>;
  /**
   * Where the money of `object` goes (platform mode): a subscription's and its invoices' transfer
   * data, a Checkout Session's subscription or payment, a refund's or dispute's charge.
   */
  retrieveMoneyDestination(object: MoneyObject): Promise<MoneyDestination>;
  /** A dispute with its charge's customer, destination account and transfer (platform mode). */
  retrieveDisputedCharge(disputeId: string): Promise<DisputedCharge>;
  /**
   * Takes `amount` of a transfer back from its connected account (and the platform's fee back to
   * it when `refundApplicationFee`); the key makes a retry return the same reversal.
   */
  reverseTransfer(reversal: {
    transferId: string;
    amount: number;
    refundApplicationFee: boolean;
    metadata: Record<string, string>;
    idempotencyKey: string;
  }): Promise<{ id: string; amount: number; created: Date }>;
}

/** Signing secrets whose HMAC keys are kept; far more than an endpoint's rotation uses. */
const MAX_KEPT_SIGNING_KEYS = 16;

/**
 * The SDK's SubtleCrypto provider, with each signing secret's HMAC key imported once: the SDK's own
 * imports the key again for every event it verifies. The same HMAC-SHA256, as the same hex.
 */
function keyKeepingCryptoProvider(): Stripe.CryptoProvider {
  const provider = Stripe.createSubtleCryptoProvider();
  const encoder = new TextEncoder();
  const keys = new Map<string, Promise<CryptoKey>>();
  const keyOf = (secret: string) => {
    const kept = keys.get(secret);
    if (kept) return kept;
    if (keys.size >= MAX_KEPT_SIGNING_KEYS) keys.clear();
    const key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keys.set(secret, key);
    // A key that could not be imported is tried again next time, not kept as a failure.
    key.catch(() => keys.delete(secret));
    return key;
  };
  provider.computeHMACSignatureAsync = async (payload: string, secret: string) => {
    const mac = await crypto.subtle.sign("HMAC", await keyOf(secret), encoder.encode(payload));
    let hex = "";
    for (const byte of new Uint8Array(mac)) hex += HEX_BYTES[byte];
    return hex;
  };
  return provider;
}

const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

const cryptoProvider = keyKeepingCryptoProvider();

/**
 * Starts an SDK request without the call-site stack the SDK takes on every request (`new
 * Error().stack`, appended to a failure's stack): formatting it cost the webhook's re-read about
 * 0.15 ms of CPU per event, more than the rest of the request's own JavaScript. A failure keeps
 * its type, code, message and its own stack; only the caller's frames appended to it are gone.
 */
function withoutCallSite<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function hostedSession(id: string, url: string | null): OpenedSession {
  if (!url) throw new StripeAnswerError(`Stripe returned session ${id} without a URL`);
  return { id, url };
}

/** Checkout's trial settings (https://docs.stripe.com/payments/checkout/free-trials). */
function trialSubscriptionData(trial: CheckoutTrial | null | undefined) {
  if (!trial) return {};
  return {
    trial_period_days: trial.trialPeriodDays,
    trial_settings: { end_behavior: { missing_payment_method: trial.missingPaymentMethod } },
  };
}

/**
 * A destination charge to the guild's account (https://docs.stripe.com/connect/destination-charges):
 * `on_behalf_of` makes the community the settlement merchant. A subscription's fee is a percent of
 * each invoice (`subscription_data`), a one-time payment's a fixed amount (`payment_intent_data`).
 */
function destinationData<Fee extends "percent" | "amount">(
  destination: CheckoutDestination | null | undefined,
  fee: Fee,
) {
  if (!destination) return {};
  if (!(fee in destination.fee)) {
    throw new Error(`a ${fee === "percent" ? "subscription" : "payment"}'s fee is its ${fee}`);
  }
  const value = (destination.fee as Record<Fee, number>)[fee];
  return {
    transfer_data: { destination: destination.accountId },
    on_behalf_of: destination.accountId,
    ...(fee === "percent" ? { application_fee_percent: value } : { application_fee_amount: value }),
  };
}

/** `POST /v1/checkout/sessions` for `request`. */
function checkoutSessionParams(
  request: CheckoutSessionRequest,
): Stripe.Checkout.SessionCreateParams {
  const metadata = memberMetadata(request.member);
  return {
    mode: request.mode,
    customer: request.customerId,
    line_items: [{ price: request.priceId, quantity: 1 }],
    client_reference_id: clientReferenceId(request.member),
    metadata,
    // A pass is a payment: its PaymentIntent carries the metadata, and a paid invoice follows
    // so the money ledger and the refund task read it as they read a subscription's.
    ...(request.mode === "subscription"
      ? {
        subscription_data: {
          metadata,
          ...destinationData(request.destination, "percent"),
          ...trialSubscriptionData(request.trial),
        },
        ...(request.trial
          ? { payment_method_collection: request.trial.paymentMethodCollection }
          : {}),
      }
      : {
        payment_intent_data: { metadata, ...destinationData(request.destination, "amount") },
        invoice_creation: { enabled: true },
      }),
    ...(request.allowPromotionCodes ? { allow_promotion_codes: true } : {}),
    // Stripe Tax reads the address the member enters; saving it on the customer is what lets
    // Checkout use it with an existing customer (https://docs.stripe.com/tax/checkout).
    ...(request.tax
      ? {
        automatic_tax: { enabled: true },
        billing_address_collection: request.tax.billingAddressCollection,
        customer_update: { address: "auto" as const },
      }
      : {}),
    locale: request.locale,
    success_url: request.successUrl,
    cancel_url: request.cancelUrl,
    expires_at: request.expiresAt,
  };
}

/** Wraps a client made by {@link createStripeClient} (or a test's, pointed at the double). */
export function createStripeGateway(stripe: Stripe): StripeGateway {
  const gateway: StripeGateway = {
    verifyEvent(rawBody, signature, secret, toleranceSeconds, now) {
      return stripe.webhooks.constructEventAsync(
        rawBody,
        signature,
        secret,
        toleranceSeconds,
        cryptoProvider,
        now.getTime(),
      );
    },
    async listEvents(query) {
      const page = await stripe.events.list({
        created: {
          gte: Math.floor(query.from.getTime() / 1000),
          lt: Math.floor(query.before.getTime() / 1000),
        },
        types: [...query.types],
        limit: 100,
        ...(query.startingAfter ? { starting_after: query.startingAfter } : {}),
      });
      return {
        events: page.data.map((event) => listedStripeEvent.parse(event)),
        hasMore: page.has_more,
      };
    },
    async retrieveCustomer(customerId) {
      const customer = customerSchema.parse(await stripe.customers.retrieve(customerId));
      return customer.deleted ? null : { id: customer.id, metadata: customer.metadata ?? {} };
    },
    async updateCustomerMetadata(customerId, metadata) {
      await stripe.customers.update(customerId, { metadata });
    },
    async updateSubscriptionMetadata(subscriptionId, metadata) {
      await stripe.subscriptions.update(subscriptionId, { metadata });
    },
    async retrieveSubscription(subscriptionId) {
      return stripeSubscription.parse(await stripe.subscriptions.retrieve(subscriptionId));
    },
    async retrieveCheckoutPayment(sessionId) {
      const payment = stripeCheckoutPayment.parse(
        await stripe.checkout.sessions.retrieve(sessionId, {
          expand: ["payment_intent.latest_charge", "line_items"],
        }),
      );
      if (!payment?.chargeDisputed || !payment.chargeId) return payment;
      const disputes = await stripe.disputes.list({ charge: payment.chargeId, limit: 100 });
      const newest = disputes.data.toSorted((a, b) => b.created - a.created)[0];
      return { ...payment, disputeStatus: newest?.status ?? null };
    },
    async createMemberCustomer(member, locale) {
      // The create call's parameters depend on the membership alone: a retry under the same key
      // from a link in another language must replay the customer, not fail as a mismatch.
      const customer = await stripe.customers.create({
        description: `Discord member ${member.discordUserId} of guild ${member.guildId}`,
        metadata: memberMetadata(member),
      }, { idempotencyKey: `rolepass-customer-${member.membershipId}` });
      // Receipts and invoice emails follow the customer's preferred locale.
      await stripe.customers.update(customer.id, { preferred_locales: [locale] });
      return customer.id;
    },
    async createCheckoutSession(request) {
      const session = await stripe.checkout.sessions.create(
        checkoutSessionParams(request),
        { idempotencyKey: request.idempotencyKey },
      );
      return hostedSession(session.id, session.url);
    },
    async createPortalSession(request) {
      const session = await stripe.billingPortal.sessions.create({
        customer: request.customerId,
        ...(request.configurationId ? { configuration: request.configurationId } : {}),
        ...(request.onBehalfOf ? { on_behalf_of: request.onBehalfOf } : {}),
        locale: request.locale,
        return_url: request.returnUrl,
      }, { idempotencyKey: request.idempotencyKey });
      return hostedSession(session.id, session.url);
    },
    async retrieveCheckoutSessionState(sessionId) {
      return stripeCheckoutSessionState.parse(await stripe.checkout.sessions.retrieve(sessionId));
    },
    async expireCheckoutSession(sessionId) {
      return stripeCheckoutSessionState.parse(await stripe.checkout.sessions.expire(sessionId));
    },
    async listCustomerSubscriptions(customerId) {
      // The webhook's re-read of every event: the SDK's call-site stack is its largest cost.
      const listed = await withoutCallSite(() =>
        stripe.subscriptions.list({ customer: customerId, status: "all", limit: 100 })
      );
      return listed.data.map((subscription) => stripeSubscription.parse(subscription));
    },
    async cancelSubscription(subscriptionId, idempotencyKey) {
      return stripeSubscription.parse(
        await stripe.subscriptions.cancel(subscriptionId, {}, { idempotencyKey }),
      );
    },
    async retrieveCharge(chargeId) {
      return stripeCharge.parse(await stripe.charges.retrieve(chargeId));
    },
    async invoiceIdOfCharge(charge) {
      if (charge.invoiceId) return charge.invoiceId;
      if (!charge.paymentIntentId) return null;
      const payments = await stripe.invoicePayments.list({
        payment: { type: "payment_intent", payment_intent: charge.paymentIntentId },
        limit: 1,
      });
      const invoice = payments.data[0]?.invoice;
      return typeof invoice === "string" ? invoice : invoice?.id ?? null;
    },
    async retrieveInvoiceBilling(invoiceId) {
      const invoice = await stripe.invoices.retrieve(invoiceId);
      // A line's period is the service it bills (the invoice's own period_end is the previous
      // period for renewals): https://docs.stripe.com/api/invoices/line_item#invoice_line_item_object-period
      const ends = (invoiceLines.parse(invoice).lines?.data ?? [])
        .flatMap((line) => line.period ? [line.period.end] : []);
      return {
        subscriptionId: stripeInvoice.parse(invoice).subscription,
        periodEnd: ends.length ? new Date(Math.max(...ends) * 1000) : null,
      };
    },
    async retrieveMoneyInvoice(invoiceId) {
      return stripeMoneyInvoice.parse(await stripe.invoices.retrieve(invoiceId));
    },
    async chargeContext(chargeId) {
      const charge = await gateway.retrieveCharge(chargeId);
      const invoiceId = await gateway.invoiceIdOfCharge(charge);
      if (!invoiceId) return null;
      return { chargeId: charge.id, invoice: await gateway.retrieveMoneyInvoice(invoiceId) };
    },
    async listChargeRefunds(chargeId) {
      const refunds = await stripe.refunds.list({ charge: chargeId, limit: 100 });
      return refunds.data.map((refund) => stripeMoneyRefund.parse(refund));
    },
    async retrieveRefund(refundId) {
      return stripeMoneyRefund.parse(await stripe.refunds.retrieve(refundId));
    },
    async retrieveDispute(disputeId) {
      return stripeMoneyDispute.parse(await stripe.disputes.retrieve(disputeId));
    },
    async retrieveEndedSubscription(subscriptionId) {
      return stripeEndedSubscription.parse(await stripe.subscriptions.retrieve(subscriptionId));
    },
    async lastPaidInvoice(customerId) {
      const invoices = await stripe.invoices.list({
        customer: customerId,
        status: "paid",
        limit: 1,
      });
      const [invoice] = invoices.data;
      return invoice ? stripeMoneyInvoice.parse(invoice) : null;
    },
    async chargeOfInvoice(invoiceId) {
      const payments = await stripe.invoicePayments.list({
        invoice: invoiceId,
        status: "paid",
        limit: 1,
      });
      const paymentIntentId = payments.data[0]?.payment.payment_intent;
      if (!paymentIntentId) return null;
      const paymentIntent = await stripe.paymentIntents.retrieve(
        typeof paymentIntentId === "string" ? paymentIntentId : paymentIntentId.id,
      );
      const charge = paymentIntent.latest_charge;
      return typeof charge === "string" ? charge : charge?.id ?? null;
    },
    async refundCharge({ chargeId, metadata, idempotencyKey, connect }) {
      const refund = await stripe.refunds.create(
        {
          charge: chargeId,
          reason: "requested_by_customer",
          metadata,
          ...(connect
            ? {
              reverse_transfer: connect.reverseTransfer,
              refund_application_fee: connect.refundApplicationFee,
            }
            : {}),
        },
        { idempotencyKey },
      );
      return { id: refund.id, amount: refund.amount, currency: refund.currency };
    },
    async retrieveChargeDestination(chargeId) {
      const charge = chargeDestinationSchema.parse(await stripe.charges.retrieve(chargeId));
      const destination = charge.transfer_data?.destination ?? null;
      return {
        destination: typeof destination === "string" ? destination : destination?.id ?? null,
        applicationFeeAmount: charge.application_fee_amount ?? 0,
      };
    },
    async retrievePrice(priceId) {
      return priceSchema.parse(await stripe.prices.retrieve(priceId));
    },
    async listWebhookEndpoints() {
      const endpoints = await stripe.webhookEndpoints.list({ limit: 100 })
        .autoPagingToArray({ limit: 1000 });
      return endpoints.map((endpoint) => webhookEndpointSchema.parse(endpoint));
    },
    async saveGuildPortalConfiguration({ configurationId, guildId, priceIds }) {
      const byProduct = new Map<string, string[]>();
      for (const priceId of priceIds) {
        const price = await stripe.prices.retrieve(priceId);
        const product = typeof price.product === "string" ? price.product : price.product.id;
        byProduct.set(product, [...byProduct.get(product) ?? [], priceId]);
      }
      const switching = priceIds.length >= 2;
      const features: Stripe.BillingPortal.ConfigurationCreateParams.Features = {
        invoice_history: { enabled: true },
        payment_method_update: { enabled: true },
        subscription_cancel: { enabled: true, mode: "at_period_end" },
        subscription_update: switching
          ? {
            enabled: true,
            default_allowed_updates: ["price"],
            proration_behavior: "create_prorations",
            products: [...byProduct].map(([product, prices]) => ({ product, prices })),
          }
          : { enabled: false },
      };
      const metadata = { rolepass_guild_id: guildId };
      const saved = configurationId
        ? await stripe.billingPortal.configurations.update(configurationId, {
          active: true,
          features,
          metadata,
        })
        : await stripe.billingPortal.configurations.create({ features, metadata }, {
          // A run that crashed after Stripe created the configuration but before its id was
          // stored gets the same object back on the next run (Stripe keeps keys 24 hours); a
          // changed content is a new key, so a new configuration.
          idempotencyKey: `rolepass-portal-${guildId}-${await sha256Hex(
            JSON.stringify({ features, metadata }),
          )}`,
        });
      return saved.id;
    },
    async listPortalConfigurations() {
      const configurations = await stripe.billingPortal.configurations.list({
        limit: 100,
        expand: ["data.features.subscription_update.products"],
      }).autoPagingToArray({ limit: 1000 });
      return configurations.map((configuration) => portalConfigurationSchema.parse(configuration));
    },
    async retrieveConnectedAccount(accountId) {
      return stripeConnectedAccount.parse(await stripe.accounts.retrieve(accountId));
    },
    async createExpressAccount({ country, email, metadata, idempotencyKey }) {
      const account = await stripe.accounts.create({
        type: "express",
        country,
        ...(email ? { email } : {}),
        capabilities: { card_payments: { requested: true }, transfers: { requested: true } },
        metadata,
      }, { idempotencyKey });
      return stripeConnectedAccount.parse(account);
    },
    async createOnboardingLink({ accountId, refreshUrl, returnUrl }) {
      const link = await stripe.accountLinks.create({
        account: accountId,
        type: "account_onboarding",
        refresh_url: refreshUrl,
        return_url: returnUrl,
      });
      return { url: link.url, expiresAt: new Date(link.expires_at * 1000) };
    },
    async createDashboardLink(accountId) {
      const login = await stripe.accounts.createLoginLink(accountId);
      return { url: login.url };
    },
    async retrieveTransferMoney(transferId) {
      return transferMoneySchema.parse(await stripe.transfers.retrieve(transferId));
    },
    async retrieveApplicationFeeMoney(feeId) {
      return applicationFeeMoneySchema.parse(await stripe.applicationFees.retrieve(feeId));
    },
    async retrieveMoneyDestination({ kind, id }) {
      switch (kind) {
        case "subscription":
          return moneyDestinationSchema.parse(await stripe.subscriptions.retrieve(id));
        case "invoice": {
          // An invoice carries its subscription's transfer data from when it was finalized.
          const invoice = await stripe.invoices.retrieve(id);
          const own = moneyDestinationSchema.parse(invoice);
          const subscription = invoice.parent?.subscription_details?.subscription;
          if (own.destination !== null || !subscription) return own;
          return moneyDestinationSchema.parse(
            await stripe.subscriptions.retrieve(
              typeof subscription === "string" ? subscription : subscription.id,
            ),
          );
        }
        case "checkout_session": {
          const session = await stripe.checkout.sessions.retrieve(id, {
            expand: ["subscription", "payment_intent"],
          });
          const paid = session.subscription ?? session.payment_intent;
          return typeof paid === "object" && paid !== null
            ? moneyDestinationSchema.parse(paid)
            : moneyDestinationSchema.parse({ customer: session.customer });
        }
        case "charge":
          return moneyDestinationSchema.parse(await stripe.charges.retrieve(id));
        case "refund": {
          const refund = await stripe.refunds.retrieve(id, { expand: ["charge"] });
          return moneyDestinationSchema.parse(refund.charge ?? {});
        }
        case "dispute": {
          const dispute = await stripe.disputes.retrieve(id, { expand: ["charge"] });
          return moneyDestinationSchema.parse(dispute.charge);
        }
      }
    },
    async retrieveDisputedCharge(disputeId) {
      return disputedChargeSchema.parse(
        await stripe.disputes.retrieve(disputeId, { expand: ["charge"] }),
      );
    },
    async reverseTransfer({ transferId, amount, refundApplicationFee, metadata, idempotencyKey }) {
      const reversal = await stripe.transfers.createReversal(transferId, {
        amount,
        refund_application_fee: refundApplicationFee,
        metadata,
      }, { idempotencyKey });
      return {
        id: reversal.id,
        amount: reversal.amount,
        created: new Date(reversal.created * 1000),
      };
    },
  };
  return gateway;
}

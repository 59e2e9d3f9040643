/**
 * Stripe Connect in the double: Express accounts, Account Links with a hosted onboarding page,
 * login links to the Express Dashboard, the `Stripe-Account` header (each connected account is a
 * state of its own, so an object of one account is `resource_missing` from any other), events of
 * connected accounts carrying `account` and delivered to Connect endpoints only, and destination
 * charges: a transfer and an application fee per paid charge, reversed and refunded as
 * `POST /v1/refunds` asks (`reverse_transfer`, `refund_application_fee`).
 *
 * https://docs.stripe.com/connect/express-accounts, https://docs.stripe.com/connect/destination-charges
 */
import { Hono } from "hono";
import type Stripe from "stripe";
import { type ApiBindings, type ApiContext, errorResponse, json } from "./api.ts";
import { Billing } from "./billing.ts";
import {
  invalidParameter,
  invalidRequest,
  missingParameter,
  resourceMissing,
  StripeApiError,
} from "./errors.ts";
import { type DeliverOptions, type DeliveryAttempt, EventLog, type EventScope } from "./events.ts";
import type { FormParams } from "./form.ts";
import { newId } from "./ids.ts";
import { listOf } from "./objects.ts";
import {
  checkMetadata,
  mergeMetadata,
  readBoolean,
  readInteger,
  readObject,
  readString,
  validateParams,
} from "./params.ts";
import type {
  ConnectedMoney,
  DestinationCharge,
  PaymentDestination,
  RefundFlags,
  StripeState,
} from "./state.ts";
import { StripeState as AccountState } from "./state.ts";

/** One connected account's own objects, events and billing engine. */
export interface ConnectedAccountScope {
  state: StripeState;
  events: EventLog;
  billing: Billing;
  api: Hono<{ Bindings: ApiBindings }>;
}

interface AccountLinkRecord {
  link: Stripe.AccountLink;
  account: string;
  refreshUrl: string;
  returnUrl: string;
  used: boolean;
}

/** What Stripe still needs before an Express account may take charges and be paid out. */
const ONBOARDING_REQUIREMENTS = [
  "business_profile.url",
  "external_account",
  "individual.dob.day",
  "individual.first_name",
  "individual.last_name",
  "tos_acceptance.date",
];

/** Account Links expire a few minutes after creation (https://docs.stripe.com/api/account_links). */
const ACCOUNT_LINK_SECONDS = 300;

/** 403 for a `Stripe-Account` header naming an account that is not connected to the platform. */
export function accountInaccessible(apiKey: string, accountId: string): StripeApiError {
  const masked = `${apiKey.slice(0, 8)}${"*".repeat(Math.max(0, apiKey.length - 12))}${
    apiKey.slice(-4)
  }`;
  return new StripeApiError(403, {
    type: "invalid_request_error",
    code: "account_invalid",
    message: `The provided key '${masked}' does not have access to account '${accountId}' (or ` +
      "that account does not exist). Application access may have been revoked.",
    doc_url: "https://stripe.com/docs/error-codes/account-invalid",
  }, false);
}

function requirementsOf(due: string[]): Stripe.Account.Requirements {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [...due],
    disabled_reason: due.length ? "requirements.past_due" : null,
    errors: [],
    eventually_due: [...due],
    past_due: [...due],
    pending_verification: [],
  };
}

/**
 * The platform's Connect: its connected accounts, their links, and the money that moves between
 * the platform and them.
 */
export class Connect implements ConnectedMoney {
  readonly accounts = new Map<string, Stripe.Account>();
  readonly transfers = new Map<string, Stripe.Transfer>();
  readonly applicationFees = new Map<string, Stripe.ApplicationFee>();
  private readonly accountLinks = new Map<string, AccountLinkRecord>();
  private readonly scopes = new Map<string, ConnectedAccountScope>();
  /** Webhook endpoints of the platform that receive connected accounts' events. */
  readonly connectEndpointIds = new Set<string>();

  /**
   * @param platform the platform account's state, events and billing.
   * @param makeApi builds the v1 API app over one account's state (api.ts's createApiApp).
   */
  constructor(
    private readonly platform: { state: StripeState; events: EventLog; billing: Billing },
    private readonly makeApi: (
      deps: { state: StripeState; events: EventLog; billing: Billing },
    ) => Hono<{ Bindings: ApiBindings }>,
  ) {
    platform.state.connectedMoney = this;
  }

  /** The connected account `id`, or resource_missing. */
  account(id: string, param = "account"): Stripe.Account {
    const account = this.accounts.get(id);
    if (!account) throw resourceMissing("account", id, param);
    return account;
  }

  /** The state, events and API of a connected account (what `Stripe-Account: id` reaches). */
  scope(id: string): ConnectedAccountScope | undefined {
    return this.scopes.get(id);
  }

  /**
   * Registers a Connect endpoint on the platform (`connect: true` at Stripe): it receives the
   * events of connected accounts, each with `account`, signed with its own secret.
   */
  createConnectEndpoint(
    options: { url: string; secret?: string; enabled_events?: string[] },
  ): Stripe.WebhookEndpoint & { secret: string } {
    const endpoint = this.platform.billing.createWebhookEndpoint(options);
    this.connectEndpointIds.add(endpoint.id);
    return endpoint;
  }

  /** Which events a platform endpoint receives: Connect endpoints get only connected accounts'. */
  platformScope(): EventScope {
    const state = this.platform.state;
    return {
      account: null,
      endpoints: () =>
        [...state.webhookEndpoints.values()].filter((e) => !this.connectEndpointIds.has(e.id)),
      secretOf: (endpointId) => state.webhookSecrets.get(endpointId) ?? "",
    };
  }

  /** Creates an Express (or other type of) connected account, onboarding not yet done. */
  createAccount(params: FormParams): Stripe.Account {
    const type = readString(params, "type") ?? "express";
    const now = this.platform.state.now();
    const requested = readObject(params, "capabilities") ?? {};
    const capabilities: Record<string, "active" | "inactive"> = {};
    for (const name of Object.keys(requested)) {
      if (readBoolean(readObject(requested, name) ?? {}, "requested")) {
        capabilities[name] = "inactive";
      }
    }
    const account = {
      id: newId("acct").slice(0, 21),
      object: "account",
      type,
      business_type: readString(params, "business_type") ?? null,
      business_profile: { mcc: null, name: null, url: null, product_description: null },
      capabilities,
      charges_enabled: false,
      controller: {
        type: "application",
        is_controller: true,
        fees: { payer: "application" },
        losses: { payments: "application" },
        requirement_collection: "stripe",
        stripe_dashboard: { type: type === "express" ? "express" : "full" },
      },
      country: readString(params, "country") ?? "JP",
      created: now,
      default_currency: readString(params, "default_currency") ?? "jpy",
      details_submitted: false,
      email: readString(params, "email") ?? null,
      external_accounts: listOf([], "/v1/accounts/x/external_accounts"),
      future_requirements: requirementsOf([]),
      metadata: mergeMetadata({}, params.metadata),
      payouts_enabled: false,
      requirements: requirementsOf(ONBOARDING_REQUIREMENTS),
      settings: {},
      tos_acceptance: { date: null, ip: null, user_agent: null },
    } as unknown as Stripe.Account;
    account.external_accounts = listOf([], `/v1/accounts/${account.id}/external_accounts`);
    this.platform.state.add(this.accounts, account);
    const state = new AccountState(
      () => this.platform.state.now() * 1000,
      this.platform.state.baseUrl,
      this.platform.state.defaultBillingMode,
    );
    const events = new EventLog(state, this.platform.events.apiVersion, {
      account: account.id,
      endpoints: () =>
        [...this.platform.state.webhookEndpoints.values()].filter((e) =>
          this.connectEndpointIds.has(e.id)
        ),
      secretOf: (endpointId) => this.platform.state.webhookSecrets.get(endpointId) ?? "",
    });
    if (this.platform.events.autoDeliveryEnabled) events.setAutoDelivery(true);
    const billing = new Billing(state, events);
    this.scopes.set(account.id, {
      state,
      events,
      billing,
      api: this.makeApi({ state, events, billing }),
    });
    return account;
  }

  /**
   * What Express onboarding does when the community submits everything: details submitted,
   * requirements cleared, charges and payouts enabled (emits account.updated on the account).
   */
  completeOnboarding(accountId: string): Stripe.Account {
    return this.updateAccount(accountId, (account) => {
      account.details_submitted = true;
      account.requirements = requirementsOf([]);
      account.charges_enabled = true;
      account.payouts_enabled = true;
      account.tos_acceptance = { date: this.platform.state.now(), ip: "127.0.0.1" };
      const capabilities = account.capabilities as Record<string, string>;
      for (const name of Object.keys(capabilities)) capabilities[name] = "active";
      if (Object.keys(capabilities).length === 0) {
        Object.assign(capabilities, { card_payments: "active", transfers: "active" });
      }
    });
  }

  /**
   * Stripe asking for more (a document, a new bank account): the listed requirements become due
   * and, past their deadline, charges and payouts stop (emits account.updated).
   */
  requireInformation(accountId: string, due: string[]): Stripe.Account {
    return this.updateAccount(accountId, (account) => {
      account.requirements = requirementsOf(due);
      account.charges_enabled = false;
      account.payouts_enabled = false;
      const capabilities = account.capabilities as Record<string, string>;
      for (const name of Object.keys(capabilities)) capabilities[name] = "inactive";
    });
  }

  /**
   * Stripe asking for more by a deadline: the listed requirements become currently due with
   * `current_deadline`, and charges and payouts go on until then (emits account.updated).
   */
  requireInformationBy(accountId: string, due: string[], deadline: Date): Stripe.Account {
    return this.updateAccount(accountId, (account) => {
      account.requirements = {
        ...requirementsOf(due),
        current_deadline: Math.floor(deadline.getTime() / 1000),
        disabled_reason: null,
        past_due: [],
      };
    });
  }

  private updateAccount(accountId: string, change: (account: Stripe.Account) => void) {
    const account = this.account(accountId, "id");
    const before = structuredClone(account);
    change(account);
    this.scopes.get(accountId)?.events.emit("account.updated", account, before);
    return account;
  }

  /** `POST /v1/account_links`: a single-use link to the hosted onboarding page. */
  createAccountLink(params: FormParams): Stripe.AccountLink {
    const accountId = readString(params, "account")!;
    const account = this.account(accountId);
    const type = readString(params, "type");
    if (type === "account_update" && account.type === "express") {
      throw invalidParameter(
        "type",
        "You cannot create `account_update` type Account Links for Express accounts.",
      );
    }
    const refreshUrl = readString(params, "refresh_url");
    if (!refreshUrl) throw missingParameter("refresh_url");
    const returnUrl = readString(params, "return_url");
    if (!returnUrl) throw missingParameter("return_url");
    const created = this.platform.state.now();
    const id = newId("acctlink");
    const link: Stripe.AccountLink = {
      object: "account_link",
      created,
      expires_at: created + ACCOUNT_LINK_SECONDS,
      url: `${this.platform.state.baseUrl}/__double/connect/onboarding/${id}`,
    };
    this.accountLinks.set(id, { link, account: accountId, refreshUrl, returnUrl, used: false });
    return link;
  }

  /**
   * The hosted onboarding page's view of a link: the account it onboards, or where Stripe sends a
   * visitor whose link was used or expired (its `refresh_url`).
   */
  onboardingLink(
    linkId: string,
  ): { kind: "open"; account: Stripe.Account } | { kind: "refresh"; url: string } | null {
    const record = this.accountLinks.get(linkId);
    if (!record) return null;
    if (record.used || record.link.expires_at <= this.platform.state.now()) {
      return { kind: "refresh", url: record.refreshUrl };
    }
    return { kind: "open", account: this.account(record.account) };
  }

  /** The community submits the onboarding form: the link is spent; returns the `return_url`. */
  submitOnboarding(linkId: string): string | null {
    const record = this.accountLinks.get(linkId);
    if (!record || record.used || record.link.expires_at <= this.platform.state.now()) return null;
    record.used = true;
    this.completeOnboarding(record.account);
    return record.returnUrl;
  }

  /** `POST /v1/accounts/:id/login_links`: Express accounts that finished onboarding only. */
  createLoginLink(accountId: string): Stripe.LoginLink {
    const account = this.account(accountId, "account");
    if (account.type !== "express") {
      throw invalidRequest(
        "Login links can only be created for Express accounts that use the Express Dashboard.",
      );
    }
    if (!account.details_submitted) {
      throw invalidRequest(
        `Cannot create a login link for an account that has not completed onboarding: '${accountId}'.`,
      );
    }
    return {
      object: "login_link",
      created: this.platform.state.now(),
      url: `${this.platform.state.baseUrl}/__double/connect/express/${accountId}`,
    };
  }

  /** Checks the Connect parameters of a subscription-mode Checkout Session on the platform. */
  checkDestination(connectParams: DestinationCharge): void {
    const { destination, onBehalfOf, applicationFeePercent } = connectParams;
    if (applicationFeePercent !== null && destination === null && onBehalfOf === null) {
      throw invalidRequest(
        "Can only apply an application_fee_percent when the request is made on behalf of " +
          "another account (using an OAuth key, the Stripe-Account header, or the destination " +
          "parameter).",
        "subscription_data[application_fee_percent]",
      );
    }
    if (
      applicationFeePercent !== null && (applicationFeePercent < 0 || applicationFeePercent > 100)
    ) {
      throw invalidParameter(
        "subscription_data[application_fee_percent]",
        "application_fee_percent must be between 0 and 100.",
        "parameter_invalid_integer",
      );
    }
    if (destination !== null) {
      const account = this.accounts.get(destination);
      if (!account) {
        throw resourceMissing(
          "destination",
          destination,
          "subscription_data[transfer_data][destination]",
        );
      }
      if ((account.capabilities as Record<string, string>).transfers !== "active") {
        throw invalidRequest(
          "Your destination account needs to have at least one of the following capabilities " +
            "enabled: transfers, crypto_transfers, legacy_payments",
          "subscription_data[transfer_data][destination]",
        );
      }
    }
    this.checkAccounts(destination, onBehalfOf, "subscription_data");
  }

  /** Checks the Connect parameters of a payment-mode Checkout Session charging `amount`. */
  checkPaymentDestination(payment: PaymentDestination, amount: number): void {
    const { destination, onBehalfOf, applicationFeeAmount } = payment;
    if (applicationFeeAmount !== null && destination === null) {
      throw invalidRequest(
        "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct " +
          "payment (using an OAuth key or Stripe-Account header) or destination payment (using " +
          "`transfer_data[destination]`).",
        "payment_intent_data[application_fee_amount]",
      );
    }
    if (
      applicationFeeAmount !== null && (applicationFeeAmount < 0 || applicationFeeAmount > amount)
    ) {
      throw invalidParameter(
        "payment_intent_data[application_fee_amount]",
        `The application_fee_amount (${applicationFeeAmount}) must be between 0 and the ` +
          `amount of the payment (${amount}).`,
        "parameter_invalid_integer",
      );
    }
    this.checkAccounts(destination, onBehalfOf, "payment_intent_data");
  }

  /** The destination must take transfers, and the account charged on behalf of take charges. */
  private checkAccounts(destination: string | null, onBehalfOf: string | null, prefix: string) {
    if (destination !== null) {
      const account = this.accounts.get(destination);
      if (!account) {
        throw resourceMissing("destination", destination, `${prefix}[transfer_data][destination]`);
      }
      if ((account.capabilities as Record<string, string>).transfers !== "active") {
        throw invalidRequest(
          "Your destination account needs to have at least one of the following capabilities " +
            "enabled: transfers, crypto_transfers, legacy_payments",
          `${prefix}[transfer_data][destination]`,
        );
      }
    }
    if (onBehalfOf !== null) {
      const account = this.accounts.get(onBehalfOf);
      if (!account) throw resourceMissing("account", onBehalfOf, `${prefix}[on_behalf_of]`);
      if (!account.charges_enabled) {
        throw invalidRequest(
          `The account ${onBehalfOf} cannot take charges yet: its charges_enabled is false ` +
            "until it completes onboarding.",
          `${prefix}[on_behalf_of]`,
        );
      }
    }
  }

  /**
   * A destination charge was paid: the whole amount is transferred to the connected account (a
   * `py_` payment there) and the application fee is collected back from it.
   */
  settleCharge(charge: Stripe.Charge, invoice: Stripe.Invoice): void {
    const subscriptionId = invoice.parent?.subscription_details?.subscription;
    const subscription = typeof subscriptionId === "string"
      ? this.platform.state.subscriptions.get(subscriptionId)
      : undefined;
    const destination = subscription?.transfer_data?.destination;
    if (!subscription || typeof destination !== "string") return;
    const percent = subscription.application_fee_percent ?? 0;
    this.settleDestination(charge, invoice, {
      destination,
      onBehalfOf: typeof subscription.on_behalf_of === "string" ? subscription.on_behalf_of : null,
      feeAmount: Math.round(charge.amount * percent / 100),
    });
  }

  /** A payment-mode destination charge was paid: settled as an invoice's is, with its fixed fee. */
  settlePayment(charge: Stripe.Charge, payment: PaymentDestination): void {
    if (payment.destination === null) return;
    this.settleDestination(charge, null, {
      destination: payment.destination,
      onBehalfOf: payment.onBehalfOf,
      feeAmount: payment.applicationFeeAmount ?? 0,
    });
  }

  private settleDestination(
    charge: Stripe.Charge,
    invoice: Stripe.Invoice | null,
    { destination, onBehalfOf, feeAmount }: {
      destination: string;
      onBehalfOf: string | null;
      feeAmount: number;
    },
  ): void {
    const now = this.platform.state.now();
    const scope = this.scopes.get(destination);
    const payment = scope
      ? scope.state.add(scope.state.charges, {
        ...structuredClone(charge),
        id: newId("py"),
        customer: null,
        payment_intent: null,
        invoice: undefined,
        refunds: listOf([], ""),
        source_transfer: null,
      } as unknown as Stripe.Charge)
      : null;
    const transfer = {
      id: newId("tr"),
      object: "transfer",
      amount: charge.amount,
      amount_reversed: 0,
      balance_transaction: newId("txn"),
      created: now,
      currency: charge.currency,
      description: null,
      destination,
      destination_payment: payment?.id ?? null,
      livemode: false,
      metadata: {},
      reversals: listOf([], ""),
      reversed: false,
      source_transaction: charge.id,
      source_type: "card",
      transfer_group: `group_${charge.payment_intent}`,
    } as unknown as Stripe.Transfer;
    transfer.reversals = listOf([], `/v1/transfers/${transfer.id}/reversals`);
    this.platform.state.add(this.transfers, transfer);
    Object.assign(charge, {
      destination,
      on_behalf_of: onBehalfOf,
      transfer: transfer.id,
      transfer_data: { amount: null, destination },
      transfer_group: transfer.transfer_group,
      application_fee_amount: feeAmount || null,
      application_fee: null,
    });
    if (invoice) {
      Object.assign(invoice, {
        application_fee_amount: feeAmount || null,
        on_behalf_of: onBehalfOf,
        transfer_data: { amount: null, destination },
      });
    }
    this.platform.events.emit("transfer.created", transfer);
    if (feeAmount > 0) {
      const fee = {
        id: newId("fee"),
        object: "application_fee",
        account: destination,
        amount: feeAmount,
        amount_refunded: 0,
        application: "ca_rolepass_double",
        balance_transaction: newId("txn"),
        charge: charge.id,
        created: now,
        currency: charge.currency,
        fee_source: { charge: charge.id, type: "charge" },
        livemode: false,
        originating_transaction: charge.id,
        refunded: false,
        refunds: listOf([], ""),
      } as unknown as Stripe.ApplicationFee;
      fee.refunds = listOf([], `/v1/application_fees/${fee.id}/refunds`);
      this.platform.state.add(this.applicationFees, fee);
      charge.application_fee = fee.id;
      this.platform.events.emit("application_fee.created", fee);
    }
  }

  /** Stripe's refusals of a refund's Connect flags, before anything changes. */
  checkRefund(charge: Stripe.Charge, flags: RefundFlags): void {
    if (flags.reverseTransfer && !charge.transfer) {
      throw invalidParameter(
        "reverse_transfer",
        `Charge ${charge.id} has no transfer to reverse: reverse_transfer can only be used ` +
          "with destination charges.",
      );
    }
    if (flags.refundApplicationFee && !charge.application_fee) {
      throw invalidParameter(
        "refund_application_fee",
        `Charge ${charge.id} has no application fee to refund.`,
      );
    }
  }

  /**
   * After a refund of a destination charge: the transfer is reversed and the application fee
   * refunded in proportion to the refund, as the flags ask (seed 003's two checkboxes).
   */
  settleRefund(charge: Stripe.Charge, refund: Stripe.Refund, flags: RefundFlags): void {
    const transfer = typeof charge.transfer === "string"
      ? this.transfers.get(charge.transfer)
      : undefined;
    if (flags.reverseTransfer && transfer) {
      const amount = Math.min(
        Math.round(transfer.amount * refund.amount / charge.amount),
        transfer.amount - transfer.amount_reversed,
      );
      const reversal = this.reverse(transfer, amount, { sourceRefund: refund.id });
      refund.transfer_reversal = reversal.id;
    }
    const fee = typeof charge.application_fee === "string"
      ? this.applicationFees.get(charge.application_fee)
      : undefined;
    if (flags.refundApplicationFee && fee) {
      const amount = Math.min(
        Math.round(fee.amount * refund.amount / charge.amount),
        fee.amount - fee.amount_refunded,
      );
      this.refundFee(fee, amount);
    }
  }

  /** `POST /v1/transfers/:id/reversals`: what a platform does to recover a lost dispute. */
  reverseTransfer(
    transferId: string,
    options: { amount?: number; refundApplicationFee?: boolean; metadata?: Record<string, string> },
  ): Stripe.TransferReversal {
    const transfer = this.transfers.get(transferId);
    if (!transfer) throw resourceMissing("transfer", transferId);
    const left = transfer.amount - transfer.amount_reversed;
    const amount = options.amount ?? left;
    if (amount <= 0 || amount > left) {
      throw invalidParameter(
        "amount",
        `Amount (${amount}) is greater than the transfer's unreversed amount (${left}).`,
        "parameter_invalid_integer",
      );
    }
    const reversal = this.reverse(transfer, amount, { metadata: options.metadata });
    if (options.refundApplicationFee) {
      const charge = this.platform.state.charges.get(String(transfer.source_transaction));
      const fee = charge && typeof charge.application_fee === "string"
        ? this.applicationFees.get(charge.application_fee)
        : undefined;
      if (fee) {
        this.refundFee(
          fee,
          Math.min(
            Math.round(fee.amount * amount / transfer.amount),
            fee.amount - fee.amount_refunded,
          ),
        );
      }
    }
    return reversal;
  }

  private reverse(
    transfer: Stripe.Transfer,
    amount: number,
    options: { sourceRefund?: string; metadata?: Record<string, string> },
  ): Stripe.TransferReversal {
    const before = structuredClone(transfer);
    const reversal = {
      id: newId("trr"),
      object: "transfer_reversal",
      amount,
      balance_transaction: newId("txn"),
      created: this.platform.state.now(),
      currency: transfer.currency,
      destination_payment_refund: null,
      metadata: options.metadata ?? {},
      source_refund: options.sourceRefund ?? null,
      transfer: transfer.id,
    } as Stripe.TransferReversal;
    transfer.amount_reversed += amount;
    transfer.reversed = transfer.amount_reversed >= transfer.amount;
    transfer.reversals.data.unshift(reversal);
    this.platform.events.emit("transfer.reversed", transfer, before);
    return reversal;
  }

  private refundFee(fee: Stripe.ApplicationFee, amount: number): void {
    if (amount <= 0) return;
    const before = structuredClone(fee);
    fee.amount_refunded += amount;
    fee.refunded = fee.amount_refunded >= fee.amount;
    fee.refunds.data.unshift({
      id: newId("fr"),
      object: "fee_refund",
      amount,
      balance_transaction: newId("txn"),
      created: this.platform.state.now(),
      currency: fee.currency,
      fee: fee.id,
      metadata: {},
    } as Stripe.FeeRefund);
    this.platform.events.emit("application_fee.refunded", fee, before);
  }

  /**
   * What an edit of a subscription's destination in the Dashboard does (Stripe lets
   * `transfer_data` and `on_behalf_of` change): its next invoices pay `accountId`, or the platform
   * alone with null. Emits customer.subscription.updated.
   */
  redirectSubscription(subscriptionId: string, accountId: string | null): Stripe.Subscription {
    const subscription = this.platform.state.subscriptions.get(subscriptionId);
    if (!subscription) throw resourceMissing("subscription", subscriptionId);
    const before = structuredClone(subscription);
    Object.assign(subscription, {
      on_behalf_of: accountId,
      transfer_data: accountId ? { amount_percent: null, destination: accountId } : null,
      application_fee_percent: accountId ? subscription.application_fee_percent : null,
    });
    this.platform.events.emit("customer.subscription.updated", subscription, before);
    return structuredClone(subscription);
  }

  /** POSTs connected accounts' undelivered events to the Connect endpoints. */
  async deliverEvents(options: DeliverOptions = {}): Promise<DeliveryAttempt[]> {
    const attempts: DeliveryAttempt[] = [];
    for (const scope of this.scopes.values()) attempts.push(...await scope.events.deliver(options));
    return attempts;
  }

  /** Events of connected accounts, oldest first. */
  events(): Stripe.Event[] {
    return [...this.scopes.values()].flatMap((scope) => scope.events.events)
      .sort((a, b) => a.created - b.created);
  }

  /** Stops connected accounts' automatic delivery. */
  async close(): Promise<void> {
    for (const scope of this.scopes.values()) await scope.events.close();
  }
}

const ACCOUNT_CREATE = {
  account_token: "string",
  bank_account: "any",
  business_profile: "any",
  business_type: ["company", "government_entity", "individual", "non_profit"],
  capabilities: "any",
  company: "any",
  controller: "any",
  country: "string",
  default_currency: "string",
  documents: "any",
  email: "string",
  external_account: "string",
  groups: "any",
  individual: "any",
  metadata: "map",
  settings: "any",
  tos_acceptance: "any",
  type: ["custom", "express", "standard"],
} as const;

/** The platform's Connect endpoints under `/v1` (served when no `Stripe-Account` header is sent). */
export function createConnectApiApp(connect: Connect): Hono<{ Bindings: ApiBindings }> {
  const app = new Hono<{ Bindings: ApiBindings }>();
  const list = <T extends { id?: string }>(c: ApiContext, items: T[], url: string) => {
    const limit = readInteger(c.env.params, "limit") ?? 10;
    return json(c, {
      object: "list",
      data: items.slice(0, limit),
      has_more: items.length > limit,
      url,
    });
  };

  app.post("/v1/accounts", (c) => {
    const { params } = c.env;
    validateParams(params, ACCOUNT_CREATE);
    checkMetadata(params.metadata);
    if (params.type === undefined && params.controller === undefined) {
      throw missingParameter("type");
    }
    return json(c, connect.createAccount(params));
  });
  app.get("/v1/accounts", (c) => {
    validateParams(c.env.params, { limit: "integer", starting_after: "string", created: "any" });
    return list(c, [...connect.accounts.values()].reverse(), "/v1/accounts");
  });
  app.get("/v1/accounts/:id", (c) => {
    validateParams(c.env.params, {});
    return json(c, connect.account(c.req.param("id"), "id"));
  });
  app.post("/v1/accounts/:id/login_links", (c) => {
    validateParams(c.env.params, {});
    return json(c, connect.createLoginLink(c.req.param("id")));
  });
  app.post("/v1/account_links", (c) => {
    const { params } = c.env;
    validateParams(params, {
      account: "string",
      collect: ["currently_due", "eventually_due"],
      collection_options: "any",
      refresh_url: "string",
      return_url: "string",
      type: ["account_onboarding", "account_update"],
    }, ["account", "type"]);
    return json(c, connect.createAccountLink(params));
  });
  app.get("/v1/transfers", (c) => {
    const { params } = c.env;
    validateParams(params, { limit: "integer", destination: "string", transfer_group: "string" });
    const destination = readString(params, "destination");
    const transfers = [...connect.transfers.values()].reverse()
      .filter((t) => !destination || t.destination === destination);
    return list(c, transfers, "/v1/transfers");
  });
  app.get("/v1/transfers/:id", (c) => {
    validateParams(c.env.params, {});
    const transfer = connect.transfers.get(c.req.param("id"));
    if (!transfer) throw resourceMissing("transfer", c.req.param("id"));
    return json(c, transfer);
  });
  app.post("/v1/transfers/:id/reversals", (c) => {
    const { params } = c.env;
    validateParams(params, {
      amount: "integer",
      description: "string",
      metadata: "map",
      refund_application_fee: "boolean",
    });
    checkMetadata(params.metadata);
    return json(
      c,
      connect.reverseTransfer(c.req.param("id"), {
        amount: readInteger(params, "amount"),
        refundApplicationFee: readBoolean(params, "refund_application_fee"),
        metadata: mergeMetadata({}, params.metadata),
      }),
    );
  });
  app.get("/v1/application_fees", (c) => {
    const { params } = c.env;
    validateParams(params, { limit: "integer", charge: "string" });
    const charge = readString(params, "charge");
    const fees = [...connect.applicationFees.values()].reverse()
      .filter((f) => !charge || f.charge === charge);
    return list(c, fees, "/v1/application_fees");
  });
  app.get("/v1/application_fees/:id", (c) => {
    validateParams(c.env.params, {});
    const fee = connect.applicationFees.get(c.req.param("id"));
    if (!fee) throw resourceMissing("application_fee", c.req.param("id"));
    return json(c, fee);
  });
  app.onError((error) => {
    if (!(error instanceof StripeApiError)) throw error;
    return errorResponse(error);
  });
  return app;
}

/** Whether `path` is one of the platform's Connect endpoints served by {@link createConnectApiApp}. */
export function isConnectPath(path: string): boolean {
  return /^\/v1\/(accounts|account_links|transfers|application_fees)(\/|$)/.test(path);
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${
    escapeHtml(title)
  }</title></head><body><p><strong>rolepass local sandbox – Stripe test double, no real payment</strong></p>${body}</body></html>`;
}

/**
 * The hosted Express pages under `/__double/connect`: onboarding (reached through an Account
 * Link's `url`) and the Express Dashboard (reached through a login link's `url`).
 */
export function createConnectPagesApp(connect: Connect): Hono {
  const app = new Hono().basePath("/__double/connect");
  app.get("/onboarding/:link", (c) => {
    const link = connect.onboardingLink(c.req.param("link"));
    if (!link) {
      return c.html(page("Link not found", "<p>This onboarding link does not exist.</p>"), 404);
    }
    if (link.kind === "refresh") return c.redirect(link.url, 303);
    const due = link.account.requirements?.currently_due ?? [];
    return c.html(page(
      "Express onboarding",
      `<h1>Set up payments for ${escapeHtml(link.account.id)}</h1>` +
        `<p>Stripe needs: ${escapeHtml(due.join(", ") || "nothing more")}</p>` +
        `<form method="post"><button type="submit">Submit details</button></form>`,
    ));
  });
  app.post("/onboarding/:link", (c) => {
    const returnUrl = connect.submitOnboarding(c.req.param("link"));
    const link = connect.onboardingLink(c.req.param("link"));
    if (returnUrl) return c.redirect(returnUrl, 303);
    if (link?.kind === "refresh") return c.redirect(link.url, 303);
    return c.html(page("Link not found", "<p>This onboarding link does not exist.</p>"), 404);
  });
  app.get("/express/:account", (c) => {
    const account = connect.accounts.get(c.req.param("account"));
    if (!account) return c.html(page("Not found", "<p>No such account.</p>"), 404);
    const transfers = [...connect.transfers.values()].filter((t) => t.destination === account.id);
    const rows = transfers.map((t) =>
      `<li>${escapeHtml(t.id)}: ${t.amount} ${
        escapeHtml(t.currency)
      }, reversed ${t.amount_reversed}</li>`
    ).join("");
    return c.html(page(
      "Express Dashboard",
      `<h1>Express Dashboard: ${escapeHtml(account.id)}</h1>` +
        `<p>Payouts ${account.payouts_enabled ? "enabled" : "paused"}</p><ul>${rows}</ul>`,
    ));
  });
  return app;
}

/**
 * The hosted pages of the local sandbox: a Checkout page and a Customer Portal page the browser
 * reaches through `session.url`, plus an index of the account. They are plain HTML forms so a
 * newcomer can walk the member's flow without a Stripe account; every page says it is a double.
 */
import type Stripe from "stripe";
import { formatAmount as formatStripeAmount } from "../../_core/price.ts";
import { checkoutLineItems } from "./expand.ts";
import type { StripeState } from "./state.ts";

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );
}

// The product's own formatting, so the double's pages and the plan page cannot disagree on how
// many decimals a currency has (¥500 is 500 JPY, not ¥5).
function formatAmount(amount: number | null, currency: string | null): string {
  if (amount === null || currency === null) return "";
  try {
    return formatStripeAmount(amount, currency, "en");
  } catch {
    return `${amount} ${currency}`;
  }
}

// What Stripe's hosted Checkout says when the issuer declines the card, in the session's language.
const CARD_DECLINED: Record<string, string> = {
  ja: "カードが拒否されました。",
  en: "Your card was declined.",
};

/**
 * The decline of the session's last payment attempt, or null: a declined payment leaves the
 * session open with an `incomplete` subscription whose latest charge failed.
 */
function declineNotice(state: StripeState, session: Stripe.Checkout.Session): string | null {
  const pendingId = state.checkoutRequests.get(session.id)?.pendingSubscriptionId;
  const pending = pendingId ? state.subscriptions.get(pendingId) : undefined;
  if (session.status !== "open" || pending?.status !== "incomplete") return null;
  const charges = [...state.charges.values()].filter((c) => c.customer === pending.customer);
  if (charges.at(-1)?.status !== "failed") return null;
  const locale = session.locale === "ja" ? "ja" : "en";
  return `<p class="declined" role="alert" lang="${locale}">${CARD_DECLINED[locale]}</p>`;
}

/** The one line that says where a subscription stands: renews, cancels, or ended. */
function subscriptionState(subscription: Stripe.Subscription, periodEnd: number | null): string {
  if (["canceled", "incomplete_expired"].includes(subscription.status)) {
    return `Canceled · ended on ${formatDate(subscription.ended_at)}`;
  }
  const status = subscription.status.replace("_", " ");
  const label = status.charAt(0).toUpperCase() + status.slice(1);
  if (subscription.cancel_at !== null || subscription.cancel_at_period_end) {
    return `${label} · cancels on ${formatDate(subscription.cancel_at ?? periodEnd)}`;
  }
  return `${label} · renews on ${formatDate(periodEnd)}`;
}

function formatDate(timestamp: number | null): string {
  return timestamp === null ? "—" : new Date(timestamp * 1000).toISOString().slice(0, 10);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · rolepass local sandbox</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
  .banner { background: #fff4ce; border: 1px solid #e0b400; padding: .5rem .75rem; border-radius: 6px; }
  .declined { color: #b3261e; font-weight: 600; }
  .card { border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
  button { font: inherit; padding: .5rem 1rem; border-radius: 6px; border: 1px solid #635bff; background: #635bff; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #635bff; }
  form { display: inline; margin-right: .5rem; }
  td, th { padding: .25rem .5rem; text-align: left; vertical-align: top; }
</style>
</head>
<body>
<p class="banner" role="note"><strong>rolepass local sandbox – Stripe test double, no real payment.</strong></p>
${body}
</body>
</html>`;
}

/** The Checkout page of a session: what is bought, "Pay", "Pay with a declined card", "Cancel". */
export function checkoutPage(state: StripeState, session: Stripe.Checkout.Session): string {
  const items = checkoutLineItems(state, session.id).data;
  const rows = items.map((item) => {
    const interval = item.price?.recurring
      ? ` / ${
        item.price.recurring.interval_count > 1 ? `${item.price.recurring.interval_count} ` : ""
      }${item.price.recurring.interval}`
      : "";
    return `<tr><td>${escapeHtml(item.description ?? "")} × ${item.quantity}</td>` +
      `<td>${escapeHtml(formatAmount(item.amount_total, item.currency))}${interval}</td></tr>`;
  }).join("");
  const open = session.status === "open";
  // What hosted Checkout asks for before paying: a promotion code when the session takes them,
  // and the billing address (its country here) when it collects one or computes tax.
  const asksAddress = session.automatic_tax.enabled ||
    session.billing_address_collection === "required";
  const fields = [
    session.allow_promotion_codes
      ? `<p><label>Promotion code <input name="promotion_code" autocomplete="off"></label></p>`
      : "",
    asksAddress
      ? `<p><label>Country <select name="country">${
        ["JP", "US", "GB", "DE", "FR"].map((code) => `<option>${code}</option>`).join("")
      }</select></label> <label>Postal code <input name="postal_code" value="100-0001"></label></p>`
      : "",
  ].join("");
  const actions = open
    ? `<form method="post" action="/__double/checkout/${session.id}/pay">
  ${fields}<input type="hidden" name="outcome" value="paid"><button type="submit">Pay</button>
</form>
<form method="post" action="/__double/checkout/${session.id}/pay">
  <input type="hidden" name="outcome" value="payment_failed">
  <button type="submit" class="secondary">Pay with a card that is declined</button>
</form>
${session.cancel_url ? `<p><a href="${escapeHtml(session.cancel_url)}">Cancel</a></p>` : ""}`
    : `<p>This Checkout Session is <strong>${escapeHtml(session.status ?? "")}</strong>.</p>`;
  const email = session.customer_details?.email ?? session.customer_email;
  const totals = session.total_details;
  const adjustments = [
    totals?.amount_discount
      ? `<p>Discount: −${escapeHtml(formatAmount(totals.amount_discount, session.currency))}</p>`
      : "",
    totals?.amount_tax
      ? `<p>Tax: ${escapeHtml(formatAmount(totals.amount_tax, session.currency))}</p>`
      : "",
  ].join("");
  return layout(
    "Checkout",
    `<h1>${session.mode === "payment" ? "Pay" : "Subscribe"}</h1>
<div class="card">
<table>${rows}</table>
${adjustments}
<p>Total due today: <strong>${
      escapeHtml(formatAmount(session.amount_total, session.currency))
    }</strong></p>
${email ? `<p>Paying as ${escapeHtml(email)}</p>` : ""}
</div>
${declineNotice(state, session) ?? ""}
${actions}
<p><small>Session ${escapeHtml(session.id)}</small></p>`,
  );
}

/** The Customer Portal page: the customer's subscriptions with cancel buttons. */
export function portalPage(state: StripeState, session: Stripe.BillingPortal.Session): string {
  const subscriptions = [...state.subscriptions.values()]
    .filter((s) => s.customer === session.customer)
    .sort((a, b) => state.orderOf(b.id) - state.orderOf(a.id));
  const cards = subscriptions.map((s) => {
    const item = s.items.data[0];
    const product = item ? state.products.get(String(item.price.product)) : undefined;
    const end = item ? Math.max(...s.items.data.map((i) => i.current_period_end)) : null;
    const live = !["canceled", "incomplete_expired"].includes(s.status);
    const scheduled = s.cancel_at !== null || s.cancel_at_period_end;
    const action = (name: string, label: string, secondary = false) =>
      `<form method="post" action="/__double/portal/${session.id}/${name}">` +
      `<input type="hidden" name="subscription" value="${s.id}">` +
      `<button type="submit"${secondary ? ' class="secondary"' : ""}>${label}</button></form>`;
    const buttons = !live
      ? ""
      : scheduled
      ? action("renew", "Don't cancel") + action("cancel_now", "Cancel now", true)
      : action("cancel_at_period_end", "Cancel at period end") +
        action("cancel_now", "Cancel now", true);
    // Stripe's portal offers the configuration's other prices to a live subscription.
    const switches = live && !scheduled && item
      ? switchablePrices(state, session, item.price.id).map((price) => {
        const name = state.products.get(String(price.product))?.name ?? price.id;
        return `<form method="post" action="/__double/portal/${session.id}/switch">` +
          `<input type="hidden" name="subscription" value="${s.id}">` +
          `<input type="hidden" name="price" value="${price.id}">` +
          `<button type="submit" class="secondary">Switch to ${escapeHtml(name)} (${
            escapeHtml(formatAmount(price.unit_amount, price.currency))
          })</button></form>`;
      }).join("")
      : "";
    return `<div class="card">
<h2>${escapeHtml(product?.name ?? "Subscription")}</h2>
<p>${escapeHtml(item ? formatAmount(item.price.unit_amount, item.price.currency) : "")}</p>
<p class="state">${escapeHtml(subscriptionState(s, end))}</p>
${buttons}
${switches ? `<h3>Update plan</h3>\n${switches}` : ""}
</div>`;
  }).join("\n");
  return layout(
    "Billing",
    `<h1>Manage your subscription</h1>
${cards || "<p>No subscriptions.</p>"}
<p><a href="${escapeHtml(session.return_url ?? "/")}">← Return</a></p>`,
  );
}

/** The prices the session's portal configuration lets a member switch to from `currentPriceId`. */
function switchablePrices(
  state: StripeState,
  session: Stripe.BillingPortal.Session,
  currentPriceId: string,
): Stripe.Price[] {
  const configuration = state.portalConfigurations.get(String(session.configuration));
  if (!configuration?.features.subscription_update.enabled) return [];
  return (state.portalUpdateProducts.get(configuration.id) ?? [])
    .flatMap((product) => product.prices)
    .filter((id) => id !== currentPriceId)
    .flatMap((id) => state.prices.get(id) ?? []);
}

/** An index of the sandbox account, with links to each subscription's simulation controls. */
export function indexPage(state: StripeState): string {
  const rows = [...state.subscriptions.values()]
    .sort((a, b) => state.orderOf(b.id) - state.orderOf(a.id))
    .map((s) => {
      const periodEnd = Math.max(...s.items.data.map((i) => i.current_period_end));
      const buttons = [
        "advance",
        "fail_renewal",
        "recover_renewal",
        "cancel_now",
        "refund",
        "dispute",
      ]
        .map((action) =>
          `<form method="post" action="/__double/subscriptions/${s.id}/${action}?redirect=1">` +
          `<button type="submit" class="secondary">${action.replace("_", " ")}</button></form>`
        ).join("");
      return `<tr><td><code>${s.id}</code><br><code>${escapeHtml(String(s.customer))}</code></td>` +
        `<td>${escapeHtml(subscriptionState(s, periodEnd))}</td>` +
        `<td>${formatDate(periodEnd)}</td>` +
        `<td>${buttons}</td></tr>`;
    }).join("");
  return layout(
    "Stripe double",
    `<h1>Stripe double</h1>
<p>Subscriptions of the sandbox account. "advance" moves a subscription to the end of its period (renewal, or a scheduled cancel takes effect).</p>
<table><tr><th>subscription / customer</th><th>status</th><th>period end</th><th></th></tr>${rows}</table>
<p><a href="/__double/events">events (JSON)</a> · <a href="/__double/requests">requests (JSON)</a></p>`,
  );
}

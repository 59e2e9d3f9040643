/**
 * Writes money facts into the ledger (rolepass.money_ledger), inside the caller's transaction, so a
 * fact commits with the webhook event that brought it or not at all.
 */
import type { MoneyFact } from "../_core/ledger.ts";
import type { Transaction } from "./subscription_sync.ts";

/**
 * Inserts `facts` in one statement. A fact is keyed by its kind and Stripe id, so a replayed or
 * reordered event adds nothing; only a dispute's status moves, and only forward. A fact whose
 * prices sell no rolepass plan is not recorded. The database places each fact in its period.
 */
export async function recordMoneyFacts(
  tx: Transaction,
  facts: MoneyFact[],
  eventId: string | null,
): Promise<void> {
  if (!facts.length) return;
  const rows = facts.map((fact) => ({
    kind: fact.kind,
    stripe_object_id: fact.stripeObjectId,
    price_ids: fact.priceIds,
    stripe_customer_id: fact.customerId,
    stripe_subscription_id: fact.subscriptionId,
    stripe_invoice_id: fact.invoiceId,
    stripe_charge_id: fact.chargeId,
    starts_subscription: fact.startsSubscription,
    amount: fact.amount,
    currency: fact.currency,
    occurred_at: fact.occurredAt.toISOString(),
    dispute_status: fact.disputeStatus,
  }));
  await tx`
    insert into rolepass.money_ledger as l (guild_id, plan_id, stripe_price_id, kind,
      stripe_object_id, stripe_customer_id, stripe_subscription_id, stripe_invoice_id,
      stripe_charge_id, starts_subscription, amount, currency, occurred_at, dispute_status,
      stripe_event_id, fact_month, period_month)
    select p.guild_id, p.id, p.stripe_price_id, f.kind, f.stripe_object_id, f.stripe_customer_id,
      f.stripe_subscription_id, f.stripe_invoice_id, f.stripe_charge_id, f.starts_subscription,
      f.amount, f.currency, f.occurred_at, f.dispute_status, ${eventId},
      -- placeholders: the money_ledger_place trigger sets both
      f.occurred_at::date, f.occurred_at::date
    from jsonb_to_recordset(${tx.json(rows)}) as f(kind text, stripe_object_id text,
      price_ids text[], stripe_customer_id text, stripe_subscription_id text,
      stripe_invoice_id text, stripe_charge_id text, starts_subscription boolean, amount bigint,
      currency text, occurred_at timestamptz, dispute_status text)
    cross join lateral (
      select pl.id, pl.guild_id, pl.stripe_price_id from rolepass.plans pl
      where pl.stripe_price_id = any(f.price_ids)
      order by array_position(f.price_ids, pl.stripe_price_id)
      limit 1
    ) p
    on conflict (kind, stripe_object_id) do update set dispute_status = excluded.dispute_status
    where rolepass.dispute_status_rank(l.dispute_status)
      < rolepass.dispute_status_rank(excluded.dispute_status)`;
}

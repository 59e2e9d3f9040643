/**
 * Every Stripe status x cancel mode x grace x revocation, walked through the one place that
 * decides each rule: "is this subscription live?" (`_core/subscription_state.ts`), "when does the
 * role end?" and "who has the role now?" (`_core/entitlement.ts`). The expectations are written
 * per dimension below, as a reader of DESIGN.md invariant 3 would state them.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  decideEntitlement,
  type EntitlementDecision,
  type EntitlementInput,
  type NotEntitledReason,
  paidRolesHeldNow,
  type RecordedRevocation,
  revocationInForce,
  revocationOf,
  roleEndReason,
  rolesGrantedBy,
} from "../../functions/_core/entitlement.ts";
import {
  SUBSCRIPTION_STATUSES,
  type SubscriptionStatus,
} from "../../functions/_core/stripe_shapes.ts";
import {
  holdsLiveSubscription,
  meaningOf,
  storedStatusFacts,
  subscriptionHasEnded,
  subscriptionIsLive,
} from "../../functions/_core/subscription_state.ts";

const DAY = 86_400_000;
const now = new Date("2026-11-21T12:00:00Z");
const at = (days: number) => new Date(now.getTime() + days * DAY);
const periodStart = at(-2);
const periodEnd = at(28);
const ROLE_ID = "123456789012345678";

/** The statuses a member manages in the portal instead of buying again. */
const LIVE: ReadonlySet<SubscriptionStatus> = new Set([
  "active",
  "trialing",
  "past_due",
  "unpaid",
  "paused",
]);
/** The statuses Stripe is done with. */
const ENDED: ReadonlySet<SubscriptionStatus> = new Set(["canceled", "incomplete_expired"]);
/** The statuses that entitle without condition; past_due entitles inside the grace only. */
const ENTITLING: ReadonlySet<SubscriptionStatus> = new Set(["active", "trialing"]);

interface CancelMode {
  name: string;
  fields: Pick<EntitlementInput, "cancelAt" | "cancelAtPeriodEnd">;
  /** When the cancel takes effect, or null. */
  takesEffectAt: Date | null;
}

const CANCEL_MODES: CancelMode[] = [
  { name: "no cancel", fields: { cancelAt: null, cancelAtPeriodEnd: false }, takesEffectAt: null },
  {
    name: "cancel_at ahead",
    fields: { cancelAt: at(1), cancelAtPeriodEnd: false },
    takesEffectAt: at(1),
  },
  {
    name: "cancel_at passed",
    fields: { cancelAt: at(-1), cancelAtPeriodEnd: false },
    takesEffectAt: at(-1),
  },
  {
    name: "cancel_at_period_end",
    fields: { cancelAt: null, cancelAtPeriodEnd: true },
    takesEffectAt: periodEnd,
  },
];

interface Grace {
  name: string;
  ms: number;
  /** When the grace runs out for a subscription past_due since the period started. */
  endsAt: Date | null;
}

const GRACES: Grace[] = [
  { name: "no grace", ms: 0, endsAt: null },
  { name: "grace, inside it", ms: 3 * DAY, endsAt: at(1) },
  { name: "grace, outside it", ms: 1 * DAY, endsAt: at(-1) },
];

interface RevocationCase {
  name: string;
  recorded: RecordedRevocation[];
  inForce: "refund" | "dispute" | null;
}

const REVOCATIONS: RevocationCase[] = [
  { name: "no revocation", recorded: [], inForce: null },
  {
    name: "refund in force",
    recorded: [{ reason: "refund", coversPeriodEnd: periodEnd }],
    inForce: "refund",
  },
  {
    name: "dispute in force",
    recorded: [
      { reason: "refund", coversPeriodEnd: periodEnd },
      { reason: "dispute", coversPeriodEnd: periodEnd },
    ],
    inForce: "dispute",
  },
  {
    name: "revocation lifted by a later paid period",
    recorded: [{ reason: "dispute", coversPeriodEnd: at(-3) }],
    inForce: null,
  },
];

/** What invariant 3 and the scheduled-cancel and revocation rules say, one dimension at a time. */
function expected(
  status: SubscriptionStatus,
  cancel: CancelMode,
  grace: Grace,
  revocation: RevocationCase,
): { reason: NotEntitledReason | null; until: Date | null } {
  if (revocation.inForce) return { reason: revocation.inForce, until: null };
  if (status !== "past_due" && !ENTITLING.has(status)) {
    return { reason: status as NotEntitledReason, until: null };
  }
  if (status === "past_due" && grace.endsAt === null) return { reason: "past_due", until: null };
  if (status === "past_due" && grace.endsAt && grace.endsAt <= now) {
    return { reason: "grace_period_ended", until: null };
  }
  if (cancel.takesEffectAt && cancel.takesEffectAt <= now) {
    return { reason: "scheduled_cancel_took_effect", until: null };
  }
  const ends = [status === "past_due" ? grace.endsAt : null, cancel.takesEffectAt]
    .filter((date): date is Date => date !== null)
    .sort((a, b) => a.getTime() - b.getTime());
  return { reason: null, until: ends[0] ?? null };
}

Deno.test("every status, cancel mode, grace and revocation is decided as the rules say", () => {
  let cases = 0;
  for (const status of SUBSCRIPTION_STATUSES) {
    for (const cancel of CANCEL_MODES) {
      for (const grace of GRACES) {
        for (const revocation of REVOCATIONS) {
          const name = `${status}, ${cancel.name}, ${grace.name}, ${revocation.name}`;
          const subscription: EntitlementInput = {
            status,
            ...cancel.fields,
            currentPeriodStart: periodStart,
            currentPeriodEnd: periodEnd,
          };
          const revokedFor = revocationInForce(subscription, revocation.recorded);
          assertEquals(revokedFor, revocation.inForce, name);

          const decision: EntitlementDecision = decideEntitlement(
            subscription,
            { pastDueGraceMs: grace.ms },
            now,
            revokedFor,
          );
          const want = expected(status, cancel, grace, revocation);
          assertEquals(decision.reason, want.reason, name);
          assertEquals(decision.entitled, want.reason === null, name);
          assertEquals(decision.entitledUntil, want.until, name);
          assertEquals(decision.scheduledCancelAt, cancel.takesEffectAt, name);
          assertEquals(decision.pastDueSince, status === "past_due" ? periodStart : null, name);

          const roles = rolesGrantedBy(decision, status, {
            paidRoleIds: [ROLE_ID],
            trialRoleIds: null,
          });
          assertEquals(roles, decision.entitled ? [ROLE_ID] : [], name);
          assertEquals(
            paidRolesHeldNow({ entitled: decision.entitled, entitledRoleIds: roles }),
            roles,
            name,
          );

          const live = holdsLiveSubscription({
            entitled: decision.entitled,
            stripeSubscriptionId: "sub_1",
            status,
          });
          assertEquals(live, LIVE.has(status), name);
          assert(
            !decision.entitled || live,
            `${name}: an entitled member holds a live subscription`,
          );
          cases++;
        }
      }
    }
  }
  assertEquals(cases, SUBSCRIPTION_STATUSES.length * 4 * 3 * 4);
});

Deno.test("a status is live, ended or neither, and incomplete is neither", () => {
  for (const status of SUBSCRIPTION_STATUSES) {
    assertEquals(subscriptionIsLive(status), LIVE.has(status), status);
    assertEquals(subscriptionHasEnded(status), ENDED.has(status), status);
  }
  assertEquals(subscriptionIsLive("incomplete"), false);
  assertEquals(subscriptionHasEnded("incomplete"), false);
});

Deno.test("a status Stripe does not document never entitles, is not live and has not ended", () => {
  for (const status of ["mystery", null]) {
    assertEquals(meaningOf(status), {
      entitles: "never",
      live: false,
      ended: false,
      roleSet: "paid",
      standing: "none",
    });
  }
});

Deno.test("a membership holds a live subscription when entitled or its subscription is live", () => {
  const none = { entitled: false, stripeSubscriptionId: null, status: null };
  assertEquals(holdsLiveSubscription(null), false);
  assertEquals(holdsLiveSubscription(none), false);
  assertEquals(holdsLiveSubscription({ ...none, entitled: true }), true);
  for (const status of SUBSCRIPTION_STATUSES) {
    assertEquals(
      holdsLiveSubscription({ ...none, stripeSubscriptionId: "sub_1", status }),
      LIVE.has(status),
      status,
    );
    assertEquals(holdsLiveSubscription({ ...none, status }), false, `${status} without an id`);
  }
});

Deno.test("a membership stores its trial's role set and how its payments stand", () => {
  for (const status of SUBSCRIPTION_STATUSES) {
    assertEquals(storedStatusFacts(status), {
      planRoleSet: status === "trialing" ? "trial" : "paid",
      paymentStanding: ENTITLING.has(status)
        ? "good"
        : status === "past_due" || status === "unpaid"
        ? "failed"
        : "none",
    }, status);
  }
  // What a membership with no subscription (comps, passes alone) stores: the columns' defaults.
  for (const status of [null, "mystery"]) {
    assertEquals(storedStatusFacts(status), { planRoleSet: "paid", paymentStanding: "none" });
  }
});

Deno.test("a stored membership holds its roles only while entitled", () => {
  assertEquals(paidRolesHeldNow({ entitled: true, entitledRoleIds: [ROLE_ID] }), [ROLE_ID]);
  assertEquals(paidRolesHeldNow({ entitled: false, entitledRoleIds: [ROLE_ID] }), []);
  assertEquals(paidRolesHeldNow({ entitled: false, entitledRoleIds: [] }), []);
});

Deno.test("a role ends for non-payment when a renewal failed or the grace ran out", () => {
  for (const status of SUBSCRIPTION_STATUSES) {
    for (const changeCause of ["customer.subscription.updated", "grace_period_ended"]) {
      const failed = status === "past_due" || status === "unpaid" ||
        changeCause === "grace_period_ended";
      assertEquals(
        roleEndReason({ revokedReason: null, endedFor: null, status, changeCause }),
        failed ? "payment_failed" : null,
        `${status}, ${changeCause}`,
      );
      for (const revokedReason of ["refund", "dispute"] as const) {
        assertEquals(
          roleEndReason({ revokedReason, endedFor: null, status, changeCause }),
          revokedReason,
        );
      }
    }
  }
  assertEquals(
    roleEndReason({ revokedReason: null, endedFor: null, status: null, changeCause: "created" }),
    null,
  );
});

Deno.test("a refund stage records a refund and a dispute stage a dispute", () => {
  assertEquals(revocationOf("full_refund"), "refund");
  assertEquals(revocationOf("partial_refund"), "refund");
  assertEquals(revocationOf("dispute_opened"), "dispute");
  assertEquals(revocationOf("dispute_lost"), "dispute");
  assertEquals(revocationOf("dispute_won"), "dispute");
});

/**
 * A member switches plans in the Stripe Customer Portal (issue 14 item 5), end to end: the hosted
 * portal of the Stripe double changes the price with the configuration's prorations, the events go
 * through the real stripe-webhook, and role-sync moves the member from the old plan's roles to the
 * new one's, never removing a role both plans grant, and tells the member once.
 */
import type Stripe from "stripe";
import { assertEquals } from "../harness/assert.ts";
import type { ProrationBehavior } from "../../functions/_doubles/stripe/plan_switches.ts";
import { type PlanRolesWorld, type Subscriber, withPlanRolesWorld } from "./plan_roles_world.ts";

const MEMBER = "400000000000000002";

/** Presses "Switch to ..." on the member's portal page for `priceId`. */
async function switchInPortal(world: PlanRolesWorld, member: Subscriber, priceId: string) {
  const portal = await world.web.stripe.billingPortal.sessions.create({
    customer: member.customerId,
    return_url: "https://rolepass.test/account",
  });
  const page = await (await fetch(portal.url)).text();
  const name = priceId === world.gold.priceId ? "Gold" : "Silver";
  assertEquals(page.includes(`Switch to ${name}`), true, `the portal offers ${name}`);
  const answer = await fetch(`${portal.url}/switch`, {
    method: "POST",
    body: new URLSearchParams({ subscription: member.subscriptionId, price: priceId }),
    redirect: "manual",
  });
  await answer.body?.cancel();
  assertEquals(answer.status, 303);
}

function sharedRoleRemovals(world: PlanRolesWorld): number {
  return world.discord.requests().filter((request) =>
    request.method === "DELETE" && request.path.endsWith(`/roles/${world.roles.shared}`)
  ).length;
}

for (const behavior of ["always_invoice", "create_prorations"] as ProrationBehavior[]) {
  Deno.test(`a Portal upgrade then downgrade (${behavior}) ends in each plan's roles, told once each`, async () => {
    await withPlanRolesWorld(async (world) => {
      const { roles } = world;
      world.web.stripeDouble.configurePortalPlanSwitching({
        enabled: true,
        prices: [world.silver.priceId, world.gold.priceId],
        prorationBehavior: behavior,
      });
      const member = await world.subscribe(MEMBER, world.silver);
      assertEquals(world.memberRoles(MEMBER), [roles.silver, roles.shared].sort());

      world.web.clock.now = new Date(world.web.clock.now.getTime() + 3_600_000);
      await switchInPortal(world, member, world.gold.priceId);
      await world.deliver();
      assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort(), "upgraded");

      const subscription = world.web.stripeDouble.get<Stripe.Subscription>(member.subscriptionId);
      const invoice = world.web.stripeDouble.get<Stripe.Invoice>(
        String(subscription?.latest_invoice),
      );
      assertEquals(
        invoice?.billing_reason,
        behavior === "always_invoice" ? "subscription_update" : "subscription_create",
        "the proration is billed as the portal configuration says",
      );

      await switchInPortal(world, member, world.silver.priceId);
      await world.deliver();
      assertEquals(world.memberRoles(MEMBER), [roles.silver, roles.shared].sort(), "downgraded");
      assertEquals(sharedRoleRemovals(world), 0, "the role both plans grant was never removed");

      const told = (await world.memberNotices(MEMBER)).map((notice) =>
        notice.kind === "role_change" ? notice.payload.kind : notice.kind
      );
      assertEquals(told, ["grant", "swap", "swap"], "one message per change");
      const membership = await world.web.membership(member.membershipId);
      assertEquals(membership.entitled, true);
    });
  });
}

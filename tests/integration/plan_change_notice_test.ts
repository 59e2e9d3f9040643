/**
 * A plan change that keeps the member's roles (monthly to a yearly plan of the same roles), end to
 * end: the price changes on the Stripe double as the Customer Portal changes it, the event goes
 * through the real stripe-webhook, and role-sync tells the member once, in their language, which
 * plan they are on now; no role moves. (A change that moves roles is told as a swap:
 * portal_plan_switch_test.ts.)
 */
import type Stripe from "stripe";
import { assert, assertEquals } from "../harness/assert.ts";
import { withPlanRolesWorld } from "./plan_roles_world.ts";
import { postAll } from "./webhook_harness.ts";

const MEMBER = "400000000000000003";

for (const locale of ["en", "ja"] as const) {
  Deno.test(`a plan change keeping the roles is told once, with its name (${locale})`, async () => {
    await withPlanRolesWorld(async (world) => {
      const { roles } = world;
      const yearly = await world.addPlan("Gold yearly", [roles.gold, roles.shared], 9_800);
      const member = await world.subscribe(MEMBER, world.gold);
      await world.db.sql`update rolepass.memberships set locale = ${locale}
        where id = ${member.membershipId}`;
      const before = world.discord.messages({ userId: MEMBER }).length;
      const roleCalls = () =>
        world.discord.requests().filter((request) => request.path.includes("/roles/")).length;
      const callsBefore = roleCalls();

      const subscription = world.web.stripeDouble.get<Stripe.Subscription>(
        member.subscriptionId,
      );
      const item = subscription?.items.data[0];
      assert(item, "the subscription has an item");
      await world.web.stripe.subscriptions.update(member.subscriptionId, {
        items: [{ id: item.id, price: yearly.priceId }],
        proration_behavior: "create_prorations",
      });
      // Stripe's retries deliver the events again: still one message.
      const events = world.web.takeEvents();
      await postAll(world.web, events);
      await postAll(world.web, events);
      await world.settle();

      assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort());
      assertEquals(roleCalls(), callsBefore, "no role moved");
      const told = world.discord.messages({ userId: MEMBER }).slice(before)
        .map((message) => message.content ?? "");
      assertEquals(told.length, 1, told.join("\n---\n"));
      const words = locale === "ja" ? "プランが「Gold yearly」に変わりました" : '"Gold yearly"';
      assert(told[0]?.includes(words), told[0]);
    });
  });
}

/**
 * The end of dunning as the member reads it, through the real functions: the Stripe double fails a
 * renewal, the webhook re-reads it, role-sync posts into the Discord double. However dunning ends
 * (Stripe cancels the subscription when its retries run out, marks it unpaid, or the guild's grace
 * period runs out first), the member's last message says the payment did not go through and that
 * /subscribe fixes it; a subscription the member cancelled says only that it ended, also when they
 * cancelled while a renewal was past due (Stripe's cancellation_details.reason says why it ended,
 * not the status it ended from).
 */
import type { Locale } from "../../functions/_core/locale.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { type PlanRolesWorld, withPlanRolesWorld } from "./plan_roles_world.ts";

const MEMBER = "130000000000000001";

/** The words each language's message uses for a payment that did not go through. */
const NOT_PAID = { en: "did not go through", ja: "お支払いを確認できない" };
const FIX_CARD = { en: "update your payment method", ja: "お支払い方法を更新" };
/** The words each language's message uses for a subscription that ended in the ordinary way. */
const ENDED = { en: "has ended", ja: "ご購読が終了した" };

async function setGrace(world: PlanRolesWorld, grace: string): Promise<void> {
  await world.db.sql`update rolepass.guilds set past_due_grace = ${grace}::interval
    where id = ${world.guildId}`;
}

async function setLocale(world: PlanRolesWorld, locale: Locale): Promise<void> {
  await world.db.sql`update rolepass.memberships set locale = ${locale}
    where guild_id = ${world.guildId} and discord_user_id = ${MEMBER}`;
}

/** What Discord shows the member, oldest first. */
function shown(world: PlanRolesWorld): string[] {
  return world.discord.messages({ userId: MEMBER }).map((message) => message.content ?? "");
}

/**
 * A member in a 14-day grace whose renewal just failed, still holding their roles; `before` is how
 * many messages they had been shown by then.
 */
async function pastDueInGrace(world: PlanRolesWorld, locale: Locale) {
  await setGrace(world, "14 days");
  const member = await world.subscribe(MEMBER, world.gold);
  await setLocale(world, locale);
  world.web.stripeDouble.failRenewal(member.subscriptionId);
  await world.deliver();
  assertEquals(world.memberRoles(MEMBER).length, 2, "the grace keeps the roles");
  return { member, before: shown(world).length };
}

for (const locale of ["en", "ja"] as const) {
  for (const result of ["canceled", "unpaid"] as const) {
    const name = `dunning ended ${result} in the grace: the member is told why and how (${locale})`;
    Deno.test(name, async () => {
      await withPlanRolesWorld(async (world) => {
        const { member, before } = await pastDueInGrace(world, locale);

        world.web.stripeDouble.endDunning(member.subscriptionId, result);
        await world.deliver();
        assertEquals(world.memberRoles(MEMBER), []);
        const told = shown(world).slice(before);
        assertEquals(told.length, 1, told.join("\n---\n"));
        const last = told[0] ?? "";
        assert(last.includes(NOT_PAID[locale]), last);
        assert(last.includes(FIX_CARD[locale]), last);
        assert(last.includes("/subscribe"), last);
      });
    });
  }
}

Deno.test("a grace period that runs out: the member is told the payment failed", async () => {
  await withPlanRolesWorld(async (world) => {
    await setGrace(world, "3 days");
    const member = await world.subscribe(MEMBER, world.gold);
    await setLocale(world, "en");
    world.web.stripeDouble.failRenewal(member.subscriptionId);
    await world.deliver();
    const before = shown(world).length;
    await world.db.sql`update rolepass.memberships set entitled_until = now() - interval '1 second'
      where id = ${member.membershipId}`;
    await world.db.sql`select rolepass.expire_entitlements()`;
    await world.settle();
    const told = shown(world).slice(before);
    assertEquals(told.length, 1, told.join("\n---\n"));
    assert(told[0]?.includes(NOT_PAID.en) && told[0].includes("/subscribe"), told[0]);
  });
});

Deno.test("a subscription the member cancelled: told it ended, not that it failed", async () => {
  await withPlanRolesWorld(async (world) => {
    const member = await world.subscribe(MEMBER, world.gold);
    await setLocale(world, "en");
    const before = shown(world).length;
    world.web.stripeDouble.cancelNow(member.subscriptionId);
    await world.deliver();
    const told = shown(world).slice(before);
    assertEquals(told.length, 1, told.join("\n---\n"));
    assert(told[0]?.includes("has ended") && !told[0].includes(NOT_PAID.en), told[0]);
  });
});

for (const locale of ["en", "ja"] as const) {
  const name = "a member who cancels while past due is told the subscription ended, " +
    `not that the payment failed (${locale})`;
  Deno.test(name, async () => {
    await withPlanRolesWorld(async (world) => {
      const { member, before } = await pastDueInGrace(world, locale);

      world.web.stripeDouble.cancelNow(member.subscriptionId);
      await world.deliver();
      assertEquals(world.memberRoles(MEMBER), []);
      const [stored] = await world.db.sql<{ ended_for: string | null }[]>`
        select ended_for from rolepass.memberships where id = ${member.membershipId}`;
      assertEquals(stored?.ended_for, "requested");
      const told = shown(world).slice(before);
      assertEquals(told.length, 1, told.join("\n---\n"));
      const last = told[0] ?? "";
      assert(last.includes(ENDED[locale]), last);
      assert(!last.includes(NOT_PAID[locale]) && !last.includes(FIX_CARD[locale]), last);
      assert(last.includes("/subscribe"), last);
    });
  });
}

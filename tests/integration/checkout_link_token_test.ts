/**
 * What a link token allows: looking is free, the first session uses it, the same session can be
 * asked for again (double click, back button), anything else is refused and changes nothing.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { newLinkToken } from "../../functions/_core/link_token.ts";
import {
  checkoutRecords,
  GUILD_ID,
  OTHER_GUILD_ID,
  PLAN_DISPLAY,
  SELLER_NOTICE,
  withCheckoutWorld,
} from "./checkout_harness.ts";

Deno.test("the plan view lists the guild's plans and seller notice in the link's language", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink({ locale: "en" });
    const answer = await world.post("plan-view", { token });
    assertEquals(answer.status, 200);
    assertEquals(answer.body.locale, "en");
    assertEquals(answer.body.guild.id, GUILD_ID);
    assertEquals(answer.body.guild.sellerNotice.seller, SELLER_NOTICE.seller);
    assertEquals(answer.body.plans.length, 1);
    assertEquals(answer.body.plans[0].id, world.planId);
    assertEquals(answer.body.plans[0].display.ja.name, PLAN_DISPLAY.ja.name);
    assertEquals(answer.body.plans[0].display.en.role_name, PLAN_DISPLAY.en.role_name);
    assertEquals(answer.body.plans[0].display.ja.role_name, PLAN_DISPLAY.ja.role_name);
    assertEquals(answer.body.plans[0].unitAmount, 500);
    assertEquals(answer.body.entitled, false);
  });
});

Deno.test("a plan stored before role names existed is still shown, without a role name", async () => {
  await withCheckoutWorld(async (world) => {
    const display = structuredClone(PLAN_DISPLAY);
    delete display.en.role_name;
    delete display.ja.role_name;
    await world.db.sql`
      update rolepass.plans set display = ${world.db.sql.json(display)} where id = ${world.planId}`;
    const answer = await world.post("plan-view", { token: await world.issueLink() });
    assertEquals(answer.status, 200);
    assertEquals(answer.body.plans.length, 1);
    assertEquals(answer.body.plans[0].display.en.name, PLAN_DISPLAY.en.name);
    assert(!("role_name" in answer.body.plans[0].display.en));
    assert(!("role_name" in answer.body.plans[0].display.ja));
  });
});

Deno.test("looking at the plans never uses the link up, so a reload still works", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    for (let i = 0; i < 3; i++) {
      assertEquals((await world.post("plan-view", { token })).status, 200);
    }
    const records = await checkoutRecords(world.db);
    assertEquals(records.usedLinks, 0);
    assertEquals(records.memberships.length, 0);
    assertEquals(
      (await world.post("checkout-session", { token, planId: world.planId })).status,
      200,
    );
  });
});

Deno.test("malformed, unknown, expired and wrong-purpose links get a clear 4xx and change nothing", async () => {
  await withCheckoutWorld(async (world) => {
    const expired = await world.issueLink({ expired: true });
    const manage = await world.issueLink({ purpose: "manage" });
    const cases: [string, unknown, number, string][] = [
      ["plan-view", { token: "short" }, 400, "malformed_token"],
      ["plan-view", { token: "A".repeat(43) + "=" }, 400, "malformed_token"],
      ["plan-view", { token: newLinkToken() }, 404, "unknown_token"],
      ["plan-view", { token: expired }, 410, "expired_token"],
      ["plan-view", { token: manage }, 403, "wrong_purpose"],
      ["checkout-session", { token: expired, planId: world.planId }, 410, "expired_token"],
      ["checkout-session", { token: newLinkToken(), planId: world.planId }, 404, "unknown_token"],
      ["checkout-session", { token: manage, planId: world.planId }, 403, "wrong_purpose"],
      ["portal-session", { token: await world.issueLink() }, 403, "wrong_purpose"],
      ["checkout-session", { token: expired }, 400, "invalid_request"],
      ["plan-view", "{not json", 400, "invalid_request"],
      ["nothing-here", { token: expired }, 404, "not_found"],
      ["plan-view", { token: "x".repeat(10_000) }, 413, "invalid_request"],
    ];
    for (const [path, body, status, code] of cases) {
      const answer = await world.post(path, body);
      assertEquals([answer.status, answer.body.error?.code], [status, code], `${path} ${code}`);
      assert(typeof answer.body.error.message === "string" && answer.body.error.message.length > 0);
    }
    const records = await checkoutRecords(world.db);
    assertEquals(records, { memberships: [], attempts: [], usedLinks: 0 });
    assertEquals(world.stripeDouble.requests().length, 0, "Stripe was never called");
  });
});

Deno.test("guessing tokens finds nothing: a thousand random tokens are all unknown", async () => {
  await withCheckoutWorld(async (world) => {
    await world.issueLink();
    const answers = await Promise.all(
      Array.from({ length: 1000 }, () => world.post("plan-view", { token: newLinkToken() })),
    );
    assert(answers.every((a) => a.status === 404 && a.body.error.code === "unknown_token"));
  });
});

Deno.test("a double click returns the same Checkout session instead of a second one", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    const first = await world.post("checkout-session", { token, planId: world.planId });
    const second = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals([first.status, second.status], [200, 200]);
    assertEquals(second.body.url, first.body.url);
    const created = world.stripeDouble.requests({ method: "POST", path: "/v1/checkout/sessions" });
    assertEquals(created.filter((r) => !r.replayed).length, 1, "one session created on Stripe");
    const records = await checkoutRecords(world.db);
    assertEquals(records.attempts.length, 1);
    assertEquals(records.usedLinks, 1);
  });
});

Deno.test("a used link cannot open a Checkout for another plan", async () => {
  await withCheckoutWorld(async (world) => {
    const other = world.stripeDouble.createPrice({
      unitAmount: 5000,
      currency: "jpy",
      interval: "year",
    });
    const [plan] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, sort_order)
      values (${GUILD_ID}, ${other.id}, '330000000000000001', ${world.db.sql.json(PLAN_DISPLAY)},
        5000, 'jpy', 'year', 1)
      returning id`;
    assert(plan, "plan is missing");
    const token = await world.issueLink();
    assertEquals(
      (await world.post("checkout-session", { token, planId: world.planId })).status,
      200,
    );
    const again = await world.post("checkout-session", { token, planId: plan.id });
    assertEquals([again.status, again.body.error.code], [409, "used_token"]);
    assertEquals((await checkoutRecords(world.db)).attempts.length, 1);
  });
});

Deno.test("a plan of another guild, or an inactive plan, cannot be bought with a link", async () => {
  await withCheckoutWorld(async (world) => {
    const [foreign] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval)
      values (${OTHER_GUILD_ID}, 'price_foreign', '330000000000000009',
        ${world.db.sql.json(PLAN_DISPLAY)}, 100, 'jpy', 'month')
      returning id`;
    assert(foreign, "foreign is missing");
    const token = await world.issueLink();
    const answer = await world.post("checkout-session", { token, planId: foreign.id });
    assertEquals([answer.status, answer.body.error.code], [404, "unknown_plan"]);
    await world.db.sql`update rolepass.plans set active = false where id = ${world.planId}`;
    const inactive = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals([inactive.status, inactive.body.error.code], [404, "unknown_plan"]);
    const view = await world.post("plan-view", { token });
    assertEquals([view.status, view.body.error.code], [404, "no_plans"]);
    assertEquals(await checkoutRecords(world.db), { memberships: [], attempts: [], usedLinks: 0 });
  });
});

Deno.test("no log line ever contains a link token", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    const expired = await world.issueLink({ expired: true });
    await world.post("plan-view", { token });
    await world.post("checkout-session", { token, planId: world.planId });
    await world.post("checkout-session", { token: expired, planId: world.planId });
    world.stripeDouble.inject({ path: "/v1/checkout/sessions", status: 500 });
    await world.post("checkout-session", {
      token: await world.issueLink({ memberId: "220000000000000002" }),
      planId: world.planId,
    });
    assert(world.logLines.length > 0);
    for (const line of world.logLines) {
      assert(!line.includes(token) && !line.includes(expired), `token in log: ${line}`);
    }
  });
});

/**
 * `deno task import` against the Stripe double and the real database: every kind of wrong row is
 * refused with its reason and nothing is written; a clean file is checked by a dry run, then
 * imported with rolepass's metadata on Stripe, after which the webhook's normal path owns it.
 */
import { runImport } from "../../functions/_cli/import.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const OTHER_GUILD = "100000000000000777";

/** A subscriber rolepass never saw: a customer and a paid subscription without its metadata. */
async function outsideSubscriber(world: WebhookWorld, priceId = world.plan.priceId) {
  const customer = await world.stripe.customers.create({ email: "fan@example.com" });
  const session = await world.stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: priceId, quantity: 1 }],
    success_url: "https://example.com/done",
    cancel_url: "https://example.com/cancel",
  });
  const { subscription } = world.stripeDouble.completeCheckout(session.id);
  return { customerId: customer.id, subscriptionId: subscription.id };
}

async function runFile(world: WebhookWorld, lines: string[], extra: Record<string, boolean> = {}) {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  const out: string[] = [];
  const err: string[] = [];
  try {
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    const code = await runImport({ guild: world.guildId, file: path, ...extra }, {
      DATABASE_URL: world.db.url,
      STRIPE_SECRET_KEY: "sk_test_rolepass",
      STRIPE_API_BASE_URL: world.stripeDouble.url,
    }, { out: (line) => out.push(line), error: (line) => err.push(line) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    await Deno.remove(path);
  }
}

async function memberships(world: WebhookWorld): Promise<number> {
  const [row] = await world.db.sql<{ count: number }[]>`
    select count(*)::int as count from rolepass.memberships`;
  if (!row) throw new Error("count(*) returned no row");
  return row.count;
}

Deno.test("an import file with every kind of wrong row is refused row by row and writes nothing", async () => {
  const world = await startWebhookWorld();
  try {
    const good = await outsideSubscriber(world);
    const ended = await outsideSubscriber(world);
    await world.stripe.subscriptions.cancel(ended.subscriptionId);
    const foreignPrice = world.stripeDouble.createPrice({
      unitAmount: 500,
      currency: "jpy",
      interval: "month",
    });
    await world.db.sql`insert into rolepass.guilds (id, name) values (${OTHER_GUILD}, 'Other')`;
    await world.db.sql`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval)
      values (${OTHER_GUILD}, ${foreignPrice.id}, '100000000000000778',
        ${world.db.sql.json({ en: { name: "Other" } })}, 500, 'jpy', 'month')`;
    const otherGuilds = await outsideSubscriber(world, foreignPrice.id);
    const noPlanPrice = world.stripeDouble.createPrice({
      unitAmount: 700,
      currency: "jpy",
      interval: "month",
    });
    const noPlan = await outsideSubscriber(world, noPlanPrice.id);
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    const tagged = await outsideSubscriber(world);
    await world.stripe.customers.update(tagged.customerId, {
      metadata: { rolepass_guild_id: OTHER_GUILD },
    });
    const before = await memberships(world);

    const result = await runFile(world, [
      "discord_user_id,stripe_id",
      `300000000000000001,${good.subscriptionId}`, // 2: fine on its own
      "300000000000000002", // 3: one column
      `12345,${good.customerId}`, // 4: not a Discord id
      "300000000000000004,pi_123", // 5: not a customer or subscription
      `300000000000000001,${good.customerId}`, // 6: member repeated
      "300000000000000006,sub_doesnotexist", // 7: unknown to Stripe
      `300000000000000007,${ended.subscriptionId}`, // 8: ended
      `300000000000000008,${otherGuilds.subscriptionId}`, // 9: another guild's plan
      `300000000000000009,${noPlan.subscriptionId}`, // 10: no plan of this guild
      `300000000000000010,${member.customerId}`, // 11: another member's
      `300000000000000011,${tagged.customerId}`, // 12: another guild's in Stripe metadata
    ]);
    assertEquals(result.code, 1, result.out + result.err);
    const refusedLines = [...result.err.matchAll(/^line (\d+): refused: (.*)$/gm)]
      .map(([, line, reason]) => [Number(line), reason]);
    assertEquals(refusedLines.map(([line]) => line), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const reasons = Object.fromEntries(refusedLines);
    assert(String(reasons[3]).includes("expected 2 columns"));
    assert(String(reasons[4]).includes("not a Discord user id"));
    assert(String(reasons[5]).includes("not a Stripe customer"));
    assert(String(reasons[6]).includes("repeats line 2"));
    assert(String(reasons[7]).includes("Stripe has no sub_doesnotexist"));
    assert(String(reasons[8]).includes("has ended"));
    assert(String(reasons[9]).includes(`plan of guild ${OTHER_GUILD}`));
    assert(String(reasons[10]).includes("no subscription to a plan of this guild"));
    assert(String(reasons[11]).includes(`already member ${member.discordUserId}'s`));
    assert(String(reasons[12]).includes(`belongs to guild ${OTHER_GUILD}`));
    assert(result.out.includes("nothing was imported"));

    assertEquals(await memberships(world), before);
    const customer = await world.stripe.customers.retrieve(good.customerId);
    assert(!customer.deleted && !customer.metadata.rolepass_guild_id);
  } finally {
    await world.close();
  }
});

Deno.test("a clean import is dry-run first, then tied to its member, and the webhook owns it", async () => {
  const world = await startWebhookWorld();
  try {
    const bySubscription = await outsideSubscriber(world);
    const byCustomer = await outsideSubscriber(world);
    world.takeEvents();
    const lines = [
      "discord_user_id,stripe_id",
      `300000000000000021,${bySubscription.subscriptionId}`,
      `300000000000000022,${byCustomer.customerId}`,
    ];
    const before = await memberships(world);
    const dry = await runFile(world, lines, { "dry-run": true });
    assertEquals(dry.code, 0, dry.err);
    assert(dry.out.includes("2 member(s) would be imported"), dry.out);
    assertEquals(await memberships(world), before);

    const real = await runFile(world, lines);
    assertEquals(real.code, 0, real.err);
    const rows = await world.db.sql<
      { id: string; discord_user_id: string; entitled: boolean; change_cause: string }[]
    >`
      select id, discord_user_id, entitled, change_cause from rolepass.memberships
      where guild_id = ${world.guildId} order by discord_user_id`;
    assertEquals(rows.map((r) => [r.discord_user_id, r.entitled, r.change_cause]), [
      ["300000000000000021", true, "import"],
      ["300000000000000022", true, "import"],
    ]);
    const subscription = await world.stripe.subscriptions.retrieve(bySubscription.subscriptionId);
    assertEquals(subscription.metadata, {
      rolepass_guild_id: world.guildId,
      rolepass_discord_user_id: "300000000000000021",
      rolepass_membership_id: rows[0]!.id,
    });

    // The same file again (a run cut short is finished this way) changes nothing.
    const again = await runFile(world, lines);
    assertEquals(again.code, 0, again.err);
    assertEquals(await memberships(world), before + 2);

    // From now on a cancellation arrives as any member's would.
    world.takeEvents();
    await world.stripe.subscriptions.cancel(bySubscription.subscriptionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(rows[0]!.id)).entitled, false);
  } finally {
    await world.close();
  }
});

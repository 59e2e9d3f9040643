/**
 * Platform mode, `deno task import`: a subscriber brought into a guild must pay that guild's own
 * account. A subscription of the guild's price whose money goes to another guild's account, or to
 * the platform alone, is refused with where its money goes, and nothing is written: no
 * membership, no role, no rolepass metadata on Stripe. A customer with one subscription paying the
 * guild and one paying another community is imported for the first only. The task runs from its
 * environment, as an operator runs it.
 */
import assert from "node:assert/strict";
import { runImport } from "../../functions/_cli/import.ts";
import { IMPORT_HEADER } from "../../functions/_core/subscriber_import.ts";
import { type ConnectWorld, createConnectWorld } from "./connect_world.ts";

const MEMBER_1 = "200000000000000051";
const MEMBER_2 = "200000000000000052";

async function withWorld(fn: (world: ConnectWorld) => Promise<void>) {
  const world = await createConnectWorld();
  try {
    for (const guild of [world.a, world.b]) {
      world.stripeDouble.connect.completeOnboarding(guild.accountId);
    }
    await fn(world);
  } finally {
    await world.close();
  }
}

/** Runs `deno task import -- --guild <guild> --file <rows>` in platform mode. */
async function importRows(world: ConnectWorld, guildId: string, rows: string[]) {
  const file = await Deno.makeTempFile({ suffix: ".csv" });
  await Deno.writeTextFile(file, [IMPORT_HEADER, ...rows].join("\n") + "\n");
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await runImport({ guild: guildId, file }, world.env, {
      out: (text) => out.push(text),
      error: (text) => err.push(text),
    });
    return { code, out, err };
  } finally {
    await Deno.remove(file);
  }
}

/** A live subscription to guild A's plan, made outside rolepass, paying `paidTo`. */
function subscriptionOfA(world: ConnectWorld, paidTo: string | null, customerId?: string) {
  const made = world.stripeDouble.createForeignSubscription({
    priceId: world.a.priceId,
    ...(customerId ? { customerId } : {}),
  });
  return paidTo ? world.stripeDouble.connect.redirectSubscription(made.id, paidTo) : made;
}

Deno.test("import refuses money paid to another guild's account or the platform", async () => {
  await withWorld(async (world) => {
    const toB = subscriptionOfA(world, world.b.accountId);
    const alone = subscriptionOfA(world, null);
    const { code, err } = await importRows(world, world.a.guildId, [
      `${MEMBER_1},${toB.id}`,
      `${MEMBER_2},${String(alone.customer)}`,
    ]);
    assert.equal(code, 1, err.join("\n"));
    assert.match(err.join("\n"), new RegExp(`line 2: refused: .*goes to ${world.b.accountId}`));
    assert.match(err.join("\n"), /line 3: refused: .*goes to the platform alone/);

    const memberships = await world.db.sql`select 1 from rolepass.memberships`;
    assert.equal(memberships.length, 0, "nothing is written");
    for (const subscription of [toB, alone]) {
      const customer = await world.gateway.retrieveCustomer(String(subscription.customer));
      assert.deepEqual(customer?.metadata, {}, "no rolepass metadata is written on Stripe");
      const read = await world.gateway.retrieveSubscription(subscription.id);
      assert.deepEqual(read.metadata, {});
    }
  });
});

Deno.test("import takes only the subscription paying the guild's own account", async () => {
  await withWorld(async (world) => {
    const own = subscriptionOfA(world, world.a.accountId);
    const customerId = String(own.customer);
    const toB = subscriptionOfA(world, world.b.accountId, customerId);
    const { code, out, err } = await importRows(world, world.a.guildId, [
      `${MEMBER_1},${customerId}`,
    ]);
    assert.equal(code, 0, [...out, ...err].join("\n"));

    const [membership] = await world.db.sql<
      { guild_id: string; entitled: boolean; stripe_subscription_id: string | null }[]
    >`
      select guild_id, entitled, stripe_subscription_id from rolepass.memberships
      where discord_user_id = ${MEMBER_1}`;
    assert.deepEqual({ ...membership }, {
      guild_id: world.a.guildId,
      entitled: true,
      stripe_subscription_id: own.id,
    });
    assert.equal(
      (await world.gateway.retrieveSubscription(own.id)).metadata.rolepass_guild_id,
      world.a.guildId,
    );
    assert.deepEqual(
      (await world.gateway.retrieveSubscription(toB.id)).metadata,
      {},
      "guild B's subscription is not tagged as guild A's",
    );
  });
});

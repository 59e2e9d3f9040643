/**
 * A grace period changed by `deno task plans:apply` decides the guild's past_due members again,
 * at once, through the same Stripe re-read as webhooks, instead of at their next Stripe event.
 */
import { runPlansApply } from "../../functions/_cli/plans_apply.ts";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

/** Applies the example file rewritten for the world's guild and plan, with `grace`. */
async function applyGrace(world: WebhookWorld, grace: string): Promise<string> {
  const json = JSON.parse(exampleText);
  const guild = json.guilds[0];
  guild.id = world.guildId;
  guild.past_due_grace = grace;
  guild.plans = [{
    ...guild.plans[0],
    stripe_price_id: world.plan.priceId,
    discord_role_id: world.plan.roleId,
  }];
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(json));
    const lines: string[] = [];
    const code = await runPlansApply([path], {
      DATABASE_URL: world.db.url,
      STRIPE_SECRET_KEY: "sk_test_rolepass",
      STRIPE_API_BASE_URL: world.stripeDouble.url,
    }, { info: (line) => lines.push(line), error: (line) => lines.push(line) });
    assertEquals(code, 0, lines.join("\n"));
    return lines.join("\n");
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("a longer grace gives past_due members their role back, a shorter one takes it", async () => {
  const world = await startWebhookWorld();
  try {
    const pastDue = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(pastDue.sessionId);
    const paying = await world.newMember();
    world.stripeDouble.completeCheckout(paying.sessionId);
    await postAll(world, world.takeEvents());
    world.stripeDouble.failRenewal(subscription.id);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(pastDue.membershipId)).entitled, false);

    const longer = await applyGrace(world, "P7D");
    assert(longer.includes("1 past_due member(s) decided again, 1 changed"), longer);
    let view = await world.membership(pastDue.membershipId);
    assertEquals([view.status, view.entitled, view.change_cause], [
      "past_due",
      true,
      "grace_changed",
    ]);
    assert(view.entitled_until && view.past_due_since);
    assertEquals(view.entitled_until.getTime() - view.past_due_since.getTime(), 7 * 86_400_000);
    const { grants } = first(
      await world.db.sql<{ grants: number }[]>`
      select count(*)::int as grants from rolepass.role_jobs
      where membership_id = ${pastDue.membershipId} and entitled and cause = 'grace_changed'`,
      "a row",
    );
    assertEquals(grants, 1);

    const same = await applyGrace(world, "P7D");
    assert(!same.includes("decided again"), same);

    await applyGrace(world, "P0D");
    view = await world.membership(pastDue.membershipId);
    assertEquals([view.entitled, view.entitled_until], [false, null]);
    assertEquals((await world.membership(paying.membershipId)).entitled, true);
  } finally {
    await world.close();
  }
});

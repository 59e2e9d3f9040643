/**
 * The Customer Portal opens with the member's guild's own configuration (saved by plans:apply),
 * through the real checkout function and the Stripe double, so a member switches only between
 * that guild's prices; a guild with none yet opens the account's default.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { GUILD_ID, MEMBER_ID, ROLE_ID, STRIPE_KEY, withCheckoutWorld } from "./checkout_harness.ts";
import { saveGuildPortalConfigurations } from "../../functions/_cli/plans_apply.ts";
import { connectStripe } from "../../functions/_shared/stripe_gateway.ts";

Deno.test("a member's portal opens with their guild's own configuration, and without one the default", async () => {
  await withCheckoutWorld(async (world) => {
    const customer = world.stripeDouble.createCustomer({});
    await world.db.sql`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, status,
        plan_id, entitled, entitled_role_id, subscription_live, change_cause)
      values (${GUILD_ID}, ${MEMBER_ID}, ${customer.id}, 'active', ${world.planId}, true,
        ${ROLE_ID}, true, 'test')`;
    const portalRequests = () =>
      world.stripeDouble.requests({ method: "POST", path: "/v1/billing_portal/sessions" });

    const before = await world.post("portal-session", {
      token: await world.issueLink({ purpose: "manage" }),
    });
    assertEquals(before.status, 200);
    assertEquals(portalRequests()[0]?.params.configuration, undefined);

    const stripe = connectStripe(STRIPE_KEY, world.stripeDouble.url);
    const [saved] = await saveGuildPortalConfigurations(world.db.sql, stripe, [GUILD_ID]);
    assert(saved, "the guild's configuration is saved");
    const after = await world.post("portal-session", {
      token: await world.issueLink({ purpose: "manage" }),
    });
    assertEquals(after.status, 200);
    assertEquals(portalRequests()[1]?.params.configuration, saved.configurationId);
  });
});

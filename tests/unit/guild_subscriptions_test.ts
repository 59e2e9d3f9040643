/** Platform mode: which of a customer's subscriptions count toward a guild's roles. */
import assert from "node:assert/strict";
import { subscriptionsOfGuild } from "../../functions/_core/connect.ts";

const guild = { guildId: "100000000000000001", accountId: "acct_Own" };
const own = { id: "sub_own", destination: "acct_Own", onBehalfOf: "acct_Own" };
const other = { id: "sub_other", destination: "acct_Other", onBehalfOf: "acct_Other" };
const platform = { id: "sub_platform", destination: null, onBehalfOf: null };
const settledElsewhere = { id: "sub_settled", destination: "acct_Own", onBehalfOf: "acct_Other" };
const all = [own, other, platform, settledElsewhere];

Deno.test("in platform mode only the subscriptions paying the guild's own account count", () => {
  assert.deepEqual(subscriptionsOfGuild("platform", guild, all), [own]);
});

Deno.test("in platform mode nothing counts for a guild without an account or for no guild", () => {
  assert.deepEqual(subscriptionsOfGuild("platform", { ...guild, accountId: null }, all), []);
  assert.deepEqual(subscriptionsOfGuild("platform", null, all), []);
});

Deno.test("in standalone mode every subscription of the customer counts", () => {
  assert.deepEqual(subscriptionsOfGuild("standalone", null, all), all);
});

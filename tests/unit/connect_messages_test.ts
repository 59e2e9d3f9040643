/**
 * Platform mode's pure rules and texts: a guild's standing, who pays a refund, and the onboarding
 * return page's Japanese and English, typeset as a native writer would.
 */
import assert from "node:assert/strict";
import {
  canSell,
  type ConnectedAccountFacts,
  destinationRefund,
  refundShares,
  sellerStanding,
} from "../../functions/_core/connect.ts";
import { CONNECT_PAGES, connectPageText } from "../../functions/_core/messages/connect.ts";
import { tidyJapaneseSpacing } from "../../functions/_core/japanese_spacing.ts";

const account = (facts: Partial<ConnectedAccountFacts>): ConnectedAccountFacts => ({
  accountId: "acct_1A",
  detailsSubmitted: false,
  chargesEnabled: false,
  payoutsEnabled: false,
  requirementsDue: [],
  disabledReason: null,
  ...facts,
});

Deno.test("a guild sells only once its account can take charges; standalone always sells", () => {
  assert.equal(sellerStanding(null), "not_connected");
  assert.equal(sellerStanding(account({})), "onboarding");
  assert.equal(sellerStanding(account({ detailsSubmitted: true })), "restricted");
  assert.equal(
    sellerStanding(account({ detailsSubmitted: true, chargesEnabled: true })),
    "selling",
  );
  assert.equal(canSell("platform", account({ detailsSubmitted: true })), false);
  assert.equal(canSell("platform", null), false);
  assert.equal(canSell("standalone", null), true);
});

Deno.test("a refund reverses only the guild's own transfer, with the fee as the guild says", () => {
  const settings = { accountId: "acct_1A", platformFeePercent: 10, refundApplicationFee: false };
  assert.deepEqual(destinationRefund(settings, "acct_1A"), {
    ok: true,
    flags: { reverseTransfer: true, refundApplicationFee: false },
  });
  assert.equal(destinationRefund(settings, "acct_1B").ok, false);
  assert.equal(destinationRefund(settings, null).ok, false);
  assert.equal(destinationRefund(null, "acct_1A").ok, false);
});

Deno.test("who pays a refund follows seed 003's two checkboxes", () => {
  const none = { reverseTransfer: false, refundApplicationFee: false };
  assert.deepEqual(refundShares(1000, 100, 1000, none), {
    transferReversed: 0,
    applicationFeeRefunded: 0,
    platformPays: 1000,
  });
  const community = { reverseTransfer: true, refundApplicationFee: false };
  assert.equal(refundShares(1000, 100, 1000, community).platformPays, 0);
  const both = { reverseTransfer: true, refundApplicationFee: true };
  assert.deepEqual(refundShares(1000, 100, 500, both), {
    transferReversed: 500,
    applicationFeeRefunded: 50,
    platformPays: 50,
  });
});

Deno.test("the return page's Japanese has no ASCII space beside full-width text", () => {
  for (const page of CONNECT_PAGES) {
    const { title, body } = connectPageText("ja", page);
    for (const text of [title, body]) {
      assert.equal(tidyJapaneseSpacing(text), text, text);
      assert.doesNotMatch(text, /[\u3040-\u30ff\u4e00-\u9fff] [\u3040-\u30ff\u4e00-\u9fff]/);
    }
    assert.ok(connectPageText("en", page).title.length > 0);
  }
});

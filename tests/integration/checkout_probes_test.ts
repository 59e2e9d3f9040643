/**
 * The checkout API as an outsider sees it: odd methods and paths, bodies too big or of the wrong
 * kind, tokens of the wrong shape, and headers that would carry text into the logs. Each answer is
 * a clear 4xx with the JSON error body, and nothing reaches Stripe or the database.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { checkoutRecords, withCheckoutWorld } from "./checkout_harness.ts";

const PATHS = ["plan-view", "checkout-session", "portal-session", "checkout-complete"];

Deno.test("odd methods, paths and bodies get a JSON 4xx and reach neither Stripe nor the database", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    const probes: [string, RequestInit, number][] = [];
    for (const path of PATHS) {
      for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
        probes.push([`/checkout/${path}`, { method }, 404]);
      }
      probes.push([`/checkout/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, planId: world.planId, pad: "x".repeat(10_000) }),
      }, 413]);
      probes.push([`/checkout/${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `token=${token}&planId=${world.planId}`,
      }, 400]);
      probes.push([`/checkout/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([token]),
      }, 400]);
    }
    for (
      const path of ["/checkout", "/checkout/", "/checkout//plan-view", "/checkout/plan-view/x"]
    ) {
      probes.push([path, { method: "POST", headers: { "content-type": "application/json" } }, 404]);
    }
    for (const [path, init, status] of probes) {
      const response = await world.app.request(path, init);
      const body = await response.json();
      assertEquals(response.status, status, `${init.method} ${path}`);
      assert(typeof body.error?.code === "string", `${init.method} ${path}`);
    }
    assertEquals(world.stripeDouble.requests(), []);
    assertEquals(await checkoutRecords(world.db), { memberships: [], attempts: [], usedLinks: 0 });
  });
});

Deno.test("tokens of the wrong length or alphabet are refused as malformed before any lookup", async () => {
  await withCheckoutWorld(async (world) => {
    const valid = await world.issueLink();
    const tokens: [unknown, string][] = [
      [valid.slice(1), "malformed_token"],
      [`${valid}A`, "malformed_token"],
      [`${valid.slice(1)}=`, "malformed_token"],
      [`${valid.slice(1)}+`, "malformed_token"],
      [`${valid.slice(1)}/`, "malformed_token"],
      [`${valid.slice(2)}é`, "malformed_token"],
      [` ${valid.slice(1)}`, "malformed_token"],
      [`${valid.slice(1)}\n`, "malformed_token"],
      ["", "malformed_token"],
      ["x".repeat(257), "invalid_request"],
      [43, "invalid_request"],
      [null, "invalid_request"],
      [[valid], "invalid_request"],
    ];
    for (const [token, code] of tokens) {
      for (const path of ["plan-view", "checkout-session", "portal-session"]) {
        const answer = await world.post(path, { token, planId: world.planId });
        assertEquals(answer.body.error?.code, code, `${path} ${JSON.stringify(token)}`);
        assertEquals(answer.status, 400);
      }
    }
    assertEquals(world.stripeDouble.requests(), []);
  });
});

Deno.test("a caller's x-request-id reaches the logs and the answer only as a plain short id", async () => {
  await withCheckoutWorld(async (world) => {
    const odd = ["x".repeat(65), "a b", "id\tforged", "<script>", "a".repeat(4000)];
    for (const requestId of odd) {
      const response = await world.app.request("/checkout/plan-view", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify({ token: "short" }),
      });
      await response.body?.cancel();
      const answered = response.headers.get("x-request-id") ?? "";
      assert(/^[0-9a-f-]{36}$/.test(answered), `${requestId.slice(0, 20)} -> ${answered}`);
    }
    assert(!world.logLines.some((line) => line.includes("xxxxxxxxxx") || line.includes("<script")));
    const kept = await world.app.request("/checkout/plan-view", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "page-request-1" },
      body: JSON.stringify({ token: "short" }),
    });
    await kept.body?.cancel();
    assertEquals(kept.headers.get("x-request-id"), "page-request-1");
  });
});

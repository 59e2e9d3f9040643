/**
 * The dev runner's gateway hands each function a request of its own: the path without
 * `/functions/v1`, the method, headers and body, and not the incoming request's abort signal
 * (copying it makes Deno print its legacy-abort warning on the first request a new user makes).
 */
import { assertEquals } from "../harness/assert.ts";
import { createGateway } from "../../functions/_cli/dev/gateway.ts";

Deno.test("the gateway forwards path, method, headers and body, and not the abort signal", async () => {
  const seen: Request[] = [];
  const gateway = createGateway({
    functions: {
      checkout: async (request) => {
        seen.push(request);
        return new Response(await request.text());
      },
    },
  });
  const incoming = new AbortController();
  const response = await gateway.fetch(
    new Request("http://127.0.0.1:8787/functions/v1/checkout/plans?x=1", {
      method: "POST",
      headers: { "content-type": "text/plain", "x-probe": "1" },
      body: "hello",
      signal: incoming.signal,
    }),
  );
  assertEquals(await response.text(), "hello");
  const [forwarded] = seen;
  assertEquals(
    new URL(forwarded!.url).pathname + new URL(forwarded!.url).search,
    "/checkout/plans?x=1",
  );
  assertEquals([forwarded!.method, forwarded!.headers.get("x-probe")], ["POST", "1"]);
  incoming.abort();
  assertEquals(forwarded!.signal.aborted, false, "the incoming request's signal is not followed");
});

/**
 * The request context and error handler every app is built on: one request id end to end, on
 * every log line and in every answer, and one way an error becomes an answer and a log line.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { assert, assertEquals } from "../harness/assert.ts";
import { errorHandler } from "../../functions/_shared/http/error_handler.ts";
import {
  requestContext,
  type RequestContextEnv,
} from "../../functions/_shared/http/request_context.ts";
import { createLogger, setLogSink } from "../../functions/_shared/log.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type LogLine = Record<string, unknown>;

/** Runs `fn` with every log line captured. */
async function capturingLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  setLogSink((line) => lines.push(JSON.parse(line)));
  try {
    return { result: await fn(), lines };
  } finally {
    setLogSink(null);
  }
}

/** An app with the shared middleware whose routes log, refuse and fail. */
function testApp(options: Parameters<typeof errorHandler<RequestContextEnv>>[0] = {}) {
  const app = new Hono<RequestContextEnv>();
  app.use(requestContext(createLogger("middleware-test")));
  app.onError(errorHandler(options));
  app.get("/hello", (c) => {
    c.var.log.info("hello", { seenId: c.var.requestId });
    return c.json({ requestId: c.var.requestId });
  });
  app.get("/refused", () => {
    throw new HTTPException(409, { message: "Cannot answer: it was already handled" });
  });
  app.get("/broken", () => {
    throw new Error("the database is gone");
  });
  return app;
}

Deno.test("a caller's x-request-id is the request's id: in c.var, on every log line, echoed back", async () => {
  const { result: response, lines } = await capturingLogs(() =>
    Promise.resolve(testApp().request("/hello", { headers: { "x-request-id": "page-1" } }))
  );
  assertEquals(response.headers.get("x-request-id"), "page-1");
  assertEquals(await response.json(), { requestId: "page-1" });
  assertEquals(lines.map((line) => [line.msg, line.requestId, line.seenId]), [
    ["hello", "page-1", "page-1"],
  ]);
});

Deno.test("the platform's sb-request-id wins over the caller's x-request-id", async () => {
  const response = await testApp().request("/hello", {
    headers: { "sb-request-id": "019d4233-be35-74c2", "x-request-id": "page-1" },
  });
  assertEquals(response.headers.get("x-request-id"), "019d4233-be35-74c2");
});

Deno.test("a missing or ill-shaped id is replaced by a fresh UUID, each request its own", async () => {
  const odd = ["", "a".repeat(65), "id with spaces", "id\u00e9", "<script>", "a_b"];
  const seen = new Set<string>();
  for (const given of [...odd, null]) {
    const headers: Record<string, string> = given === null ? {} : { "x-request-id": given };
    const response = await testApp().request("/hello", { headers });
    const answered = response.headers.get("x-request-id") ?? "";
    assert(UUID.test(answered), `${JSON.stringify(given)} -> ${answered}`);
    seen.add(answered);
  }
  assertEquals(seen.size, odd.length + 1);
  const platformOdd = await testApp().request("/hello", {
    headers: { "sb-request-id": "not/valid", "x-request-id": "page-2" },
  });
  assertEquals(platformOdd.headers.get("x-request-id"), "page-2");
});

Deno.test("an HTTPException is answered with its status and message and logged as refused", async () => {
  const { result: response, lines } = await capturingLogs(() =>
    Promise.resolve(testApp().request("/refused", { headers: { "x-request-id": "r-1" } }))
  );
  assertEquals(response.status, 409);
  assertEquals(response.headers.get("x-request-id"), "r-1");
  assertEquals(await response.json(), { error: "Cannot answer: it was already handled" });
  assertEquals(
    lines.map((line) => [line.level, line.msg, line.status, line.reason, line.requestId]),
    [
      ["warn", "request refused", 409, "Cannot answer: it was already handled", "r-1"],
    ],
  );
});

Deno.test("any other error is a 500 that says nothing of the cause, logged with the error", async () => {
  const { result: response, lines } = await capturingLogs(() =>
    Promise.resolve(testApp().request("/broken", { headers: { "x-request-id": "r-2" } }))
  );
  assertEquals(response.status, 500);
  assertEquals(response.headers.get("x-request-id"), "r-2");
  assertEquals(await response.json(), { error: "Internal error" });
  assertEquals(
    lines.map((line) => [line.level, line.msg, line.status, line.error, line.requestId]),
    [
      ["error", "request failed", 500, { name: "Error", message: "the database is gone" }, "r-2"],
    ],
  );
});

Deno.test("an app's own replies, failure body and renderer take over where it says", async () => {
  const app = testApp({
    replyTo: (error) =>
      error.message === "the database is gone"
        ? { status: 503, body: { code: "unavailable" }, fields: { problem: "unavailable" } }
        : null,
    respond: (c, reply) => c.text(JSON.stringify(reply.body), reply.status),
  });
  const { result: broken, lines } = await capturingLogs(() =>
    Promise.resolve(app.request("/broken"))
  );
  assertEquals([broken.status, await broken.text()], [503, `{"code":"unavailable"}`]);
  assertEquals(lines.map((line) => [line.level, line.msg, line.problem]), [
    ["error", "request failed", "unavailable"],
  ]);
  const refused = await app.request("/refused");
  assertEquals(
    [refused.status, await refused.text()],
    [409, `{"error":"Cannot answer: it was already handled"}`],
  );
});

Deno.test("an app may word the 500 of an unexpected failure its own way", async () => {
  const app = testApp({
    failureBody: { error: "Cannot process the event now; Stripe will retry it" },
  });
  const { result: response } = await capturingLogs(() => Promise.resolve(app.request("/broken")));
  assertEquals([response.status, await response.json()], [500, {
    error: "Cannot process the event now; Stripe will retry it",
  }]);
});

Deno.test("a reply may log a 4xx as an error when it means our side is wrong", async () => {
  const app = testApp({
    replyTo: () => ({ status: 400, body: { error: "not of its type's shape" }, level: "error" }),
  });
  const { result: response, lines } = await capturingLogs(() =>
    Promise.resolve(app.request("/broken"))
  );
  assertEquals(response.status, 400);
  assertEquals(lines.map((line) => [line.level, line.msg, line.status]), [
    ["error", "request failed", 400],
  ]);
});

import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { walkMemberStory } from "./member_story.ts";

/** The Edge Functions and the plan page: whatever they log must be JSON with a request id. */
const FUNCTIONS = ["discord-interactions", "checkout", "stripe-webhook", "role-sync", "plan-page"];
/** Those that must have logged during the walk (the plan page logs only its failures). */
const MUST_LOG = ["discord-interactions", "checkout", "stripe-webhook", "role-sync"];
/** Where every app puts the request id. */
const REQUEST_ID_KEYS = ["requestId"];

type ConsoleMethod = "log" | "info" | "warn" | "error" | "debug";

/** Captures every structured log line and everything printed to the console while `fn` runs. */
async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const methods: ConsoleMethod[] = ["log", "info", "warn", "error", "debug"];
  const originals = methods.map((method) => [method, console[method]] as const);
  for (const method of methods) {
    console[method] = (...args: unknown[]) => {
      lines.push(args.map((arg) => typeof arg === "string" ? arg : Deno.inspect(arg)).join(" "));
    };
  }
  setLogSink((line) => lines.push(line));
  try {
    return { result: await fn(), lines };
  } finally {
    setLogSink(null);
    for (const [method, original] of originals) console[method] = original;
  }
}

Deno.test({
  name:
    "no secret or token used in the member story appears in any log line, and every function logs JSON with a request id",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { result: story, lines } = await captureOutput(() => withTestDatabase(walkMemberStory));
    const { secrets } = story;
    const named: [string, string][] = [
      ["the bot token", secrets.botToken],
      ["the Stripe secret key", secrets.stripeSecretKey],
      ["the Stripe webhook secret", secrets.webhookSecret],
      ["the role-sync secret", secrets.roleSyncSecret],
      ...secrets.linkTokens.map((token, i): [string, string] => [`link token ${i + 1}`, token]),
      ...secrets.interactionTokens.map((token, i): [string, string] => [
        `interaction token ${i + 1}`,
        token,
      ]),
    ];
    assertEquals(secrets.linkTokens.length, 2);
    assertEquals(secrets.interactionTokens.length, 2);
    assert(lines.length > 20, `the walk logged (${lines.length} lines)`);

    const leaks = named.flatMap(([what, secret]) =>
      lines.filter((line) => line.includes(secret)).map((line) => `${what} in: ${line}`)
    );
    assertEquals(leaks, []);

    const functionLines = lines.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        return FUNCTIONS.includes(String(parsed.fn)) ? [parsed] : [];
      } catch {
        return [];
      }
    });
    const logged = new Set(functionLines.map((line) => String(line.fn)));
    for (const fn of MUST_LOG) assert(logged.has(fn), `${fn} logged during the walk`);
    const withoutRequestId = functionLines.filter((line) =>
      !REQUEST_ID_KEYS.some((key) => typeof line[key] === "string" && line[key] !== "")
    );
    assertEquals(withoutRequestId, []);
  },
});

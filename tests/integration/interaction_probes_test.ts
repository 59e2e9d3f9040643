/**
 * The interactions endpoint probed from outside, the way an attacker would: bodies it should not
 * read, paths and methods it does not serve, signed bodies Discord never sends. Each gets a defined
 * 4xx (or the ordinary answer), never a 5xx, and nothing is stored.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import {
  buildApp,
  createDiscordSigner,
  type DiscordSigner,
  ENDPOINT,
  GUILD_ID,
  insertGuild,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

type Sql = import("postgres").Sql;
type App = { fetch: (request: Request) => Response | Promise<Response> };

const PING = '{"id":"995105663481028770","type":1,"token":"t"}';

async function storedRows(sql: Sql): Promise<number> {
  const { count } = first(
    await sql<{ count: number }[]>`
    select ((select count(*) from rolepass.link_tokens) + (select count(*) from rolepass.interaction_tokens)
      + (select count(*) from rolepass.handled_interactions))::int as count`,
    "a row",
  );
  return count;
}

/** A body that counts how often the app pulls from it; it never ends on its own. */
function watchedBody() {
  const watch = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      watch.pulls++;
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
    },
  }, { highWaterMark: 0 });
  return { stream, watch };
}

async function withProbedApp(
  run: (app: App, signer: DiscordSigner, sql: Sql) => Promise<void>,
): Promise<void> {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      await run(app, signer, db.sql);
    } finally {
      await sql.end();
    }
  });
}

async function expectStatus(response: Response, status: number, what: string): Promise<string> {
  const text = await response.text();
  assertEquals(response.status, status, `${what}: ${text}`);
  return text;
}

Deno.test("a request that cannot be a fresh signed interaction is refused before its body is read", async () => {
  await withProbedApp(async (app, signer) => {
    const stale = await signer.sign(PING, String(Math.floor(Date.now() / 1000) - 3600));
    const cases: [string, Record<string, string>][] = [
      ["no signature headers", {}],
      ["a stale timestamp", stale],
      ["a timestamp that is not a number", { ...stale, "X-Signature-Timestamp": "1.7e9" }],
      ["a negative timestamp", { ...stale, "X-Signature-Timestamp": "-1" }],
      ["an enormous timestamp", { ...stale, "X-Signature-Timestamp": "9".repeat(30) }],
    ];
    for (const [what, headers] of cases) {
      const { stream, watch } = watchedBody();
      const response = await app.fetch(
        new Request(ENDPOINT, { method: "POST", headers, body: stream }),
      );
      const text = await expectStatus(response, 401, what);
      assert(text.includes("Cannot verify interaction"), `${what}: ${text}`);
      assertEquals(watch.pulls, 0, `${what}: body chunks read`);
      await stream.cancel();
    }
  });
});

Deno.test("a signed body streamed without a length stops being read at the cap", async () => {
  await withProbedApp(async (app, signer) => {
    const { stream, watch } = watchedBody();
    const response = await app.fetch(
      new Request(ENDPOINT, { method: "POST", headers: await signer.sign(PING), body: stream }),
    );
    await expectStatus(response, 413, "an endless body");
    assert(watch.pulls <= 6, `read ${watch.pulls} chunks of 64 KiB for a 256 KiB cap`);
  });
});

Deno.test("the content type is not what is trusted: a signed PING is answered whatever it says, an unsigned one never", async () => {
  await withProbedApp(async (app, signer) => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", ""]) {
      const headers = { ...(await signer.sign(PING)), "Content-Type": contentType };
      const signed = await app.fetch(
        new Request(ENDPOINT, { method: "POST", headers, body: PING }),
      );
      assertEquals(await signed.json(), { type: 1 }, contentType);
      const unsigned = await app.fetch(
        new Request(ENDPOINT, {
          method: "POST",
          headers: { "Content-Type": contentType },
          body: PING,
        }),
      );
      await expectStatus(unsigned, 401, `unsigned ${contentType}`);
    }
  });
});

Deno.test("other paths and methods get a JSON 404 and never reach the handler", async () => {
  await withProbedApp(async (app, signer) => {
    const headers = await signer.sign(PING);
    const paths = [
      "http://localhost//discord-interactions",
      "http://localhost/discord-interactions/../x",
      "http://localhost/discord-interactions/x",
      "http://localhost/discord-interactions%2F",
      "http://localhost/Discord-Interactions",
      "http://localhost/",
    ];
    for (const path of paths) {
      const response = await app.fetch(new Request(path, { method: "POST", headers, body: PING }));
      const text = await expectStatus(response, 404, path);
      assertEquals(JSON.parse(text), { error: "Not found" }, path);
    }
    for (const method of ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]) {
      const body = ["GET", "HEAD"].includes(method) ? undefined : PING;
      const response = await app.fetch(new Request(ENDPOINT, { method, headers, body }));
      await expectStatus(response, 404, method);
    }
  });
});

Deno.test("a trailing slash reaches the same endpoint, with the same checks", async () => {
  await withProbedApp(async (app, signer) => {
    const url = `${ENDPOINT}/`;
    const signed = await app.fetch(
      new Request(url, { method: "POST", headers: await signer.sign(PING), body: PING }),
    );
    assertEquals(await signed.json(), { type: 1 });
    const unsigned = await app.fetch(new Request(url, { method: "POST", body: PING }));
    await expectStatus(unsigned, 401, "unsigned, trailing slash");
  });
});

Deno.test("signed bodies Discord never sends get 400 and store nothing", async () => {
  await withProbedApp(async (app, signer, sql) => {
    const subscribe = await subscribeInteraction();
    const { member: _member, ...withoutMember } = subscribe;
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const cases: [string, string | Record<string, unknown>][] = [
      ["JSON null", "null"],
      ["a JSON string", '"ping"'],
      ["deeply nested arrays", deep],
      ["an id that is a number", { ...subscribe, id: 800000000000000999 }],
      ["an id of 21 digits", { ...subscribe, id: "1".repeat(21) }],
      ["an id with a sign", { ...subscribe, id: "-80000000000000099" }],
      ["a guild id of 40 digits", { ...subscribe, guild_id: "9".repeat(40) }],
      ["a member id of 30 digits", {
        ...subscribe,
        member: { user: { id: "9".repeat(30) } },
      }],
      ["a type that is a string", { ...subscribe, type: "2" }],
      ["a token of 10,000 characters", { ...subscribe, token: "t".repeat(10_000) }],
      ["a guild command without its member", withoutMember],
      ["a DM command without its user", { ...withoutMember, guild_id: undefined }],
    ];
    for (const [what, body] of cases) {
      const response = await app.fetch(
        new Request(ENDPOINT, {
          method: "POST",
          headers: await signer.sign(typeof body === "string" ? body : JSON.stringify(body)),
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      );
      const text = await expectStatus(response, 400, what);
      assert(text.includes("Cannot read interaction"), `${what}: ${text}`);
    }
    assertEquals(await storedRows(sql), 0);
  });
});

Deno.test("a signed command for another application or an unknown server stores no link", async () => {
  await withProbedApp(async (app, signer, sql) => {
    const otherApp = await subscribeInteraction({ applicationId: "100000000000000099" });
    const refused = await app.fetch(
      new Request(ENDPOINT, {
        method: "POST",
        headers: await signer.sign(JSON.stringify(otherApp)),
        body: JSON.stringify(otherApp),
      }),
    );
    await expectStatus(refused, 400, "another application");

    const elsewhere = await subscribeInteraction({ guildId: "100000000000000777" });
    const reply = await app.fetch(
      new Request(ENDPOINT, {
        method: "POST",
        headers: await signer.sign(JSON.stringify(elsewhere)),
        body: JSON.stringify(elsewhere),
      }),
    );
    const text = await expectStatus(reply, 200, "a server rolepass does not serve");
    assert(!text.includes("/join/") && !text.includes("/manage/"), text);
    const { links } = first(
      await sql<{ links: number }[]>`
      select count(*)::int as links from rolepass.link_tokens`,
      "a row",
    );
    const { tokens } = first(
      await sql<{ tokens: number }[]>`
      select count(*)::int as tokens from rolepass.interaction_tokens where guild_id = ${GUILD_ID}`,
      "a row",
    );
    assertEquals([links, tokens], [0, 0]);
  });
});

/**
 * The interactions endpoint's front door: only requests signed with the application's Ed25519 key
 * get past it, checked over the raw body bytes; PING gets PONG; every other kind of interaction
 * gets a defined answer.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import {
  buildApp,
  clockAt,
  createDiscordSigner,
  ENDPOINT,
  insertGuild,
  postSigned,
  readInteractionFixture,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

interface SignedPingVector {
  PUBLIC_KEY: string;
  BODY_VALID: string;
  SIGNATURE_VALID: string;
  TIMESTAMP_VALID: string;
  BODY_INVALID: string;
  SIGNATURE_INVALID: string;
  TIMESTAMP_INVALID: string;
}

const realPing = await readInteractionFixture<SignedPingVector>(
  "ssmmiles-real-signed-ping.data2.json",
);

function post(body: string, headers: Record<string, string>, path = ENDPOINT) {
  return new Request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });
}

async function countStoredRows(sql: import("postgres").Sql): Promise<number> {
  const { count } = first(
    await sql`
    select (select count(*) from rolepass.link_tokens) + (select count(*) from rolepass.interaction_tokens)
      as count`,
    "a row",
  );
  return Number(count);
}

Deno.test("Discord's real signed PING gets a JSON PONG", async () => {
  await withTestDatabase(async (db) => {
    const { app, sql } = buildApp(
      db.url,
      realPing.PUBLIC_KEY,
      {},
      clockAt(realPing.TIMESTAMP_VALID),
    );
    try {
      const response = await app.fetch(post(realPing.BODY_VALID, {
        "X-Signature-Ed25519": realPing.SIGNATURE_VALID,
        "X-Signature-Timestamp": realPing.TIMESTAMP_VALID,
      }));
      assertEquals(response.status, 200);
      assert(response.headers.get("content-type")?.startsWith("application/json"));
      assertEquals(await response.json(), { type: 1 });
    } finally {
      await sql.end();
    }
  });
});

Deno.test("Discord's real invalid signature vector gets 401", async () => {
  await withTestDatabase(async (db) => {
    const { app, sql } = buildApp(
      db.url,
      realPing.PUBLIC_KEY,
      {},
      clockAt(realPing.TIMESTAMP_INVALID),
    );
    try {
      const response = await app.fetch(post(realPing.BODY_INVALID, {
        "X-Signature-Ed25519": realPing.SIGNATURE_INVALID,
        "X-Signature-Timestamp": realPing.TIMESTAMP_INVALID,
      }));
      assertEquals(response.status, 401);
      assertEquals(await response.json(), {
        error: "Cannot verify interaction: signature is invalid",
      });
    } finally {
      await sql.end();
    }
  });
});

Deno.test("a request that is not exactly what was signed gets 401 and stores nothing", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const signer = await createDiscordSigner();
    const stranger = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex, {}, clockAt(1700000000));
    try {
      const body = JSON.stringify(await subscribeInteraction());
      const headers = await signer.sign(body, "1700000000");
      const tampered = body.replace('"subscribe"', '"subscribf"');
      const cases: [string, Request][] = [
        ["no signature headers", post(body, {})],
        ["no timestamp", post(body, { "X-Signature-Ed25519": headers["X-Signature-Ed25519"] })],
        ["no signature", post(body, { "X-Signature-Timestamp": "1700000000" })],
        ["a changed body", post(tampered, headers)],
        ["a re-serialized body", post(JSON.stringify(JSON.parse(body), null, 1), headers)],
        ["another timestamp", post(body, { ...headers, "X-Signature-Timestamp": "1700000001" })],
        ["another key", post(body, await stranger.sign(body, "1700000000"))],
        ["a signature that is not hex", post(body, { ...headers, "X-Signature-Ed25519": "zz" })],
        [
          "a truncated signature",
          post(body, {
            ...headers,
            "X-Signature-Ed25519": headers["X-Signature-Ed25519"].slice(0, 126),
          }),
        ],
        ["an empty body", post("", headers)],
      ];
      for (const [what, request] of cases) {
        const response = await app.fetch(request);
        assertEquals(response.status, 401, what);
        const error = await response.json();
        assert(String(error.error).startsWith("Cannot verify interaction"), what);
      }
      assertEquals(await countStoredRows(db.sql), 0);

      const accepted = await app.fetch(post(body, headers));
      assertEquals(accepted.status, 200);
      await accepted.body?.cancel();
      assertEquals(await countStoredRows(db.sql), 2);
    } finally {
      await sql.end();
    }
  });
});

Deno.test("the signature is checked over the raw bytes, non-ASCII and whitespace included", async () => {
  await withTestDatabase(async (db) => {
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const body =
        '{ "id": "995105663481028770", "type": 1, "token": "t", "note": "👋 こんにちは" }';
      const response = await app.fetch(post(body, await signer.sign(body)));
      assertEquals(response.status, 200);
      assertEquals(await response.json(), { type: 1 });
    } finally {
      await sql.end();
    }
  });
});

Deno.test("signed requests that are not interactions get 400 with a reason", async () => {
  await withTestDatabase(async (db) => {
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const cases: [string, string, string][] = [
        ["not JSON", "{not json", "body is not JSON"],
        ["a JSON array", "[1,2]", "invalid body"],
        ["no type", '{"id":"995105663481028770","token":"t"}', "invalid type"],
        [
          "an unknown type",
          '{"id":"995105663481028770","token":"t","type":99}',
          "unknown type 99",
        ],
      ];
      for (const [what, body, reason] of cases) {
        const response = await app.fetch(post(body, await signer.sign(body)));
        assertEquals(response.status, 400, what);
        const error = await response.json();
        assert(String(error.error).includes(reason), `${what}: ${error.error}`);
      }
      const otherApp = await subscribeInteraction({ applicationId: "100000000000000099" });
      const response = await postSigned(app, signer, otherApp);
      assertEquals(response.status, 400);
      assert((await response.json()).error.includes("another application"));
    } finally {
      await sql.end();
    }
  });
});

Deno.test("other interactions get a defined answer: unknown command, button, autocomplete", async () => {
  await withTestDatabase(async (db) => {
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const unknown = await postSigned(
        app,
        signer,
        await subscribeInteraction({ commandName: "x" }),
      );
      const unknownReply = await unknown.json();
      assertEquals([unknownReply.type, unknownReply.data.flags], [4, 64]);
      assert(unknownReply.data.content.includes("/subscribe"));

      const bodies = await readInteractionFixture<{ bodies: Record<string, string> }>(
        "discord-interactions-js-test-bodies.json",
      );
      const button = bodies.bodies.messageComponentRequestBody;
      assert(button, "button is missing");
      const buttonReply = await (await app.fetch(post(button, await signer.sign(button)))).json();
      assertEquals([buttonReply.type, buttonReply.data.flags], [4, 64]);
      assert(buttonReply.data.content.includes("run /subscribe again"));

      const autocomplete = bodies.bodies.autocompleteRequestBody;
      assert(autocomplete, "autocomplete is missing");
      const suggestions = await app.fetch(post(autocomplete, await signer.sign(autocomplete)));
      assertEquals(await suggestions.json(), { type: 8, data: { choices: [] } });

      const ping = bodies.bodies.pingRequestBody;
      assert(ping, "ping is missing");
      const pong = await app.fetch(post(ping, await signer.sign(ping)));
      assertEquals(await pong.json(), { type: 1 });
    } finally {
      await sql.end();
    }
  });
});

Deno.test("the endpoint answers only POST at the function's own path", async () => {
  await withTestDatabase(async (db) => {
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const ping = '{"id":"995105663481028770","type":1,"token":"t"}';
      const headers = await signer.sign(ping);
      const ok = await app.fetch(post(ping, headers, "http://localhost/discord-interactions"));
      assertEquals(ok.status, 200);
      await ok.body?.cancel();
      const elsewhere = await app.fetch(post(ping, headers, "http://localhost/other"));
      assertEquals(elsewhere.status, 404);
      await elsewhere.body?.cancel();
      const get = await app.fetch(new Request(ENDPOINT));
      assertEquals(get.status, 404);
      await get.body?.cancel();
    } finally {
      await sql.end();
    }
  });
});

Deno.test("an oversized body is refused before any signature work", async () => {
  await withTestDatabase(async (db) => {
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const body = JSON.stringify({ type: 1, padding: "x".repeat(300 * 1024) });
      const response = await app.fetch(post(body, await signer.sign(body)));
      assertEquals(response.status, 413);
      await response.body?.cancel();
    } finally {
      await sql.end();
    }
  });
});

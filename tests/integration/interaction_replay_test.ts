/**
 * A signed interaction is good once: a copy sent later, or again, changes nothing. A captured
 * `/subscribe` replayed after the member paid must not yield a manage link (a Customer Portal
 * session on their Stripe customer) nor replace the member's live interaction token.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import {
  buildApp,
  clockAt,
  createDiscordSigner,
  ENDPOINT,
  GUILD_ID,
  insertGuild,
  MEMBER_ID,
  ROLE_ID,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

type Sql = import("postgres").Sql;

interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

function send(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  signed: SignedRequest,
) {
  return app.fetch(
    new Request(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...signed.headers },
      body: signed.body,
    }),
  );
}

async function storedRows(sql: Sql) {
  const [counts] = await sql<{ links: number; tokens: number; handled: number }[]>`
    select (select count(*)::int from rolepass.link_tokens) as links,
      (select count(*)::int from rolepass.interaction_tokens) as tokens,
      (select count(*)::int from rolepass.handled_interactions) as handled`;
  return counts;
}

async function storedInteractionToken(sql: Sql): Promise<string | undefined> {
  const [row] = await sql<{ token: string }[]>`
    select token from rolepass.interaction_tokens
    where guild_id = ${GUILD_ID} and discord_user_id = ${MEMBER_ID}`;
  return row?.token;
}

async function markPaid(sql: Sql, planId: string): Promise<void> {
  await sql`
    insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
      stripe_subscription_id, plan_id, status, entitled, entitled_role_id, subscription_live,
      change_cause)
    values (${GUILD_ID}, ${MEMBER_ID}, 'cus_Replay1', 'sub_Replay1', ${planId}, 'active', true,
      ${ROLE_ID}, true, 'test')`;
}

Deno.test("a /subscribe signed more than five minutes before or after now is refused and stores nothing", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const signer = await createDiscordSigner();
    const now = 1_800_000_000;
    const { app, sql } = buildApp(db.url, signer.publicKeyHex, {}, clockAt(now));
    try {
      for (const [what, signedAt] of [["past", now - 301], ["future", now + 301]] as const) {
        const body = JSON.stringify(await subscribeInteraction());
        const response = await send(app, {
          body,
          headers: await signer.sign(body, String(signedAt)),
        });
        assertEquals(response.status, 401, what);
        assertEquals(await response.json(), {
          error: "Cannot verify interaction: timestamp is outside the accepted window",
        }, what);
      }
      assertEquals(await storedRows(db.sql), { links: 0, tokens: 0, handled: 0 });

      for (const signedAt of [now - 300, now + 300]) {
        const body = JSON.stringify(await subscribeInteraction());
        const response = await send(app, {
          body,
          headers: await signer.sign(body, String(signedAt)),
        });
        assertEquals(response.status, 200, `signed at now ${signedAt - now}s`);
        await response.body?.cancel();
      }
      assertEquals(await storedRows(db.sql), { links: 2, tokens: 1, handled: 2 });
    } finally {
      await sql.end();
    }
  });
});

Deno.test("a /subscribe replayed after the member paid yields no manage link and keeps the member's own interaction token", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const captureBody = JSON.stringify(await subscribeInteraction({ token: "captured-token" }));
      const captured = { body: captureBody, headers: await signer.sign(captureBody) };
      const first = await send(app, captured);
      assertEquals(first.status, 200);
      assert((await first.text()).includes("/join/"), "the first request gets its link");

      await markPaid(db.sql, planId);
      const ownBody = JSON.stringify(await subscribeInteraction({ token: "member-own-token" }));
      const own = await send(app, { body: ownBody, headers: await signer.sign(ownBody) });
      assertEquals(own.status, 200);
      assert((await own.text()).includes("/manage/"), "the member's own request is answered");
      const before = await storedRows(db.sql);

      const replay = await send(app, captured);
      assertEquals(replay.status, 409);
      const refusal = await replay.text();
      assertEquals(JSON.parse(refusal), {
        error: "Cannot answer interaction: it was already handled",
      });
      assert(!refusal.includes("/manage/") && !refusal.includes("/join/"), refusal);
      assertEquals(await storedRows(db.sql), before);
      assertEquals(await storedInteractionToken(db.sql), "member-own-token");
    } finally {
      await sql.end();
    }
  });
});

Deno.test("two copies of one /subscribe sent at once get one link between them", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const body = JSON.stringify(await subscribeInteraction());
      const signed = { body, headers: await signer.sign(body) };
      const responses = await Promise.all([send(app, signed), send(app, signed)]);
      const statuses = responses.map((response) => response.status).sort();
      await Promise.all(responses.map((response) => response.body?.cancel()));
      assertEquals(statuses, [200, 409]);
      assertEquals(await storedRows(db.sql), { links: 1, tokens: 1, handled: 1 });
    } finally {
      await sql.end();
    }
  });
});

Deno.test("a repeated PING still gets PONG: it changes nothing, so its id is not recorded", async () => {
  await withTestDatabase(async (db) => {
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const body = '{"id":"995105663481028770","type":1,"token":"t"}';
      const signed = { body, headers: await signer.sign(body) };
      for (const attempt of [1, 2]) {
        const response = await send(app, signed);
        assertEquals(await response.json(), { type: 1 }, `attempt ${attempt}`);
      }
      assertEquals(await storedRows(db.sql), { links: 0, tokens: 0, handled: 0 });
    } finally {
      await sql.end();
    }
  });
});

/**
 * `/subscribe` against the real migrated PostgreSQL: each branch of the reply, what is stored (the
 * link token's hash, the interaction token with its 15-minute life) and what never is.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import { ConfigError } from "../../functions/_shared/env.ts";
import { withTestDatabase } from "../harness/database.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { hashLinkToken } from "../../functions/_core/link_token.ts";
import { holdsLiveSubscription } from "../../functions/_core/subscription_state.ts";
import {
  APPLICATION_ID,
  buildApp,
  createDiscordSigner,
  GUILD_ID,
  insertGuild,
  MEMBER_ID,
  postSigned,
  ROLE_ID,
  SITE_URL,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

interface Reply {
  type: number;
  data: {
    content: string;
    flags: number;
    allowed_mentions: { parse: string[] };
    components?: {
      type: number;
      components: { type: number; style: number; label: string; url: string }[];
    }[];
  };
}

function linkButton(reply: Reply) {
  const button = reply.data.components?.[0]?.components[0];
  assert(button, "the reply has a link button");
  return button;
}

async function answer(
  databaseUrl: string,
  interaction: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<{ status: number; reply: Reply }> {
  const signer = await createDiscordSigner();
  const { app, sql } = buildApp(databaseUrl, signer.publicKeyHex, env);
  try {
    const response = await postSigned(app, signer, interaction);
    return { status: response.status, reply: await response.json() };
  } finally {
    await sql.end();
  }
}

/** The fact the sync stores with a membership, decided by the core as the sync decides it. */
function subscriptionLiveAsSynced(fields: { status: string; entitled: boolean }): boolean {
  return holdsLiveSubscription({ ...fields, stripeSubscriptionId: "sub_Test1" });
}

async function insertMembership(
  sql: import("postgres").Sql,
  fields: {
    planId: string;
    status: string;
    entitled: boolean;
    cancelAt?: Date;
  },
): Promise<void> {
  await sql`
    insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
      stripe_subscription_id, plan_id, status, entitled, entitled_role_id, cancel_at,
      subscription_live, change_cause)
    values (${GUILD_ID}, ${MEMBER_ID}, 'cus_Test1', 'sub_Test1', ${fields.planId},
      ${fields.status}, ${fields.entitled}, ${fields.entitled ? ROLE_ID : null},
      ${fields.cancelAt ?? null}, ${subscriptionLiveAsSynced(fields)}, 'test')`;
}

Deno.test("a member without a subscription gets an ephemeral link to the plan page", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const interaction = await subscribeInteraction();
    const { status, reply } = await answer(db.url, interaction);

    assertEquals(status, 200);
    assertEquals(reply.type, 4);
    assertEquals(reply.data.flags, 64);
    assertEquals(reply.data.allowed_mentions, { parse: [] });
    assert(reply.data.content.includes("Gold 1: ¥500 per month"), reply.data.content);
    const button = linkButton(reply);
    assertEquals(button.style, 5);
    assertEquals(button.label, "Choose a plan");
    const token = button.url.match(/^https:\/\/plans\.rolepass\.test\/join\/([A-Za-z0-9_-]{43})$/)
      ?.[1];
    assert(token, button.url);
    assert(button.url.length <= 512);

    const [stored] = await db.sql`select * from rolepass.link_tokens`;
    assert(stored, "stored is missing");
    assertEquals(new Uint8Array(stored.token_hash), await hashLinkToken(token));
    assertEquals(stored.purpose, "join");
    assertEquals(stored.guild_id, GUILD_ID);
    assertEquals(stored.discord_user_id, MEMBER_ID);
    assertEquals(stored.locale, "en");
    const ttl = (stored.expires_at.getTime() - stored.created_at.getTime()) / 1000;
    assertEquals(Math.round(ttl), 900);
  });
});

Deno.test("the interaction token is kept for 15 minutes for the follow-up, one row per member", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    await answer(db.url, await subscribeInteraction({ token: "first-token" }));
    await answer(db.url, await subscribeInteraction({ token: "second-token" }));

    const rows = await db.sql`
      select token, application_id, extract(epoch from expires_at - created_at) as life
      from rolepass.interaction_tokens where guild_id = ${GUILD_ID} and discord_user_id = ${MEMBER_ID}`;
    assertEquals(rows.length, 1);
    assertEquals(first(rows, "an item of rows").token, "second-token");
    assertEquals(first(rows, "an item of rows").application_id, APPLICATION_ID);
    assertEquals(Math.round(Number(first(rows, "an item of rows").life)), 15 * 60);
    const { count } = first(
      await db
        .sql`select count(distinct token_hash)::int from rolepass.link_tokens`,
      "a row",
    );
    assertEquals(count, 2);
  });
});

Deno.test("the reply is in Japanese for a Japanese member, and the link remembers the language", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { name: "テスト鯖", plans: [{ ja: true }] });
    const { reply } = await answer(db.url, await subscribeInteraction({ locale: "ja" }));

    assert(reply.data.content.includes("**テスト鯖** のプラン"), reply.data.content);
    assert(reply.data.content.includes("ゴールド1: ￥500 / 毎月"), reply.data.content);
    assertEquals(linkButton(reply).label, "プランを選ぶ");
    const [stored] = await db.sql`select locale from rolepass.link_tokens`;
    assert(stored, "stored is missing");
    assertEquals(stored.locale, "ja");
  });
});

Deno.test("a server with no active plan gets an explanation and nothing is stored", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{ active: false }] });
    const en = await answer(db.url, await subscribeInteraction());
    assertEquals(en.status, 200);
    assertEquals(en.reply.data.flags, 64);
    assertEquals(en.reply.data.components, undefined);
    assert(en.reply.data.content.includes("**Test Guild** has no paid role plan yet"));

    const ja = await answer(db.url, await subscribeInteraction({ locale: "ja" }));
    assert(ja.reply.data.content.includes("まだ有料ロールのプランが用意されていません"));

    const { links } = first(
      await db.sql`select count(*)::int as links from rolepass.link_tokens`,
      "a row",
    );
    const { tokens } = first(
      await db
        .sql`select count(*)::int as tokens from rolepass.interaction_tokens`,
      "a row",
    );
    assertEquals([links, tokens], [0, 0]);
  });
});

Deno.test("a server rolepass does not know is told it has no plan", async () => {
  await withTestDatabase(async (db) => {
    const { status, reply } = await answer(db.url, await subscribeInteraction());
    assertEquals(status, 200);
    assert(reply.data.content.startsWith("This server has no paid role plan yet"));
  });
});

Deno.test("an entitled member gets an ephemeral link to manage the subscription", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    await insertMembership(db.sql, { planId, status: "active", entitled: true });
    const { reply } = await answer(db.url, await subscribeInteraction());

    assert(reply.data.content.includes("You are subscribed to **Gold 1** on **Test Guild**"));
    const button = linkButton(reply);
    assertEquals(button.label, "Manage subscription");
    assert(/^https:\/\/plans\.rolepass\.test\/manage\/[A-Za-z0-9_-]{43}$/.test(button.url));
    const [stored] = await db.sql`select purpose from rolepass.link_tokens`;
    assert(stored, "stored is missing");
    assertEquals(stored.purpose, "manage");
  });
});

Deno.test("a member whose cancellation is scheduled is told when the role ends", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{ ja: true }] });
    assert(planId, "planId is missing");
    const cancelAt = new Date("2027-01-31T00:00:00Z");
    await insertMembership(db.sql, { planId, status: "active", entitled: true, cancelAt });
    const { reply } = await answer(db.url, await subscribeInteraction({ locale: "ja" }));

    const unix = cancelAt.getTime() / 1000;
    assert(
      reply.data.content.includes(
        `**ゴールド1** のサブスクリプションは <t:${unix}:D> に終了します`,
      ),
    );
    assertEquals(linkButton(reply).label, "サブスクリプションを管理");
  });
});

Deno.test("a member whose renewal failed is sent to the portal, not to a second checkout", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    await insertMembership(db.sql, { planId, status: "past_due", entitled: false });
    const { reply } = await answer(db.url, await subscribeInteraction());

    assert(reply.data.content.includes("is unpaid"), reply.data.content);
    assert(linkButton(reply).url.includes("/manage/"));
  });
});

Deno.test("a member whose subscription was canceled gets the plan page again", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    await insertMembership(db.sql, { planId, status: "canceled", entitled: false });
    const { reply } = await answer(db.url, await subscribeInteraction());

    assert(linkButton(reply).url.includes("/join/"));
  });
});

Deno.test("/subscribe in a DM gets a clear refusal and stores nothing", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const en = await answer(db.url, await subscribeInteraction({ guildId: null }));
    assertEquals(en.status, 200);
    assertEquals(en.reply.data.flags, 64);
    assert(en.reply.data.content.includes("works inside a server"));
    assert(en.reply.data.content.startsWith("</subscribe:"));
    const ja = await answer(db.url, await subscribeInteraction({ guildId: null, locale: "ja" }));
    assert(ja.reply.data.content.includes("サーバーの中で使うコマンドです"));

    const { count } = first(await db.sql`select count(*)::int from rolepass.link_tokens`, "a row");
    assertEquals(count, 0);
  });
});

Deno.test("LINK_TOKEN_TTL_SECONDS sets how long the link works", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const { reply } = await answer(db.url, await subscribeInteraction(), {
      LINK_TOKEN_TTL_SECONDS: "300",
    });
    const [stored] = await db.sql`
      select extract(epoch from expires_at - created_at)::int as ttl,
        floor(extract(epoch from expires_at))::bigint as expires from rolepass.link_tokens`;
    assert(stored, "stored is missing");
    assertEquals(stored.ttl, 300);
    assert(reply.data.content.includes(`<t:${stored.expires}:R>`), reply.data.content);
  });
});

Deno.test("neither the link token nor the interaction token reaches a log line", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const lines: string[] = [];
    setLogSink((line) => lines.push(line));
    try {
      const { reply } = await answer(
        db.url,
        await subscribeInteraction({ token: "secret-interaction-token-value" }),
      );
      const linkToken = linkButton(reply).url.split("/").pop()!;
      assert(lines.some((line) => line.includes('"outcome":"join"')), lines.join("\n"));
      for (const line of lines) {
        assert(!line.includes(linkToken), line);
        assert(!line.includes("secret-interaction-token-value"), line);
      }
    } finally {
      setLogSink(null);
    }
  });
});

Deno.test("the raw link token is stored nowhere in the database", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const { reply } = await answer(db.url, await subscribeInteraction());
    const linkToken = linkButton(reply).url.split("/").pop()!;
    const { found } = first(
      await db.sql`
      select exists (select 1 from rolepass.link_tokens t where to_jsonb(t)::text like ${
        "%" + linkToken + "%"
      }) or exists (select 1 from rolepass.interaction_tokens t where to_jsonb(t)::text like ${
        "%" + linkToken + "%"
      }) as found`,
      "a row",
    );
    assertEquals(found, false);
  });
});

Deno.test("when the database cannot be reached the member is asked to try again", async () => {
  const signer = await createDiscordSigner();
  // A port nothing listens on: the connection is refused at once.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  setLogSink(() => {});
  const { app, sql } = buildApp(`postgres://nobody@127.0.0.1:${port}/none`, signer.publicKeyHex);
  try {
    const response = await postSigned(app, signer, await subscribeInteraction());
    assertEquals(response.status, 200);
    const reply: Reply = await response.json();
    assertEquals(reply.data.flags, 64);
    assert(reply.data.content.includes("Please run </subscribe:"), reply.data.content);
  } finally {
    setLogSink(null);
    await sql.end();
  }
});

Deno.test("links fit Discord's 512-character button limit, and a longer site URL is refused at boot", async () => {
  const limit = 512 - "/manage/".length - 43;
  const longestSite = `https://example.com/${"a".repeat(limit - "https://example.com/".length)}`;
  const signer = await createDiscordSigner();
  assertThrows(
    () =>
      buildApp("postgres://unused", signer.publicKeyHex, { PUBLIC_SITE_URL: `${longestSite}a` }),
    (error: unknown) =>
      error instanceof ConfigError && error.message.includes("PUBLIC_SITE_URL is invalid"),
  );
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    await insertMembership(db.sql, { planId, status: "active", entitled: true });
    const { app, sql } = buildApp(db.url, signer.publicKeyHex, { PUBLIC_SITE_URL: longestSite });
    try {
      const reply: Reply = await (await postSigned(app, signer, await subscribeInteraction()))
        .json();
      assertEquals(linkButton(reply).url.length, 512);
    } finally {
      await sql.end();
    }
  });
});

Deno.test("the site URL's trailing slash does not double in the link", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const { reply } = await answer(db.url, await subscribeInteraction(), {
      PUBLIC_SITE_URL: `${SITE_URL}/`,
    });
    assert(linkButton(reply).url.startsWith(`${SITE_URL}/join/`));
  });
});

/**
 * Shared by the interactions benchmark and load script: a database cloned from the migrated
 * template (DATABASE_URL) with one server and plan, the app built as production builds it, signed
 * /subscribe requests, and the floor: Ed25519 verify + one INSERT round trip.
 */
import postgres from "postgres";
import { verifyKey } from "discord-interactions";
import { createSql } from "../../functions/_shared/db.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import {
  buildApp,
  createDiscordSigner,
  ENDPOINT,
  insertGuild,
  subscribeInteraction,
} from "../integration/interactions_fixtures.ts";
import { assert } from "../harness/assert.ts";

const BENCH_DATABASE = "rolepass_bench_interactions";

/** Clones the template named in DATABASE_URL into a database kept for benchmarks. */
export async function benchDatabaseUrl(): Promise<string> {
  const given = Deno.env.get("DATABASE_URL");
  if (!given) throw new Error("DATABASE_URL is not set: run `deno task bench interactions`");
  const template = new URL(given);
  const admin = new URL(given);
  admin.pathname = "/postgres";
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${BENCH_DATABASE}" with (force)`);
    await sql.unsafe(
      `create database "${BENCH_DATABASE}" template "${
        decodeURIComponent(template.pathname.slice(1))
      }"`,
    );
  } finally {
    await sql.end();
  }
  const url = new URL(given);
  url.pathname = `/${BENCH_DATABASE}`;
  const seed = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await insertGuild(seed, { plans: [{}, {}] });
  } finally {
    await seed.end();
  }
  return url.toString();
}

/** Everything a measurement needs. */
export interface InteractionsBench {
  databaseUrl: string;
  publicKeyHex: string;
  /** A newly signed /subscribe of the n-th member, never sent before. */
  subscribeRequest(n?: number): Promise<Request>;
  /**
   * Signs `count` /subscribe requests ahead, so the measured calls of `subscribe` do not sign:
   * the endpoint answers each interaction once, so every call needs bytes of its own.
   */
  prepareSubscribes(count: number): Promise<void>;
  /** One PING through the app's fetch handler; resolves to the status. */
  ping(): Promise<number>;
  /**
   * One /subscribe through the app's fetch handler, with a request prepared ahead (signed on the
   * spot once those run out); throws unless it answered with a link.
   */
  subscribe(n?: number): Promise<void>;
  /** Ed25519 verify of the same bytes + one INSERT round trip on its own pool. */
  floor(): Promise<void>;
  close(): Promise<void>;
}

/** Members the requests rotate through, so concurrent requests do not queue on one row lock. */
const MEMBERS = 64;

/** Builds the app; /subscribe requests are signed ahead with `prepareSubscribes`. */
export async function setUpInteractionsBench(): Promise<InteractionsBench> {
  setLogSink(() => {});
  const databaseUrl = await benchDatabaseUrl();
  const signer = await createDiscordSigner();
  const { app, sql } = buildApp(databaseUrl, signer.publicKeyHex);
  const memberInteractions: Record<string, unknown>[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    memberInteractions.push(
      await subscribeInteraction({ memberId: String(400000000000000000n + BigInt(i)) }),
    );
  }
  let sent = 0;
  const signSubscribe = async (n: number) => {
    const id = String(700000000000000000n + BigInt(sent++));
    const body = JSON.stringify({ ...memberInteractions[n % MEMBERS], id });
    return { body, headers: await signer.sign(body) };
  };
  let prepared: { body: string; headers: Record<string, string> }[] = [];
  let nextPrepared = 0;
  const ping = '{"id":"995105663481028770","type":1,"token":"t","version":1}';
  const pingHeaders = await signer.sign(ping);
  const request = ({ body, headers }: { body: string; headers: Record<string, string> }) =>
    new Request(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body,
    });

  const floorSql = createSql(databaseUrl);
  const publicKey = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(signer.publicKeyHex.match(/../g)!.map((h) => parseInt(h, 16))),
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  const floorSigned = await signSubscribe(0);
  assert(floorSigned, "floorSigned is missing");
  const floorBody = new TextEncoder().encode(floorSigned.body);
  return {
    databaseUrl,
    publicKeyHex: signer.publicKeyHex,
    subscribeRequest: async (n = 0) => request(await signSubscribe(n)),
    async prepareSubscribes(count) {
      prepared = prepared.slice(nextPrepared);
      nextPrepared = 0;
      for (let i = 0; i < count; i++) prepared.push(await signSubscribe(i));
    },
    async ping() {
      const response = await app.fetch(request({ body: ping, headers: pingHeaders }));
      await response.body?.cancel();
      return response.status;
    },
    async subscribe(n = 0) {
      const response = await app.fetch(request(prepared[nextPrepared++] ?? await signSubscribe(n)));
      const text = await response.text();
      if (response.status !== 200 || !text.includes("/join/")) {
        throw new Error(`unexpected answer ${response.status}: ${text}`);
      }
    },
    async floor() {
      const valid = await verifyKey(
        floorBody,
        floorSigned.headers["X-Signature-Ed25519"],
        floorSigned.headers["X-Signature-Timestamp"],
        publicKey,
      );
      if (!valid) throw new Error("floor: signature did not verify");
      const floorHash = crypto.getRandomValues(new Uint8Array(32));
      await floorSql`
        insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
          expires_at)
        values (${floorHash}, 'join', '290926798626357999', '400000000000000000', 'en',
          now() + interval '15 minutes')`;
    },
    async close() {
      await sql.end();
      await floorSql.end();
      setLogSink(null);
    },
  };
}

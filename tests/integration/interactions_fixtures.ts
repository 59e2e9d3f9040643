/**
 * Shared by the interactions tests and benchmark: a real Ed25519 key pair from WebCrypto that
 * signs interaction bodies the way Discord does, interaction bodies built from Discord's own
 * documentation example, and the app built through the same config path as production.
 */
import type postgres from "postgres";
import { createApp } from "../../functions/discord-interactions/app.ts";
import { depsFromConfig, loadConfig } from "../../functions/discord-interactions/config.ts";
import { assert } from "../harness/assert.ts";

const FIXTURES = new URL("../fixtures/discord/interactions/", import.meta.url);

export const APPLICATION_ID = "775799577604522054";
export const GUILD_ID = "290926798626357999";
export const MEMBER_ID = "53908232506183680";
export const ROLE_ID = "539082325061836999";
export const COMMAND_ID = "771825006014889984";
export const SITE_URL = "https://plans.rolepass.test";
/** The interactions endpoint as Supabase routes it inside the function. */
export const ENDPOINT = "http://localhost/discord-interactions";

/** Reads a JSON fixture from tests/fixtures/discord/interactions/. */
export async function readInteractionFixture<T = Record<string, unknown>>(
  name: string,
): Promise<T> {
  return JSON.parse(await Deno.readTextFile(new URL(name, FIXTURES)));
}

function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An Ed25519 key pair standing in for Discord's. */
export interface DiscordSigner {
  publicKeyHex: string;
  /** Signs `timestamp || body` and returns the two headers Discord sends. */
  sign(body: string | Uint8Array, timestamp?: string): Promise<SignatureHeaders>;
}

/** The two headers Discord signs an interaction with. */
export type SignatureHeaders = { "X-Signature-Ed25519": string; "X-Signature-Timestamp": string };

/** Generates a fresh key pair with WebCrypto. */
export async function createDiscordSigner(): Promise<DiscordSigner> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKeyHex = toHex(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    publicKeyHex,
    async sign(body, timestamp = String(Math.floor(Date.now() / 1000))) {
      const bodyBytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      const message = new Uint8Array([...new TextEncoder().encode(timestamp), ...bodyBytes]);
      const signature = await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, message);
      return { "X-Signature-Ed25519": toHex(signature), "X-Signature-Timestamp": timestamp };
    },
  };
}

/** What varies between the /subscribe interactions of the tests. */
export interface SubscribeInteractionOptions {
  guildId?: string | null;
  memberId?: string;
  locale?: string;
  token?: string;
  commandName?: string;
  type?: number;
  applicationId?: string;
}

let interactionCounter = 0;

/**
 * A slash-command interaction built from Discord's documentation example, turned into /subscribe.
 * `guildId: null` makes it a DM interaction (a `user` instead of a `member`).
 */
export async function subscribeInteraction(
  options: SubscribeInteractionOptions = {},
): Promise<Record<string, unknown>> {
  const example = await readInteractionFixture<Record<string, unknown>>(
    "discord-api-docs-slash-command-example.json",
  );
  const memberId = options.memberId ?? MEMBER_ID;
  const member = example.member as { user: Record<string, unknown> };
  const body: Record<string, unknown> = {
    ...example,
    id: String(800000000000000000n + BigInt(interactionCounter++)),
    application_id: options.applicationId ?? APPLICATION_ID,
    type: options.type ?? 2,
    token: options.token ?? `interaction-token-${crypto.randomUUID()}`,
    locale: options.locale ?? "en-US",
    data: {
      type: 1,
      name: options.commandName ?? "subscribe",
      id: COMMAND_ID,
    },
    member: { ...member, user: { ...member.user, id: memberId } },
    guild_id: options.guildId === undefined ? GUILD_ID : options.guildId,
  };
  if (options.guildId === null) {
    delete body.guild_id;
    delete body.guild_locale;
    body.user = { ...member.user, id: memberId };
    delete body.member;
  }
  return body;
}

/**
 * The app as production builds it, from an environment, against the database at `databaseUrl`.
 * `now` sets the clock signature timestamps are held against (for vectors signed long ago).
 */
export function buildApp(
  databaseUrl: string,
  publicKeyHex: string,
  extraEnv: Record<string, string> = {},
  now?: () => Date,
) {
  const config = loadConfig({
    DISCORD_PUBLIC_KEY: publicKeyHex,
    DISCORD_APPLICATION_ID: APPLICATION_ID,
    PUBLIC_SITE_URL: SITE_URL,
    SUPABASE_DB_URL: databaseUrl,
    ...extraEnv,
  });
  const deps = depsFromConfig(config);
  return { app: createApp({ ...deps, now }), sql: deps.sql, config };
}

/** A clock stopped at `unixSeconds`, as Discord writes X-Signature-Timestamp. */
export function clockAt(unixSeconds: string | number): () => Date {
  return () => new Date(Number(unixSeconds) * 1000);
}

/** Posts `body` signed by `signer` to the app. */
export async function postSigned(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  signer: DiscordSigner,
  body: unknown,
): Promise<Response> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return await app.fetch(
    new Request(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(await signer.sign(text)) },
      body: text,
    }),
  );
}

/** Inserts the guild of the tests, optionally with a plan, as the superuser. */
export async function insertGuild(
  sql: postgres.Sql,
  options: { name?: string; plans?: { active?: boolean; price?: string; ja?: boolean }[] } = {},
): Promise<string[]> {
  await sql`insert into rolepass.guilds (id, name) values (${GUILD_ID}, ${
    options.name ?? "Test Guild"
  })`;
  const ids: string[] = [];
  let n = 0;
  for (const plan of options.plans ?? []) {
    n++;
    const display = {
      en: { name: `Gold ${n}`, description: "Gold role" },
      ...(plan.ja ? { ja: { name: `ゴールド${n}`, description: "ゴールドロール" } } : {}),
    };
    const [row] = await sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, active, sort_order)
      values (${GUILD_ID}, ${plan.price ?? `price_test${n}`}, ${ROLE_ID}, ${sql.json(display)},
        500, 'jpy', 'month', ${plan.active ?? true}, ${n})
      returning id`;
    assert(row, "row is missing");
    ids.push(row.id);
  }
  return ids;
}

/**
 * Signed Discord interactions for the sandbox and the end-to-end test: an Ed25519 key pair made
 * with WebCrypto, and a `/subscribe` interaction signed exactly as Discord signs it (the
 * timestamp followed by the raw body), so the discord-interactions function checks it for real.
 */

/** An Ed25519 key pair; `publicKeyHex` is the value for DISCORD_PUBLIC_KEY. */
export interface InteractionKeys {
  publicKeyHex: string;
  privateKey: CryptoKey;
}

function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Generates a fresh key pair, as the Developer Portal holds for a real application. */
export async function generateInteractionKeys(): Promise<InteractionKeys> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  return { publicKeyHex: toHex(raw), privateKey: pair.privateKey };
}

/** Headers Discord sends with a body signed by `keys` at `timestampSeconds`. */
export async function signInteraction(
  keys: InteractionKeys,
  body: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Promise<Headers> {
  const timestamp = String(timestampSeconds);
  const signature = await crypto.subtle.sign(
    "Ed25519",
    keys.privateKey,
    new TextEncoder().encode(timestamp + body),
  );
  return new Headers({
    "content-type": "application/json",
    "x-signature-ed25519": toHex(signature),
    "x-signature-timestamp": timestamp,
    "user-agent": "Discord-Interactions/1.0 (+https://discord.com)",
  });
}

/** Who runs the command and where. */
export interface SlashCommandSetup {
  applicationId: string;
  guildId: string;
  userId: string;
  username?: string;
  /** The interaction token Discord would issue (the follow-up webhook's credential). */
  token: string;
  /** Discord locale of the member, e.g. "ja" or "en-US". */
  locale?: string;
  commandName?: string;
  /** The role ids the member holds right now: Discord sends them with every guild interaction. */
  roles?: string[];
}

function snowflake(): string {
  const ms = BigInt(Date.now() - 1420070400000);
  const [word = 0] = crypto.getRandomValues(new Uint32Array(1));
  const random = BigInt(word & 0x3fffff);
  return String((ms << 22n) | random);
}

/** The JSON body of a guild slash command, shaped like Discord's documented example. */
export function slashCommandBody(setup: SlashCommandSetup): string {
  return JSON.stringify({
    type: 2,
    id: snowflake(),
    application_id: setup.applicationId,
    token: setup.token,
    version: 1,
    guild_id: setup.guildId,
    channel_id: snowflake(),
    app_permissions: "442368",
    guild_locale: "ja",
    locale: setup.locale ?? "ja",
    entitlements: [],
    authorizing_integration_owners: { "0": setup.guildId },
    context: 0,
    member: {
      user: {
        id: setup.userId,
        username: setup.username ?? "sandbox-member",
        global_name: setup.username ?? "Sandbox member",
        avatar: null,
        discriminator: "0",
        public_flags: 0,
      },
      roles: setup.roles ?? [],
      premium_since: null,
      permissions: "2248473465835073",
      pending: false,
      nick: null,
      mute: false,
      deaf: false,
      joined_at: "2026-01-01T00:00:00.000000+00:00",
      flags: 0,
    },
    data: { id: snowflake(), name: setup.commandName ?? "subscribe", type: 1 },
  });
}

/** A fresh interaction token, shaped like Discord's (long, URL-safe). */
export function newInteractionToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(96));
  return "aW50ZXJhY3Rpb246" + btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "");
}

/**
 * Check: the Discord bot token is valid and belongs to the configured application, whose public
 * key is the one the interactions function verifies signatures with.
 */
import type { BotFacts } from "./discord_facts.ts";
import { fail, type Finding, pass } from "./finding.ts";
import { describeFailure } from "./probe.ts";

/** Discord's OAuth2 URL that adds the bot with Manage Roles (1 << 28) to a server. */
export function inviteUrl(applicationId: string, guildId?: string): string {
  const url = new URL("https://discord.com/oauth2/authorize");
  url.searchParams.set("client_id", applicationId);
  url.searchParams.set("scope", "bot applications.commands");
  url.searchParams.set("permissions", String(1n << 28n));
  if (guildId) url.searchParams.set("guild_id", guildId);
  return url.toString();
}

/** Judges the token from GET /users/@me and /applications/@me. */
export function checkDiscordToken(
  facts: BotFacts,
  expected: { applicationId?: string; publicKey?: string },
): Finding[] {
  if (!facts.user.ok) {
    if (facts.user.status === 401) {
      return [fail(
        "discord.token",
        "Discord refused DISCORD_BOT_TOKEN (401 Unauthorized)",
        "Developer Portal → your application → Bot → Reset Token, then set DISCORD_BOT_TOKEN",
      )];
    }
    return [fail(
      "discord.token",
      `Cannot check DISCORD_BOT_TOKEN: Discord answered ${describeFailure(facts.user)}`,
      "check DISCORD_API_BASE_URL and the network, then run the doctor again",
    )];
  }
  const bot = facts.user.value;
  const findings: Finding[] = [];
  if (facts.application.ok) {
    const application = facts.application.value;
    if (expected.applicationId && application.id !== expected.applicationId) {
      findings.push(fail(
        "discord.token",
        `DISCORD_BOT_TOKEN belongs to application ${application.id} (${application.name}), ` +
          `not DISCORD_APPLICATION_ID ${expected.applicationId}`,
        "use the bot token and application id of the same application",
      ));
    }
    if (
      expected.publicKey &&
      application.verify_key.toLowerCase() !== expected.publicKey.toLowerCase()
    ) {
      findings.push(fail(
        "discord.token",
        `DISCORD_PUBLIC_KEY is not the public key of application ${application.id}: Discord's ` +
          "signed interactions would all be refused",
        "copy the Public Key from Developer Portal → General Information",
      ));
    }
  } else {
    findings.push(fail(
      "discord.token",
      `Cannot read the bot's application: Discord answered ${describeFailure(facts.application)}`,
      "check the token's application in the Developer Portal, then run the doctor again",
    ));
  }
  if (findings.length === 0) {
    findings.push(pass(
      "discord.token",
      `Discord bot token is valid: bot ${bot.username} (${bot.id}) of the configured application`,
    ));
  }
  return findings;
}

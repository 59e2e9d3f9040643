/**
 * `/subscribe`: a private link to the plan page for a member who is not subscribed, or to the
 * Customer Portal for one who is, answered from one database round trip and no Stripe call.
 */
import { hashLinkToken } from "../_core/link_token.ts";
import type { Locale } from "../_core/locale.ts";
import {
  dmRefusalReply,
  type EphemeralReply,
  linkPath,
  subscribeReply,
  unavailableReply,
} from "../_core/messages/subscribe.ts";
import type { Logger } from "../_shared/log.ts";
import type { Interaction } from "./interaction.ts";
import type { SubscribeLinkStore } from "./subscribe_links.ts";

/** What the command needs. */
export interface SubscribeCommandDeps {
  subscribeLinks: SubscribeLinkStore;
  /** PUBLIC_SITE_URL without a trailing slash. */
  publicSiteUrl: string;
  linkTokenTtlSeconds: number;
  newLinkToken: () => string;
}

/** `</subscribe:id>`: Discord renders it as the command's name in the member's language. */
function commandMention(interaction: Interaction): string {
  return interaction.data?.id ? `</subscribe:${interaction.data.id}>` : "/subscribe";
}

/**
 * Answers `/subscribe`.
 * @param interaction the signed, parsed interaction
 * @param applicationId the application that owns the interaction token
 * @param locale the member's language
 */
export async function answerSubscribe(
  deps: SubscribeCommandDeps,
  interaction: Interaction,
  applicationId: string,
  locale: Locale,
  log: Logger,
): Promise<EphemeralReply> {
  const memberId = interaction.member?.user.id;
  if (!interaction.guild_id || !memberId) {
    log.info("subscribe refused outside a server");
    return dmRefusalReply(locale, commandMention(interaction));
  }
  const started = performance.now();
  const linkToken = deps.newLinkToken();
  let link;
  try {
    link = await deps.subscribeLinks.open({
      guildId: interaction.guild_id,
      memberId,
      locale,
      linkTokenHash: await hashLinkToken(linkToken),
      linkTokenTtlSeconds: deps.linkTokenTtlSeconds,
      applicationId,
      interactionToken: interaction.token,
    });
  } catch (error) {
    log.error("subscribe could not open a link", { error, guild_id: interaction.guild_id });
    return unavailableReply(locale, commandMention(interaction));
  }
  log.info("subscribe answered", {
    guild_id: interaction.guild_id,
    member_id: memberId,
    outcome: link.outcome,
    ms: Math.round(performance.now() - started),
  });
  if (link.outcome === "no_plan") {
    return subscribeReply({ kind: "no_plan", guildName: link.guildName }, locale);
  }
  const url = `${deps.publicSiteUrl}${linkPath(link.outcome, linkToken)}`;
  if (link.outcome === "join") {
    return subscribeReply({
      kind: "join",
      guildName: link.guildName,
      plans: link.plans,
      link: url,
      linkExpiresAt: link.linkExpiresAt,
    }, locale);
  }
  return subscribeReply({
    kind: "manage",
    guildName: link.guildName,
    membership: link.membership ?? { entitled: false, plan: null, endsAt: null },
    link: url,
    linkExpiresAt: link.linkExpiresAt,
  }, locale);
}

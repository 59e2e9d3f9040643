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

/** The reply to send, or why there is none. */
export type SubscribeAnswer =
  | { ok: true; reply: EphemeralReply }
  | { ok: false; reason: "already_handled" };

/**
 * Answers `/subscribe`.
 * @param interaction the signed, parsed interaction
 * @param applicationId the application that owns the interaction token
 * @param locale the member's language
 * @returns the reply, or `already_handled` when this interaction id was answered before
 */
export async function answerSubscribe(
  deps: SubscribeCommandDeps,
  interaction: Interaction,
  applicationId: string,
  locale: Locale,
  log: Logger,
): Promise<SubscribeAnswer> {
  const memberId = interaction.member?.user.id;
  if (!interaction.guild_id || !memberId) {
    log.info("subscribe refused outside a server");
    return replied(dmRefusalReply(locale, commandMention(interaction)));
  }
  const started = performance.now();
  const linkToken = deps.newLinkToken();
  let link;
  try {
    link = await deps.subscribeLinks.open({
      interactionId: interaction.id,
      guildId: interaction.guild_id,
      memberId,
      locale,
      linkTokenHash: await hashLinkToken(linkToken),
      linkTokenTtlSeconds: deps.linkTokenTtlSeconds,
      applicationId,
      interactionToken: interaction.token,
      memberRoleIds: interaction.member?.roles ?? null,
    });
  } catch (error) {
    log.error("subscribe could not open a link", { error, guildId: interaction.guild_id });
    return replied(unavailableReply(locale, commandMention(interaction)));
  }
  if (link.outcome === "already_handled") {
    log.warn("subscribe refused: interaction was already handled", {
      guildId: interaction.guild_id,
      memberId,
    });
    return { ok: false, reason: "already_handled" };
  }
  log.info("subscribe answered", {
    guildId: interaction.guild_id,
    memberId,
    outcome: link.outcome,
    roleRepair: link.outcome !== "no_plan" && link.roleRepair,
    ms: Math.round(performance.now() - started),
  });
  if (link.outcome === "no_plan") {
    return replied(subscribeReply({ kind: "no_plan", guildName: link.guildName }, locale));
  }
  const url = `${deps.publicSiteUrl}${linkPath(link.outcome, linkToken)}`;
  if (link.outcome === "join") {
    return replied(subscribeReply({
      kind: "join",
      guildName: link.guildName,
      plans: link.plans,
      pass: link.pass,
      roleRepair: link.roleRepair,
      link: url,
      linkExpiresAt: link.linkExpiresAt,
    }, locale));
  }
  return replied(subscribeReply({
    kind: "manage",
    guildName: link.guildName,
    membership: link.membership ?? { plan: null, standing: { kind: "inactive" } },
    roleRepair: link.roleRepair,
    link: url,
    linkExpiresAt: link.linkExpiresAt,
  }, locale));
}

function replied(reply: EphemeralReply): SubscribeAnswer {
  return { ok: true, reply };
}

/**
 * Runs `/subscribe` the way Discord does: registers the interaction token with the Discord double
 * (so the follow-up webhook accepts it for 15 minutes), signs the interaction with the
 * application's key and POSTs it to the discord-interactions function.
 */
import type { DiscordDouble } from "../../../_doubles/discord/index.ts";
import {
  type InteractionKeys,
  newInteractionToken,
  signInteraction,
  slashCommandBody,
} from "../signed_interaction.ts";

/** What the member saw. */
export interface SubscribeReply {
  status: number;
  /** The ephemeral message text. */
  content: string;
  /** The link button's URL (plan page or portal), when there is one. */
  linkUrl: string | null;
  /** The interaction token Discord issued (a secret; the log-scan test looks for it). */
  interactionToken: string;
}

interface ReplyBody {
  data?: { content?: string; components?: { components?: { url?: string }[] }[] };
}

/** Posts a signed `/subscribe` for `memberId` in `guildId` to `interactionsUrl`. */
export async function subscribeAsMember(options: {
  discord: DiscordDouble;
  keys: InteractionKeys;
  interactionsUrl: string;
  guildId: string;
  memberId: string;
  locale?: string;
}): Promise<SubscribeReply> {
  const token = newInteractionToken();
  options.discord.registerInteraction(token, {
    guildId: options.guildId,
    userId: options.memberId,
  });
  const body = slashCommandBody({
    applicationId: options.discord.applicationId,
    guildId: options.guildId,
    userId: options.memberId,
    token,
    locale: options.locale,
    roles: options.discord.memberRoles(options.guildId, options.memberId) ?? [],
  });
  const response = await fetch(options.interactionsUrl, {
    method: "POST",
    headers: await signInteraction(options.keys, body),
    body,
  });
  const text = await response.text();
  let reply: ReplyBody = {};
  try {
    reply = JSON.parse(text) as ReplyBody;
  } catch {
    reply = {};
  }
  const buttons = (reply.data?.components ?? []).flatMap((row) => row.components ?? []);
  return {
    status: response.status,
    content: reply.data?.content ?? text,
    linkUrl: buttons.find((button) => button.url)?.url ?? null,
    interactionToken: token,
  };
}

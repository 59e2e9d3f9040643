/**
 * What the operator log channel is told when the reconciliation pass of a guild stops because
 * Discord refused to show the guild's members, in the guild's language. It is posted once per
 * stop; the next pass tries again by itself.
 */
import type { RESTPostAPIChannelMessageJSONBody } from "discord-api-types/v10";
import { tidyJapaneseSpacing } from "../japanese_spacing.ts";
import type { Locale } from "../locale.ts";

/** Why a pass stopped. */
export interface ReconciliationStop {
  locale: Locale;
  /** Discord's answer, e.g. "Discord answered 403 (code 50013)". */
  detail: string;
  /** How many members the pass had read before it stopped. */
  membersChecked: number;
}

/** The operator log message for a stopped pass; it mentions nobody. */
export function reconciliationStoppedMessage(
  stop: ReconciliationStop,
): RESTPostAPIChannelMessageJSONBody {
  const content = stop.locale === "ja"
    ? `⚠️ rolepass: メンバーのロールの照合を途中で止めました。Discordがメンバー情報を返しませんでした（${stop.detail}）。` +
      `${stop.membersChecked}人まで確認済みです。` +
      "\nボットのロールの権限（ロールの管理、メンバーの閲覧）とサーバーへの参加を確認してください。直れば次回の照合が続きから再開します。"
    : `⚠️ rolepass stopped checking members' roles: Discord would not show the server's members (${stop.detail}). ` +
      `${stop.membersChecked} members were checked before it stopped.` +
      "\nCheck that the bot is still in the server and that its role can manage roles and view members. " +
      "Once fixed, the next check carries on where this one stopped.";
  return {
    content: stop.locale === "ja" ? tidyJapaneseSpacing(content) : content,
    allowed_mentions: { parse: [] },
  };
}

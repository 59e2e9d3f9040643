/**
 * What `/rolepass resync` answers, in the operator's language: what re-reading Stripe changed,
 * or why nothing could be re-read. Ephemeral, and it mentions nobody.
 */
import type { ResyncChange } from "../admin.ts";
import type { Locale } from "../locale.ts";
import { type EphemeralReply, ephemeralReply } from "./subscribe.ts";

/** What a resync came to, as role-sync records it and the answer words it. */
export type ResyncResult =
  | {
    kind: "synced";
    memberId: string;
    changes: ResyncChange[];
    /** The role the member should hold now, or null. */
    roleId: string | null;
    status: string | null;
    /** The roles the member should hold but lacked in Discord, which a queued role job gives
     * back; empty when none was missing. */
    repairedRoleIds: string[];
  }
  /** Stripe has no subscription of the customer to a plan of this server. */
  | { kind: "no_subscription"; memberId: string }
  /** Stripe could not be read: nothing was written. */
  | { kind: "stripe_unavailable"; memberId: string; detail: string }
  /** role-sync has no STRIPE_SECRET_KEY. */
  | { kind: "stripe_not_configured"; memberId: string };

/** Why a resync was not even started; nothing was recorded. */
export type ResyncRefusal = "unknown_member" | "no_customer";

function role(roleId: string | null, locale: Locale): string {
  return roleId ? `<@&${roleId}>` : locale === "ja" ? "なし" : "none";
}

function status(value: string | null, locale: Locale): string {
  return value ?? (locale === "ja" ? "なし" : "none");
}

/** The reply when a resync is refused at once. */
export function resyncRefusalReply(
  refusal: ResyncRefusal,
  memberId: string,
  locale: Locale,
): EphemeralReply {
  const ja = locale === "ja";
  if (refusal === "unknown_member") {
    return ephemeralReply(
      ja
        ? `<@${memberId}> の記録はこのサーバーにありません（登録したことがありません）。読み直すものはありません。`
        : `rolepass has no record of <@${memberId}> in this server (they never subscribed), so there is nothing to re-read.`,
      locale,
    );
  }
  return ephemeralReply(
    ja
      ? `<@${memberId}> はまだStripeの決済に進んでいないため、読み直すものはありません。`
      : `<@${memberId}> never reached Stripe Checkout, so there is nothing to re-read.`,
    locale,
  );
}

/** The follow-up to `resync`. */
export function resyncReply(result: ResyncResult, locale: Locale): EphemeralReply {
  const ja = locale === "ja";
  const who = `<@${result.memberId}>`;
  switch (result.kind) {
    case "stripe_unavailable":
      return ephemeralReply(
        ja
          ? `Stripeから応答がなかったため（${result.detail}）、${who} の記録は何も変更していません。数分後にもう一度 \`/rolepass resync\` を実行してください。`
          : `Stripe did not answer (${result.detail}), so nothing of ${who} was changed. Run \`/rolepass resync\` again in a few minutes.`,
        locale,
      );
    case "stripe_not_configured":
      return ephemeralReply(
        ja
          ? "role-syncにSTRIPE_SECRET_KEYがないため、Stripeを読み直せません。何も変更していません。"
          : "role-sync has no STRIPE_SECRET_KEY, so it cannot re-read Stripe. Nothing was changed.",
        locale,
      );
    case "no_subscription":
      return ephemeralReply(
        ja
          ? `Stripeには ${who} のこのサーバーのプランのサブスクリプションがありません。何も変更していません。`
          : `Stripe has no subscription of ${who} to a plan of this server. Nothing was changed.`,
        locale,
      );
    case "synced": {
      const lines = [
        ja ? `${who} をStripeから読み直しました。` : `Re-read ${who} from Stripe.`,
      ];
      if (result.changes.length === 0) {
        lines.push(
          ja
            ? `変更はありません（状態：${status(result.status, locale)}、ロール：${
              role(result.roleId, locale)
            }）。`
            : `Nothing changed (status ${status(result.status, locale)}, role ${
              role(result.roleId, locale)
            }).`,
        );
      }
      for (const change of result.changes) {
        lines.push(
          change.field === "status"
            ? (ja
              ? `• 状態：${status(change.from, locale)} → ${status(change.to, locale)}`
              : `• Status: ${status(change.from, locale)} → ${status(change.to, locale)}`)
            : (ja
              ? `• ロール：${role(change.from, locale)} → ${
                role(change.to, locale)
              }（まもなく反映されます）`
              : `• Role: ${role(change.from, locale)} → ${
                role(change.to, locale)
              } (applied in a moment)`),
        );
      }
      if (result.repairedRoleIds.length) {
        const roles = result.repairedRoleIds.map((id) => role(id, locale));
        lines.push(
          ja
            ? `${who} は${roles.join("、")}を持っていなかったため、付け直します。`
            : `${who} lacked ${roles.join(" and ")} in Discord: ${
              roles.length === 1 ? "it is" : "they are"
            } being given back.`,
        );
      }
      return ephemeralReply(lines.join("\n"), locale);
    }
  }
}

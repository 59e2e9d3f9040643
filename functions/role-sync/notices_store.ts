/**
 * The notices outbox in Postgres, as role-sync sees it: claim with a lease, check and record a
 * channel message's nonce window, take or give back the one try of a follow-up, finish or put
 * back. Every write names the claim. Beside it, each member's DM channel, kept once opened.
 */
import { z } from "zod";
import { oneRow, type Sql } from "../_shared/db.ts";

const claimedNoticeSchema = z.object({
  id: z.coerce.number().int(),
  guild_id: z.string(),
  audience: z.enum(["member", "operator"]),
  discord_user_id: z.string().nullable(),
  kind: z.string(),
  locale: z.string(),
  payload: z.unknown(),
  attempts: z.number().int(),
  claim_id: z.string(),
  nonce: z.string(),
  followup_tried: z.boolean(),
  log_channel_id: z.string().nullable(),
  interaction_token: z.string().nullable(),
  interaction_application_id: z.string().nullable(),
});

/** A notice this worker holds the lease of. */
export type ClaimedNotice = z.infer<typeof claimedNoticeSchema>;

/** Final states of a notice. */
export type NoticeEnd = "sent" | "dms_closed" | "not_sent" | "failed";

const dmChannelRowSchema = z.object({ channel_id: z.string() });

/** The outbox operations role-sync needs. */
export interface NoticeStore {
  claim(maxNotices: number, leaseSeconds: number): Promise<ClaimedNotice[]>;
  /**
   * False once `windowSeconds` have passed since a post whose outcome is unknown, or the claim is
   * lost.
   */
  beginPost(notice: ClaimedNotice, windowSeconds: number): Promise<boolean>;
  /** A post's answer was lost: the nonce's window starts now, unless an earlier one started it. */
  recordPostUnknown(notice: ClaimedNotice): Promise<boolean>;
  beginFollowup(notice: ClaimedNotice): Promise<boolean>;
  /** Gives the follow-up's try back: Discord certainly did not post it. */
  releaseFollowup(notice: ClaimedNotice): Promise<boolean>;
  finish(notice: ClaimedNotice, status: NoticeEnd, error?: string): Promise<boolean>;
  retry(
    notice: ClaimedNotice,
    delayMs: number,
    error: string,
    countsAsAttempt: boolean,
  ): Promise<boolean>;
  /** The member's DM channel as Discord last opened it, or null. */
  dmChannelOf(memberId: string): Promise<string | null>;
  /** Keeps the DM channel Discord opened for the member, for their next notices. */
  rememberDmChannel(memberId: string, channelId: string): Promise<void>;
  /** Drops a DM channel Discord no longer knows, unless another one was kept since. */
  forgetDmChannel(memberId: string, channelId: string): Promise<void>;
}

/** The store over a postgres.js client. */
export function createNoticeStore(sql: Sql): NoticeStore {
  return {
    async claim(maxNotices, leaseSeconds) {
      const rows = await sql`select * from rolepass.claim_notices(${maxNotices}, ${leaseSeconds})`;
      return rows.map((row) => claimedNoticeSchema.parse(row));
    },
    async beginPost(notice, windowSeconds) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.begin_notice_post(${notice.id}, ${notice.claim_id},
          ${Math.floor(windowSeconds)}) as ok`,
        "begin_notice_post's result",
      );
      return row.ok;
    },
    async recordPostUnknown(notice) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.record_notice_post_unknown(${notice.id}, ${notice.claim_id}) as ok`,
        "record_notice_post_unknown's result",
      );
      return row.ok;
    },
    async releaseFollowup(notice) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.release_notice_followup(${notice.id}, ${notice.claim_id}) as ok`,
        "release_notice_followup's result",
      );
      return row.ok;
    },
    async beginFollowup(notice) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.begin_notice_followup(${notice.id}, ${notice.claim_id}) as ok`,
        "begin_notice_followup's result",
      );
      return row.ok;
    },
    async finish(notice, status, error) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.finish_notice(${notice.id}, ${notice.claim_id}, ${status},
          ${error ?? null}) as ok`,
        "finish_notice's result",
      );
      return row.ok;
    },
    async retry(notice, delayMs, error, countsAsAttempt) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.retry_notice(${notice.id}, ${notice.claim_id}, ${Math.round(delayMs)},
          ${error}, ${countsAsAttempt}) as ok`,
        "retry_notice's result",
      );
      return row.ok;
    },
    async dmChannelOf(memberId) {
      const [row] = await sql`
        select channel_id from rolepass.member_dm_channels where discord_user_id = ${memberId}`;
      return row ? dmChannelRowSchema.parse(row).channel_id : null;
    },
    async rememberDmChannel(memberId, channelId) {
      await sql`
        insert into rolepass.member_dm_channels (discord_user_id, channel_id)
        values (${memberId}, ${channelId})
        on conflict (discord_user_id) do update
          set channel_id = excluded.channel_id, created_at = now()`;
    },
    async forgetDmChannel(memberId, channelId) {
      await sql`
        delete from rolepass.member_dm_channels
        where discord_user_id = ${memberId} and channel_id = ${channelId}`;
    },
  };
}

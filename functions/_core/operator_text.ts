/**
 * The operator's own words shown to members: plan names and descriptions, and the seller notice
 * Japanese law requires on a page that sells (特定商取引法に基づく表記). Stored as JSON in
 * `guilds.seller_notice` and `plans.display`, validated with these schemas wherever they are read
 * or written.
 */
import { z } from "zod";
import type { Locale } from "./locale.ts";

/** A text in both languages. English is required; Japanese falls back to it. */
export const localizedTextSchema = z.object({
  en: z.string().trim().min(1).max(2000),
  ja: z.string().trim().min(1).max(2000).optional(),
});
/** A text in both languages. */
export type LocalizedText = z.infer<typeof localizedTextSchema>;

/** Picks the text for `locale`, falling back to English. */
export function pickText(text: LocalizedText, locale: Locale): string {
  return (locale === "ja" ? text.ja : undefined) ?? text.en;
}

const roleNameSchema = z.string().trim().min(1).max(100);

/**
 * One language of `plans.display`. `role_name` is the Discord role as members know it ("Supporter");
 * it is optional because rows written before it existed lack it, and the plan page then speaks of
 * "this plan's role" instead. `trial_role_name` names a trial's own role the same way ("Trial").
 */
export const planTextSchema = z.object({
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(1000).default(""),
  role_name: roleNameSchema.optional(),
  trial_role_name: roleNameSchema.optional(),
});
/** One language of `plans.display`. */
export type PlanText = z.infer<typeof planTextSchema>;

/** `plans.display`: what the plan page and Discord messages call the plan. */
export const planDisplaySchema = z.object({
  en: planTextSchema,
  ja: planTextSchema.optional(),
});
/** `plans.display`. */
export type PlanDisplay = z.infer<typeof planDisplaySchema>;

/** `guilds.seller_notice`: the 特定商取引法に基づく表記 items, each in both languages. */
export const sellerNoticeSchema = z.object({
  /** 販売事業者 */
  seller: localizedTextSchema,
  /** 運営統括責任者 */
  representative: localizedTextSchema,
  /** 所在地 */
  address: localizedTextSchema,
  /** 電話番号 (may be "disclosed on request without delay", as the law allows) */
  phone: localizedTextSchema,
  /** メールアドレス / 問い合わせ先 */
  email: z.string().email(),
  /** 商品代金以外の必要料金 */
  additionalFees: localizedTextSchema,
  /** 支払方法 */
  paymentMethods: localizedTextSchema,
  /** 支払時期 */
  paymentTiming: localizedTextSchema,
  /** 役務の提供時期 */
  deliveryTiming: localizedTextSchema,
  /** 返品・キャンセル (解約) */
  cancellationPolicy: localizedTextSchema,
});
/** `guilds.seller_notice`. */
export type SellerNotice = z.infer<typeof sellerNoticeSchema>;

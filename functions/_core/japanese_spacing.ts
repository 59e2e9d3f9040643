/**
 * Japanese typography for text built from parts: no ASCII space touches full-width punctuation.
 * Templates put a space between a name and the Japanese around it ("Lounge のプラン"), which reads
 * right for Latin names but not after a full-width bracket ("サポーター（月額） を申し込む").
 * Discord's emphasis markers (`**`, `__`, `~~`, `*`, `_`) between the two count as touching, since
 * Discord hides them.
 */

// 、。〃 〈〉《》「」『』【】 〔〕〖〗〘〙〚〛〜〝〞〟 ・ ！＂＃＄％＆＇（）＊＋，－．／ ：；＜＝＞？ ［＼］ ｛｜｝～｟｠｡｢｣､･
const FULL_WIDTH_PUNCTUATION = "\u3001-\u3003\u3008-\u3011\u3014-\u301f\u30fb" +
  "\uff01-\uff0f\uff1a-\uff1f\uff3b-\uff3d\uff5b-\uff65";
const MARKERS = "(?:\\*\\*|__|~~|\\*|_)*";
const SPACE_AFTER = new RegExp(`([${FULL_WIDTH_PUNCTUATION}]${MARKERS}) +`, "gu");
const SPACE_BEFORE = new RegExp(` +(${MARKERS}[${FULL_WIDTH_PUNCTUATION}])`, "gu");

/** Removes the ASCII spaces before and after full-width punctuation in Japanese `text`. */
export function tidyJapaneseSpacing(text: string): string {
  return text.replace(SPACE_AFTER, "$1").replace(SPACE_BEFORE, "$1");
}

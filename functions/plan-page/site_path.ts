/**
 * Paths for links the plan page builds from the request it answers (the language switch): they
 * must lead to this site, whatever the request's path was.
 */

/** Characters a path may hold as they are (RFC 3986 `pchar` and `/`), all harmless in an href. */
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/;
const HEX = /^[0-9A-Fa-f]$/;

/**
 * `path` as a link that stays on this site: one leading `/`, then only characters that browsers
 * read as path. A browser reads `//host/x` and `/\host/x` as another host, and drops tabs and
 * newlines from an href before it parses it (`/\t/host` is `//host`), so leading slashes collapse
 * into one and every other character is percent-encoded, backslash and control characters first.
 * Existing percent escapes are kept, so an ordinary path comes back unchanged.
 */
export function onSitePath(path: string): string {
  const bytes = new TextEncoder().encode(path);
  let encoded = "";
  for (const [i, byte] of bytes.entries()) {
    const char = String.fromCharCode(byte);
    const isEscape = char === "%" && HEX.test(String.fromCharCode(bytes[i + 1] ?? 0)) &&
      HEX.test(String.fromCharCode(bytes[i + 2] ?? 0));
    encoded += PLAIN.test(char) || isEscape
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `/${encoded.replace(/^\/+/, "")}`;
}

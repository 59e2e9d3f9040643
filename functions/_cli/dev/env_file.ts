/**
 * Reads a `.env` file: `NAME=value` lines, `#` comments, optional `export `, and single or double
 * quotes. A line that is none of these stops start-up with its line number, rather than being
 * skipped and leaving a variable silently unset.
 */

/** Thrown for a line that is not `NAME=value`. */
export class EnvFileError extends Error {
  constructor(path: string, line: number, reason: string) {
    super(`Cannot read ${path}: line ${line} ${reason}`);
    this.name = "EnvFileError";
  }
}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;

/** Parses the text of a `.env` file; `path` is only used in error messages. */
export function parseEnvFile(text: string, path = ".env"): Record<string, string> {
  const values: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [, name, rest] = line.match(ASSIGNMENT) ?? [];
    if (name === undefined || rest === undefined) {
      throw new EnvFileError(path, index + 1, "is not NAME=value");
    }
    values[name] = unquote(rest, () => new EnvFileError(path, index + 1, `has an unclosed quote`));
  });
  return values;
}

function unquote(rest: string, unclosed: () => Error): string {
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const end = rest.indexOf(quote, 1);
    if (end === -1) throw unclosed();
    const inner = rest.slice(1, end);
    return quote === '"' ? inner.replaceAll("\\n", "\n") : inner;
  }
  const comment = rest.search(/\s#/);
  return (comment === -1 ? rest : rest.slice(0, comment)).trim();
}

/** Reads and parses `path`; a missing file gives `null` (the sandbox starts without one). */
export async function readEnvFile(path: string): Promise<Record<string, string> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return parseEnvFile(text, path);
}

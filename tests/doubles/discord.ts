/**
 * The Discord double as the tests use it: every request is checked against Discord's own OpenAPI
 * description (`tests/fixtures/discord-openapi.json`, or the copy `DISCORD_OPENAPI_SPEC` names),
 * so a request Discord would refuse fails the test. The double itself lives in
 * `functions/_doubles/discord/` and reads nothing from `tests/`.
 *
 * @module
 */
import {
  type DiscordDouble,
  type DiscordDoubleOptions,
  OpenApiSpec,
  type SchemaValidatorOptions,
  startDiscordDouble as startUncheckedDiscordDouble,
} from "../../functions/_doubles/discord/index.ts";

export * from "../../functions/_doubles/discord/index.ts";

/** The repository's copy of Discord's OpenAPI description. */
export const DISCORD_OPENAPI_SPEC_URL = new URL(
  "../fixtures/discord-openapi.json",
  import.meta.url,
);

/** The document is 1.2 MB, so it is read and compiled once per process and per option set. */
const compiledSpecs = new Map<string, OpenApiSpec>();

/**
 * Loads and compiles Discord's OpenAPI description, once per process.
 *
 * @param location file path or URL; defaults to `DISCORD_OPENAPI_SPEC`, else
 *   {@linkcode DISCORD_OPENAPI_SPEC_URL}.
 * @param options schema validation options (part of the cache key).
 */
export async function loadDiscordOpenApiSpec(
  location?: string | URL,
  options: SchemaValidatorOptions = {},
): Promise<OpenApiSpec> {
  const where = location ?? Deno.env.get("DISCORD_OPENAPI_SPEC") ?? DISCORD_OPENAPI_SPEC_URL;
  const key = `${where}|${options.strictUnknownFields ?? true}`;
  const cached = compiledSpecs.get(key);
  if (cached) return cached;
  let text: string;
  try {
    text = await Deno.readTextFile(where);
  } catch (error) {
    throw new Error(
      `Cannot load Discord's OpenAPI description from ${where}: ${error}. ` +
        "Set DISCORD_OPENAPI_SPEC, or pass requestValidator to the double.",
    );
  }
  const spec = new OpenApiSpec(JSON.parse(text), options);
  compiledSpecs.set(key, spec);
  return spec;
}

/**
 * Starts the Discord double checking requests against Discord's OpenAPI description, unless
 * `options.requestValidator` names another validator.
 */
export async function startDiscordDouble(
  options: DiscordDoubleOptions = {},
): Promise<DiscordDouble> {
  return startUncheckedDiscordDouble({
    ...options,
    requestValidator: options.requestValidator ?? await loadDiscordOpenApiSpec(),
  });
}

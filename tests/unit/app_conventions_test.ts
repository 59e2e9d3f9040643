/**
 * Every function (and the plan page) is built the same way: `index.ts` serves `createApp(deps)`
 * from `app.ts(x)`, which starts with the shared request context and answers errors through the
 * shared error handler, so no app reads the request id or writes an error answer its own way.
 * Read from the source, like the interactions module-graph test.
 */
import { assert, assertEquals } from "../harness/assert.ts";

const FUNCTIONS_DIR = new URL("../../functions/", import.meta.url);

/** The app folders: every folder of `functions/` not starting with `_` (shared code, CLI). */
function appFolders(): string[] {
  return [...Deno.readDirSync(FUNCTIONS_DIR)]
    .filter((entry) => entry.isDirectory && !entry.name.startsWith("_"))
    .map((entry) => entry.name)
    .sort();
}

function readIfExists(url: URL): string | null {
  try {
    return Deno.readTextFileSync(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function appSource(folder: string): string {
  const source = readIfExists(new URL(`${folder}/app.ts`, FUNCTIONS_DIR)) ??
    readIfExists(new URL(`${folder}/app.tsx`, FUNCTIONS_DIR));
  assert(source !== null, `functions/${folder} has no app.ts or app.tsx`);
  return source;
}

function count(source: string, pattern: RegExp): number {
  return source.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

Deno.test("the five apps are the folders of functions/ that do not start with _", () => {
  assertEquals(appFolders(), [
    "checkout",
    "discord-interactions",
    "plan-page",
    "role-sync",
    "stripe-webhook",
  ]);
});

Deno.test("every app's entrypoint is index.ts, serving createApp built from loadConfig(env)", () => {
  for (const folder of appFolders()) {
    const entry = readIfExists(new URL(`${folder}/index.ts`, FUNCTIONS_DIR));
    assert(entry !== null, `functions/${folder}/index.ts is missing`);
    assert(/import \{ createApp \} from "\.\/app\.tsx?";/.test(entry), `${folder}/index.ts`);
    assert(/depsFromConfig\(/.test(entry), `${folder}/index.ts builds deps with depsFromConfig`);
    assert(
      /loadConfig\(Deno\.env\.toObject\(\)\)/.test(entry),
      `${folder}/index.ts passes the environment to loadConfig`,
    );
    assert(/Deno\.serve\(/.test(entry), `${folder}/index.ts serves the app`);
    assert(
      readIfExists(new URL(`${folder}/main.ts`, FUNCTIONS_DIR)) === null,
      `${folder} has a main.ts`,
    );
  }
});

Deno.test("every app exports createApp and uses the shared request context and error handler once", () => {
  for (const folder of appFolders()) {
    const source = appSource(folder);
    assert(/export function createApp\(/.test(source), `${folder} exports createApp`);
    assert(
      source.includes(`from "../_shared/http/request_context.ts"`) &&
        source.includes(`from "../_shared/http/error_handler.ts"`),
      `${folder} imports the shared middleware`,
    );
    assertEquals(count(source, /app\.use\(requestContext\(/), 1, `${folder}: requestContext`);
    assertEquals(count(source, /\.onError\(/), 1, `${folder}: one onError`);
    assertEquals(count(source, /app\.onError\(errorHandler\(/), 1, `${folder}: errorHandler`);
  }
});

Deno.test("no app reads a request-id header or mints a request id itself", () => {
  for (const folder of appFolders()) {
    const source = appSource(folder);
    assert(!/request-id/i.test(source), `${folder} names a request-id header`);
    assert(!/randomUUID/.test(source), `${folder} mints an id`);
  }
});

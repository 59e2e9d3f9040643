/**
 * Architecture rules about paths, checked over the source text of `functions/` and `tests/`:
 * the repository runs on its own (no file refers to anything above its root, such as the
 * workspace's shared folder beside a checkout), and product code never imports tests.
 */
import { assertEquals } from "../harness/assert.ts";

const ROOT = new URL("../../", import.meta.url);
const SOURCE_EXTENSIONS = [".ts", ".tsx", ".js", ".mjs", ".sql"];
/** Generated or copied data, not source: never refers to anything. */
const SKIPPED_FOLDERS = ["tests/artifacts/", "tests/fixtures/"];
/**
 * The workspace folder the fixtures were copied from, also caught when a path is built from
 * pieces. Spelled in two parts so that this file does not match itself.
 */
const SHARED_FOLDER = ["..", "shared"].join("/");

interface SourceFile {
  /** Path relative to the repository root, e.g. `functions/checkout/app.ts`. */
  path: string;
  url: URL;
  text: string;
}

async function sourceFiles(folder: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const pending = [folder];
  while (pending.length) {
    const dir = pending.pop() as string;
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) {
        if (!SKIPPED_FOLDERS.includes(`${path}/`)) pending.push(`${path}/`);
      } else if (SOURCE_EXTENSIONS.some((extension) => entry.name.endsWith(extension))) {
        const url = new URL(path, ROOT);
        files.push({ path, url, text: await Deno.readTextFile(url) });
      }
    }
  }
  return files.sort((a, b) => a.path < b.path ? -1 : 1);
}

/** Every quoted relative path in the text (imports, `new URL(..., import.meta.url)`, file reads). */
function relativePaths(text: string): string[] {
  return [...text.matchAll(/["'`](\.\.?\/[^"'`\s]*)["'`]/g)].map((match) => match[1] as string);
}

/** Where a relative path in `file` points, relative to the root; `undefined` above the root. */
function resolveInRepository(file: SourceFile, relative: string): string | undefined {
  const target = new URL(relative, file.url).href;
  return target.startsWith(ROOT.href) ? target.slice(ROOT.href.length) : undefined;
}

const allSources = [...await sourceFiles("functions/"), ...await sourceFiles("tests/")];

Deno.test("no source file refers to a path outside the repository", () => {
  const outside = allSources.flatMap((file) => [
    ...(file.text.includes(SHARED_FOLDER) ? [`${file.path}: ${SHARED_FOLDER}`] : []),
    ...relativePaths(file.text)
      .filter((relative) => resolveInRepository(file, relative) === undefined)
      .map((relative) => `${file.path}: ${relative}`),
  ]);
  assertEquals(outside, []);
});

Deno.test("nothing under functions/ imports from or reads tests/", () => {
  const importers = allSources
    .filter((file) => file.path.startsWith("functions/"))
    .filter((file) =>
      relativePaths(file.text).some((relative) =>
        resolveInRepository(file, relative)?.startsWith("tests/")
      )
    )
    .map((file) => file.path);
  assertEquals(importers, []);
});

/** The first column of the README's Layout table: the paths it describes, with their cells. */
async function layoutRows(): Promise<{ path: string; holds: string }[]> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.split("\n## Layout\n")[1]?.split("\n## ")[0] ?? "";
  return [...section.matchAll(/^\| `([^`]+)`\s*\|(.*)\|$/gm)].map((row) => ({
    path: row[1] as string,
    holds: row[2] as string,
  }));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(new URL(path, ROOT)).then(() => true, () => false);
}

async function folders(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(new URL(path, ROOT))) {
    if (entry.isDirectory) names.push(`${path}${entry.name}/`);
  }
  return names.sort();
}

/** The backquoted names in a cell, such as `checkout` or `harness/`. */
function namesIn(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}

Deno.test("the README's layout table names paths that exist and every folder of the tree", async () => {
  const rows = await layoutRows();
  const named = new Set<string>();
  for (const { path, holds } of rows) {
    if (path === "functions/<name>/") {
      // One Edge Function per name the cell lists.
      for (const name of namesIn(holds).filter((name) => /^[a-z-]+$/.test(name))) {
        named.add(`functions/${name}/`);
      }
    } else if (path === "tests/") {
      // The cell lists tests/'s folders.
      named.add(path);
      for (const name of namesIn(holds)) named.add(`tests/${name}`);
    } else {
      named.add(path);
    }
  }
  const missing = [];
  for (const path of named) if (!(await exists(path))) missing.push(path);
  assertEquals(missing, [], "rows for paths that do not exist");

  // Generated output (git-ignored) needs no row.
  const generated = ["tests/artifacts/"];
  const tree = [
    ...["functions/", "sql/", "supabase/", "tests/"],
    ...await folders("functions/"),
    ...(await folders("supabase/")).filter((path) => !path.startsWith("supabase/.")),
    ...await folders("tests/"),
  ].filter((path) => !generated.includes(path));
  const unnamed = tree.filter((path) =>
    ![...named].some((name) => name === path || name.startsWith(path) && path !== "tests/")
  );
  assertEquals(unnamed, [], "folders the layout table does not name");
});

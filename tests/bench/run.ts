/**
 * `deno task bench`: the benchmarks, against a throwaway migrated durable PostgreSQL (or
 * DATABASE_URL).
 * Runs `deno bench` over tests/bench/ (files named *_bench.ts), then every load script named
 * *_load.ts. Each prints its own figures, as ratios to a floor measured in the same run.
 */
import { projectRoot } from "../../functions/_cli/supabase_cli.ts";
import { prepareTemplateDatabase } from "../harness/template_database.ts";

const only = Deno.args[0];
// Durable, as a hosted database is: without fsync every commit would skip its WAL flush.
const template = await prepareTemplateDatabase({ durable: true });
let failed = false;
try {
  const env = { DATABASE_URL: template.url };
  const benchFiles: string[] = [];
  const loadScripts: string[] = [];
  for await (const entry of Deno.readDir(`${projectRoot}tests/bench`)) {
    if (only && !entry.name.includes(only)) continue;
    if (entry.name.endsWith("_bench.ts")) benchFiles.push(`tests/bench/${entry.name}`);
    if (entry.name.endsWith("_load.ts")) loadScripts.push(`tests/bench/${entry.name}`);
  }
  const runs = [
    ...benchFiles.sort().map((file) => ["bench", "-A", "--no-check", file]),
    ...loadScripts.sort().map((script) => ["run", "-A", "--no-check", script]),
  ];
  for (const args of runs) {
    console.log(`\n== deno ${args[0]} ${args.at(-1)}`);
    const { success } = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: projectRoot,
      env,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    failed ||= !success;
  }
} finally {
  await template.release();
}
Deno.exit(failed ? 1 : 0);

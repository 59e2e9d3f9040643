/**
 * What a test's own database costs the test cluster: creating it from the migrated template,
 * the test's first connection and query, and dropping it, as the harness does
 * (tests/harness/database.ts: `strategy file_copy`, one connection creating and dropping), beside
 * the copy through the WAL (PostgreSQL 15's default) on connections of their own, as it was before.
 * Reported per cycle as the server's CPU (the postmaster and its processes, from /proc) and the
 * wall time, each as a ratio to a floor measured in the same run: a new connection that runs
 * `select 1`. Every connection is a server process of its own, which is why the floor is one.
 *
 * `deno run -A tests/bench/test_database_cost.ts [--cycles N]` (a throwaway cluster like the
 * tests'; Linux only, for /proc).
 */
import postgres from "postgres";
import { prepareTemplateDatabase } from "../harness/template_database.ts";
import { cpuMsOf } from "./process_memory.ts";

const at = Deno.args.indexOf("--cycles");
const CYCLES = at === -1 ? 30 : Number(Deno.args[at + 1]);

/** The postmaster listening on `port`: the process whose command line names it. */
function postmasterOf(port: string): number {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (args[0]?.endsWith("postgres") && ` ${args.join(" ")} `.includes(` -p ${port} `)) {
        return Number(entry.name);
      }
    } catch {
      // gone
    }
  }
  throw new Error(`no postmaster on port ${port}`);
}

const template = await prepareTemplateDatabase();
try {
  const templateUrl = new URL(template.url);
  const templateName = templateUrl.pathname.slice(1);
  const admin = new URL(templateUrl);
  admin.pathname = "/postgres";
  const postmaster = postmasterOf(templateUrl.port);
  const databaseUrl = (name: string) => {
    const url = new URL(templateUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const connect = (url: string) => postgres(url, { max: 1, onnotice: () => {} });

  let serial = 0;
  const cases: Record<string, () => Promise<void>> = {
    "new connection, select 1 (floor)": async () => {
      const sql = connect(admin.toString());
      await sql`select 1`;
      await sql.end();
    },
    "file_copy, one admin connection (now)": async () => {
      const name = `bench_db_${serial++}`;
      const adminSql = connect(admin.toString());
      await adminSql.unsafe(
        `create database ${name} template "${templateName}" strategy file_copy`,
      );
      const sql = connect(databaseUrl(name));
      await sql`select count(*) from rolepass.memberships`;
      await sql.end();
      await adminSql.unsafe(`drop database ${name} with (force)`);
      await adminSql.end();
    },
    "wal_log, a connection each (before)": async () => {
      const name = `bench_db_${serial++}`;
      const creator = connect(admin.toString());
      await creator.unsafe(`create database ${name} template "${templateName}"`);
      await creator.end();
      const sql = connect(databaseUrl(name));
      await sql`select count(*) from rolepass.memberships`;
      await sql.end();
      const dropper = connect(admin.toString());
      await dropper.unsafe(`drop database ${name} with (force)`);
      await dropper.end();
    },
  };

  const results = new Map<string, { cpuMs: number[]; wallMs: number[] }>();
  // Alternating rounds, so that a burst of load on a shared machine falls on every case.
  for (let round = 0; round < 3; round++) {
    for (const [label, cycle] of Object.entries(cases)) {
      const cpuBefore = await cpuMsOf(postmaster, { children: true });
      const started = performance.now();
      for (let i = 0; i < CYCLES; i++) await cycle();
      const wallMs = (performance.now() - started) / CYCLES;
      // Let the last processes exit so that their time is counted.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const cpuMs = (await cpuMsOf(postmaster, { children: true }) - cpuBefore) / CYCLES;
      const result = results.get(label) ?? { cpuMs: [], wallMs: [] };
      result.cpuMs.push(cpuMs);
      result.wallMs.push(wallMs);
      results.set(label, result);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
  const floor = results.get("new connection, select 1 (floor)");
  if (!floor) throw new Error("the floor was not measured");
  const floorCpu = median(floor.cpuMs);
  const floorWall = median(floor.wallMs);
  console.log(`${CYCLES} cycles a round, 3 rounds, medians; ratios to the floor`);
  for (const [label, { cpuMs, wallMs }] of results) {
    const cpu = median(cpuMs);
    const wall = median(wallMs);
    console.log(
      `${label.padEnd(40)} server CPU ${cpu.toFixed(0).padStart(4)} ms (${
        (cpu / floorCpu).toFixed(1)
      }x)  wall ${wall.toFixed(0).padStart(4)} ms (${(wall / floorWall).toFixed(1)}x)`,
    );
  }
} finally {
  await template.release();
}

/**
 * A throwaway PostgreSQL cluster: initdb in a temp dir, a free port on 127.0.0.1, removed on stop.
 * When Debian's postgresql-15-cron is installed, the cluster preloads the real pg_cron, as Supabase
 * does, with its scheduler in the `postgres` database. The test harness starts one per test run.
 */

/**
 * The database pg_cron's scheduler runs jobs in (`cron.database_name`; pg_cron's default and
 * Supabase's). pg_cron can be created only there, and its worker stays connected to it, so it can
 * never be the template that tests clone.
 */
export const PG_CRON_DATABASE = "postgres";

/** A running throwaway cluster. */
export interface PgCluster {
  /** Connection string to the `postgres` database as the superuser `postgres`. */
  url: string;
  port: number;
  /** The directory of the PostgreSQL programs (`psql`, `pg_ctl`, ...). */
  bin: string;
  /** Whether the real pg_cron is loaded, with its scheduler in {@linkcode PG_CRON_DATABASE}. */
  pgCron: boolean;
  stop(): Promise<void>;
}

/** The directory of the PostgreSQL programs: `PG_BIN`, else Debian's for PostgreSQL 15 to 17. */
export async function findPgBin(): Promise<string> {
  const fromEnv = Deno.env.get("PG_BIN");
  const candidates = [
    fromEnv,
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
  ].filter((dir): dir is string => Boolean(dir));
  for (const dir of candidates) {
    try {
      await Deno.stat(`${dir}/initdb`);
      return dir;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    "Cannot start PostgreSQL: initdb not found. Install it (apt-get install postgresql-15) " +
      "or set DATABASE_URL to an existing database.",
  );
}

/** Whether pg_cron's library is installed for the PostgreSQL whose programs are in `bin`. */
async function hasPgCron(bin: string): Promise<boolean> {
  const { success, stdout } = await new Deno.Command(`${bin}/pg_config`, {
    args: ["--pkglibdir"],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => ({ success: false, stdout: new Uint8Array() }));
  if (!success) return false;
  const libDir = new TextDecoder().decode(stdout).trim();
  return await Deno.stat(`${libDir}/pg_cron.so`).then(() => true, () => false);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function run(cmd: string, args: string[], user?: string): Promise<void> {
  const full = user ? ["runuser", ["-u", user, "--", cmd, ...args]] as const : [cmd, args] as const;
  const { success, stderr, stdout } = await new Deno.Command(full[0], {
    args: [...full[1]],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    const decoder = new TextDecoder();
    throw new Error(`${cmd} failed: ${decoder.decode(stderr)}${decoder.decode(stdout)}`);
  }
}

/** How a cluster is started. */
export interface PgClusterOptions {
  /**
   * Keep PostgreSQL's durability (fsync, synchronous commit, full-page writes), as a hosted
   * database does. Off by default: tests throw their clusters away and run faster without it;
   * benchmarks need it, or each commit's WAL flush, the cost a real database pays, is missing.
   */
  durable?: boolean;
}

/** Starts a new cluster. PostgreSQL refuses to run as root, so as root it runs as `postgres`. */
export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = await findPgBin();
  const isRoot = Deno.uid() === 0;
  const user = isRoot ? "postgres" : undefined;
  const dir = await Deno.makeTempDir({ prefix: "rolepass-pg-" });
  if (isRoot) await run("chown", ["-R", "postgres:postgres", dir]);
  const dataDir = `${dir}/data`;
  await run(`${bin}/initdb`, [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
  ], user);
  const port = freePort();
  const pgCron = await hasPgCron(bin);
  // Jobs run through libpq on the cluster's own socket (trust), as the job's user.
  const pgCronOptions = pgCron
    ? [`-c cron.database_name=${PG_CRON_DATABASE}`, `-c cron.host=${dir}`]
    : [];
  // A benchmark's cluster also counts every statement (nested ones too), for its profiles.
  const libraries = [
    ...(pgCron ? ["pg_cron"] : []),
    ...(options.durable ? ["pg_stat_statements"] : []),
  ];
  const libraryOptions = libraries.length
    ? [`-c shared_preload_libraries=${libraries.join(",")}`]
    : [];
  const statementStats = options.durable ? ["-c pg_stat_statements.track=all"] : [];
  const durability = options.durable
    ? []
    : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"];
  const settings = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    ...durability,
    "-c max_connections=300",
    "-c shared_buffers=256MB",
    ...libraryOptions,
    ...pgCronOptions,
    ...statementStats,
  ].join(" ");
  await run(
    `${bin}/pg_ctl`,
    ["-D", dataDir, "-o", settings, "-l", `${dir}/log`, "-w", "start"],
    user,
  );
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    port,
    bin,
    pgCron,
    async stop() {
      await run(`${bin}/pg_ctl`, ["-D", dataDir, "-m", "immediate", "-w", "stop"], user).catch(
        () => {},
      );
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The dev runner's embedded PostgreSQL: PGlite (Postgres compiled to WebAssembly) persisted in a
 * data folder, served over the PostgreSQL wire protocol on a loopback port so that postgres.js and
 * the Supabase CLI reach it exactly as they reach a real server.
 *
 * PGlite is a single session. pglite-socket multiplexes client connections onto it at the query
 * level and keeps a transaction's queries together, so several postgres.js pools can share it;
 * what they cannot have is true concurrency or per-connection session state (advisory session
 * locks, LISTEN, SET are shared by every client).
 */
import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A running embedded database. */
export interface EmbeddedDatabase {
  /** postgres:// URL of the loopback wire-protocol server. */
  url: string;
  /** Where the data lives, or "memory://" for a throwaway database. */
  dataDir: string;
  stop(): Promise<void>;
}

/** Options for {@link startEmbeddedDatabase}. */
export interface EmbeddedDatabaseOptions {
  /** A folder to persist into (created when missing), or "memory://". */
  dataDir: string;
  /** Loopback port for the wire protocol; 0 lets the system choose. */
  port?: number;
  /** How many client connections may be open at once (queries still run one at a time). */
  maxConnections?: number;
}

/** Opens (or creates) the PGlite database and starts its wire-protocol server on 127.0.0.1. */
export async function startEmbeddedDatabase(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  if (options.dataDir !== "memory://") await Deno.mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create({
    dataDir: options.dataDir,
    extensions: { pgcrypto },
  });
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 64,
  });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgresql://postgres:postgres@${address}/postgres?sslmode=disable`,
    dataDir: options.dataDir,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

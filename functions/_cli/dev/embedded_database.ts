/**
 * The dev runner's embedded PostgreSQL: PGlite (Postgres compiled to WebAssembly) persisted in a
 * data folder, served over the PostgreSQL wire protocol on a loopback port so that postgres.js and
 * the Supabase CLI reach it exactly as they reach a real server.
 *
 * PGlite is a single session: every client connection shares it, one statement (and one open
 * transaction) at a time (see pglite_statement_queue.ts). What clients cannot have is true
 * concurrency or per-connection session state: advisory session locks, LISTEN and SET are shared.
 */
import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { PGLiteSocketHandler } from "@electric-sql/pglite-socket";
import { createServer, type Socket } from "node:net";
import { StatementQueue } from "./pglite_statement_queue.ts";

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
}

type HandlerQueue = ConstructorParameters<typeof PGLiteSocketHandler>[0]["queryQueue"];

/** Opens (or creates) the PGlite database and starts its wire-protocol server on 127.0.0.1. */
export async function startEmbeddedDatabase(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  if (options.dataDir !== "memory://") await Deno.mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { pgcrypto } });
  const queue = new StatementQueue(db) as unknown as HandlerQueue;
  const handlers = new Set<PGLiteSocketHandler>();
  const server = createServer((socket: Socket) => {
    const handler = new PGLiteSocketHandler({ queryQueue: queue, closeOnDetach: true });
    handlers.add(handler);
    handler.addEventListener("close", () => handlers.delete(handler));
    handler.addEventListener("error", () => handlers.delete(handler));
    handler.attach(socket).catch(() => {
      handlers.delete(handler);
      socket.destroy();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
  return {
    // PGlite speaks no TLS; the Supabase CLI (pgx) insists on asking unless told not to.
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    dataDir: options.dataDir,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const handler of handlers) void handler.detach(true);
      });
      await db.close();
    },
  };
}

/**
 * Runs the wire-protocol messages of several client connections on PGlite's single session
 * without letting them interleave inside one statement or one transaction.
 *
 * pglite-socket's own queue (0.2.17) switches clients between any two messages unless a
 * transaction is open, so two postgres.js connections sending Parse/Bind/Execute/Sync at once
 * clobber each other's unnamed portal ("portal "" does not exist"). This queue gives the session
 * to one client from its first message until its Sync (or simple Query) has run and no
 * transaction is open, which is what a real server's separate backends guarantee.
 */
import type { PGlite } from "@electric-sql/pglite";

interface QueuedMessage {
  clientId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
}

/** Message types that end a unit of work: Sync, simple Query, Terminate. */
const ENDS_UNIT = new Set(["S", "Q", "X"]);

function endsUnit(message: Uint8Array): boolean {
  // The startup message has no type byte; its first byte is the high byte of its length (0).
  const [first] = message;
  if (first === undefined) return false;
  if (first === 0) return true;
  return ENDS_UNIT.has(String.fromCharCode(first));
}

/** The queue a `PGLiteSocketHandler` is given (the same methods pglite-socket's queue has). */
export class StatementQueue {
  #queue: QueuedMessage[] = [];
  #running = false;
  /** The client that holds the session mid-statement or mid-transaction, if any. */
  #owner: number | null = null;

  constructor(private readonly db: PGlite) {}

  /** Queues one protocol message of `clientId`; resolves with the bytes PGlite answered. */
  enqueue(clientId: number, message: Uint8Array, onData: (data: Uint8Array) => void) {
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ clientId, message, onData, resolve, reject });
      void this.#drain();
    });
  }

  #next(): QueuedMessage | undefined {
    if (this.#owner === null) return this.#queue.shift();
    const index = this.#queue.findIndex((item) => item.clientId === this.#owner);
    return index === -1 ? undefined : this.#queue.splice(index, 1)[0];
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let item = this.#next(); item; item = this.#next()) {
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item!.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                item!.onData(data);
              },
            })
          );
        } catch (error) {
          this.#owner = this.db.isInTransaction() ? item.clientId : null;
          item.reject(error instanceof Error ? error : new Error(String(error)));
          continue;
        }
        this.#owner = endsUnit(item.message) && !this.db.isInTransaction() ? null : item.clientId;
        item.resolve(bytes);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Number of waiting messages. */
  getQueueLength(): number {
    return this.#queue.length;
  }

  /** Drops a disconnected client's waiting messages. */
  clearQueueForHandler(clientId: number): void {
    this.#queue = this.#queue.filter((item) => {
      if (item.clientId !== clientId) return true;
      item.reject(new Error("Client disconnected"));
      return false;
    });
  }

  /** Rolls back what a disconnected client left open and gives the session to the others. */
  async clearTransactionIfNeeded(clientId: number): Promise<void> {
    if (this.#owner !== clientId) return;
    if (this.db.isInTransaction()) {
      await this.db.runExclusive(() => this.db.exec("rollback"));
    }
    this.#owner = null;
    await this.#drain();
  }
}

/**
 * A TCP listener in front of the double's HTTP server that pipes each client connection to a
 * connection of its own to the server. It exists for one fault: `Deno.serve` cannot close a
 * connection without answering, but this front can, so a client sees a real dropped connection
 * (a network error before any status line), as when Discord's edge resets it.
 *
 * @module
 */

interface Pair {
  client: Deno.Conn;
  server: Deno.Conn;
}

/** Pipes client connections to a backend port and can drop any of them. */
export class TcpFront {
  #listener: Deno.Listener;
  #backendPort: number;
  #hostname: string;
  /** Pairs by the local port of the front's connection to the backend. */
  #pairs = new Map<number, Pair>();
  #accepting: Promise<void>;

  private constructor(listener: Deno.Listener, hostname: string, backendPort: number) {
    this.#listener = listener;
    this.#hostname = hostname;
    this.#backendPort = backendPort;
    this.#accepting = this.#accept();
  }

  /**
   * Listens on `hostname:port` (0 = any free port) and forwards to `backendPort`.
   */
  static start(hostname: string, port: number, backendPort: number): TcpFront {
    return new TcpFront(Deno.listen({ hostname, port, transport: "tcp" }), hostname, backendPort);
  }

  /** The port clients connect to. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /**
   * Drops the client connection whose request reached the backend from `backendClientPort`
   * (the `remoteAddr.port` the HTTP server sees). Returns whether one was found.
   */
  drop(backendClientPort: number): boolean {
    const pair = this.#pairs.get(backendClientPort);
    if (!pair) return false;
    this.#pairs.delete(backendClientPort);
    closeQuietly(pair.client);
    closeQuietly(pair.server);
    return true;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    closeQuietly(this.#listener);
    for (const pair of this.#pairs.values()) {
      closeQuietly(pair.client);
      closeQuietly(pair.server);
    }
    this.#pairs.clear();
    await this.#accepting;
  }

  async #accept(): Promise<void> {
    while (true) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      this.#pipe(client).catch(() => closeQuietly(client));
    }
  }

  async #pipe(client: Deno.Conn): Promise<void> {
    const server = await Deno.connect({ hostname: this.#hostname, port: this.#backendPort });
    const key = (server.localAddr as Deno.NetAddr).port;
    this.#pairs.set(key, { client, server });
    await Promise.allSettled([
      client.readable.pipeTo(server.writable),
      server.readable.pipeTo(client.writable),
    ]);
    this.#pairs.delete(key);
    closeQuietly(client);
    closeQuietly(server);
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed by the other direction of the pipe.
  }
}

/** A local HTTP server for the browser tests: the plan page, or the stand-in Supabase gateway. */

/** A request handler that may be bound after the server's port is known. */
export type LateHandler = { fetch?: (request: Request) => Response | Promise<Response> };

/** Serves `handler` on 127.0.0.1; `handler` may be bound after the port is known. */
export function serve(handler: LateHandler) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => handler.fetch!(request),
  );
  return { server, url: `http://127.0.0.1:${server.addr.port}` };
}

/**
 * The dev runner's front door, shaped like Supabase's gateway: `/functions/v1/<name>/...` reaches
 * the function's own app as `/<name>/...` (Kong strips `/functions/v1`, and each app uses
 * `basePath('/<name>')`); everything else goes to the plan page, as on its own host.
 */
import { Hono } from "hono";
import { createLogger } from "../../_shared/log.ts";

/** Something that answers HTTP requests: a Hono app's `fetch`, or a plain handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** What the gateway serves. */
export interface GatewayRoutes {
  /** Edge Functions by name (URL slug). */
  functions: Record<string, FetchHandler>;
  /** The plan page app, served at `/`. */
  planPage?: FetchHandler;
  /** Extra apps mounted under their own prefix before the plan page (e.g. `/sandbox`). */
  extras?: Record<string, FetchHandler>;
}

const FUNCTIONS_PREFIX = "/functions/v1";

/** Builds the gateway app. Unknown functions get Supabase's own 404 wording. */
export function createGateway(routes: GatewayRoutes): Hono {
  const log = createLogger("dev-gateway");
  const app = new Hono();

  app.all(`${FUNCTIONS_PREFIX}/:name{[a-z0-9-]+}/*`, (c) => forwardToFunction(c.req.raw));
  app.all(`${FUNCTIONS_PREFIX}/:name{[a-z0-9-]+}`, (c) => forwardToFunction(c.req.raw));

  function forwardToFunction(request: Request): Response | Promise<Response> {
    const url = new URL(request.url);
    const [name = ""] = url.pathname.slice(FUNCTIONS_PREFIX.length + 1).split("/");
    const handler = routes.functions[name];
    if (!handler) {
      return Response.json({ code: "NOT_FOUND", message: "Requested function was not found" }, {
        status: 404,
      });
    }
    url.pathname = url.pathname.slice(FUNCTIONS_PREFIX.length);
    // Not `new Request(url, request)`: copying the signal makes Deno warn about its legacy abort.
    return handler(
      new Request(url, { method: request.method, headers: request.headers, body: request.body }),
    );
  }

  for (const [prefix, handler] of Object.entries(routes.extras ?? {})) {
    app.all(prefix, (c) => handler(c.req.raw));
    app.all(`${prefix}/*`, (c) => handler(c.req.raw));
  }

  app.all("*", (c) => {
    if (!routes.planPage) return c.text("The plan page is not available in this build", 404);
    return routes.planPage(c.req.raw);
  });

  app.onError((error, c) => {
    log.error("unhandled error in the gateway", { path: c.req.path, error });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

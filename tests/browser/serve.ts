/** Local HTTP servers for the browser tests: the plan page and a stand-in for Supabase's gateway. */
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import { createCheckoutClient } from "../../functions/plan-page/checkout_client.ts";

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

/**
 * The plan page on one server and, on another, a stand-in for Supabase's gateway (it strips
 * `/functions/v1`) in front of the checkout function, bound with `bindCheckout` once the world
 * that needs the page's address exists.
 */
export function planPageSite() {
  const page: LateHandler = {};
  const gateway: LateHandler = {};
  const pageServer = serve(page);
  const gatewayServer = serve(gateway);
  page.fetch = createPlanPageApp({
    checkoutClient: createCheckoutClient({
      supabaseUrl: gatewayServer.url,
      publishableKey: "sb_publishable_rolepass_test",
    }),
    publicSiteUrl: pageServer.url,
  }).fetch;
  return {
    url: pageServer.url,
    bindCheckout(app: { fetch: (request: Request) => Response | Promise<Response> }) {
      gateway.fetch = async (request) => {
        const url = new URL(request.url);
        url.pathname = url.pathname.replace(/^\/functions\/v1/, "");
        const body = request.method === "GET" ? undefined : await request.arrayBuffer();
        return app.fetch(
          new Request(url, { method: request.method, headers: request.headers, body }),
        );
      };
    },
    async close() {
      await pageServer.server.shutdown();
      await gatewayServer.server.shutdown();
    },
  };
}

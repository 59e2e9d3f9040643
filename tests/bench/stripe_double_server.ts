/**
 * The Stripe double in a process of its own, for benchmarks: starts it on 127.0.0.1, prints
 * `{"url": "...", "port": ..., "proxyUrl": "..."}` as one JSON line on stdout and serves until it
 * gets SIGTERM or SIGINT, or until its stdin closes (so it also ends when the parent dies without
 * killing it). Seeding and simulation go through the double's HTTP control API under `/__double`.
 *
 * `proxyUrl` is a proxy in front of the double that holds every answer for a latency set with
 * `POST {proxyUrl}/__latency {"ms": N}` (0 at start), as real Stripe's round trip over the
 * internet would: the double still answers at once, so its state is read when the request
 * arrives, and only the answer's way back is slowed. It runs here, not in the benchmark's
 * process, so holding and forwarding answers costs the function under test nothing.
 *
 *   deno run -A tests/bench/stripe_double_server.ts [--port=N] [--secret-key=sk_test_...]
 */
import { startStripeDouble } from "../../functions/_doubles/stripe/index.ts";

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

const port = flag("port");
const secretKey = flag("secret-key");
const stripeDouble = await startStripeDouble({
  ...(port ? { port: Number(port) } : {}),
  ...(secretKey ? { secretKey } : {}),
});

let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= Promise.all([proxy.shutdown(), stripeDouble.close()]).then(() => {})
    .finally(() => Deno.exit(0));
  return stopping;
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

let latencyMs = 0;
const upstream = new URL(stripeDouble.url);
const proxy = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/__latency" && request.method === "POST") {
      const { ms } = await request.json() as { ms: unknown };
      if (typeof ms !== "number" || !(ms >= 0)) {
        return Response.json({ error: "expected {ms: a number >= 0}" }, { status: 400 });
      }
      latencyMs = ms;
      return Response.json({ ms });
    }
    url.protocol = upstream.protocol;
    url.host = upstream.host;
    const answer = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer(),
    });
    const body = await answer.arrayBuffer();
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    return new Response(body, { status: answer.status, headers: answer.headers });
  },
);

console.log(JSON.stringify({
  url: stripeDouble.url,
  port: stripeDouble.port,
  proxyUrl: `http://127.0.0.1:${proxy.addr.port}`,
}));

// Ends with the parent: its end of the pipe closes when it exits, however it exits.
for await (const _ of Deno.stdin.readable) {
  // Nothing is expected on stdin; it is only watched for EOF.
}
await stop();

/**
 * The Stripe double in a process of its own, for benchmarks: starts it on 127.0.0.1, prints
 * `{"url": "...", "port": ...}` as one JSON line on stdout and serves until it gets SIGTERM or
 * SIGINT, or until its stdin closes (so it also ends when the parent dies without killing it).
 * Seeding and simulation go through the double's HTTP control API under `/__double`.
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
  stopping ??= stripeDouble.close().finally(() => Deno.exit(0));
  return stopping;
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

console.log(JSON.stringify({ url: stripeDouble.url, port: stripeDouble.port }));

// Ends with the parent: its end of the pipe closes when it exits, however it exits.
for await (const _ of Deno.stdin.readable) {
  // Nothing is expected on stdin; it is only watched for EOF.
}
await stop();

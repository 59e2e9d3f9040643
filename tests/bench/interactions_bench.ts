/**
 * `deno bench` for the interactions endpoint: /subscribe through the app's fetch handler against
 * local PostgreSQL, next to the floor (Ed25519 verify + one INSERT round trip) in the same run.
 *
 * Run: `deno task bench interactions` (starts and migrates a throwaway PostgreSQL), or
 * `DATABASE_URL=<migrated template> deno bench -A tests/bench/interactions_bench.ts`.
 * The load script next to it (interactions_load.ts) prints p50/p99, req/s and cold start.
 */
import { setUpInteractionsBench } from "./interactions_setup.ts";

const bench = await setUpInteractionsBench();
// More than deno bench runs of a millisecond-scale function, so none is signed while measured.
await bench.prepareSubscribes(5_000);
let n = 0;

Deno.bench({
  name: "floor: Ed25519 verify + one INSERT round trip",
  group: "subscribe",
  baseline: true,
  async fn() {
    await bench.floor();
  },
});

Deno.bench({
  name: "/subscribe via app.fetch (verify, parse, one round trip, reply)",
  group: "subscribe",
  async fn() {
    await bench.subscribe(n++);
  },
});

Deno.bench({
  name: "PING via app.fetch (verify only)",
  group: "ping",
  async fn() {
    const status = await bench.ping();
    if (status !== 200) throw new Error(`PING answered ${status}`);
  },
});

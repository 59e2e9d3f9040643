/**
 * Load script for the interactions endpoint (issue 3's "Done when"): warm p50/p99 and req/s of
 * /subscribe through the app's fetch handler against local PostgreSQL, next to the floor measured
 * in the same run (Ed25519 verify + one INSERT round trip), and the cold start of the function.
 *
 * Floor and /subscribe samples are interleaved, so a noisy machine slows both alike; the ratios
 * are the figures to read. Run: `deno task bench interactions`.
 */
import { type InteractionsBench, setUpInteractionsBench } from "./interactions_setup.ts";
import { APPLICATION_ID, SITE_URL } from "../integration/interactions_fixtures.ts";
import { peakMemoryLine } from "./process_memory.ts";

const WARMUP = 300;
const SAMPLES = 3000;
const CONCURRENCY = 16;
const THROUGHPUT_MS = 2000;
const COLD_STARTS = 5;

function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

async function latencies(bench: InteractionsBench) {
  const floor: number[] = [];
  const subscribe: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const order = i % 2 === 0 ? ["floor", "subscribe"] : ["subscribe", "floor"];
    for (const which of order) {
      const started = performance.now();
      if (which === "floor") await bench.floor();
      else await bench.subscribe(i);
      const elapsed = performance.now() - started;
      if (i >= WARMUP) (which === "floor" ? floor : subscribe).push(elapsed);
    }
  }
  floor.sort((a, b) => a - b);
  subscribe.sort((a, b) => a - b);
  return { floor, subscribe };
}

async function throughput(run: (n: number) => Promise<void>): Promise<number> {
  let done = 0;
  const deadline = performance.now() + THROUGHPUT_MS;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let n = worker; performance.now() < deadline; n += CONCURRENCY) {
      await run(n);
      done++;
    }
  }));
  return done / ((performance.now() - started) / 1000);
}

async function readPort(child: Deno.ChildProcess): Promise<number> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`cold-start child exited before listening: ${text}`);
    text += value;
  }
  reader.releaseLock();
  return Number(text.trim().split("\n")[0]);
}

/** Spawn -> first answered /subscribe, and spawn -> listening, for a fresh `deno run`. */
async function coldStart(bench: InteractionsBench, script: string) {
  const request = await bench.subscribeRequest(1);
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script],
    cwd: new URL("../../", import.meta.url),
    env: {
      DISCORD_PUBLIC_KEY: bench.publicKeyHex,
      DISCORD_APPLICATION_ID: APPLICATION_ID,
      PUBLIC_SITE_URL: SITE_URL,
      SUPABASE_DB_URL: bench.databaseUrl,
    },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const port = await readPort(child);
    const listening = performance.now() - started;
    const response = await fetch(`http://127.0.0.1:${port}${new URL(request.url).pathname}`, {
      method: "POST",
      headers: request.headers,
      body: await request.text(),
    });
    const text = await response.text();
    if (!text.includes("/join/")) {
      throw new Error(`cold start answered ${response.status}: ${text}`);
    }
    return { listening, firstResponse: performance.now() - started };
  } finally {
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

/** The same spawn with a script that imports nothing: what `deno run` itself costs. */
async function bareDenoStart(): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "Deno.serve({hostname:'127.0.0.1',port:0,onListen:({port})=>console.log(port)},()=>new Response('ok'))",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const port = await readPort(child);
    await (await fetch(`http://127.0.0.1:${port}/`)).text();
    return performance.now() - started;
  } finally {
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

const bench = await setUpInteractionsBench();
try {
  await bench.prepareSubscribes(WARMUP + SAMPLES);
  const { floor, subscribe } = await latencies(bench);
  const floorP50 = percentile(floor, 0.5);
  const floorP99 = percentile(floor, 0.99);
  const subscribeP50 = percentile(subscribe, 0.5);
  const subscribeP99 = percentile(subscribe, 0.99);
  const floorRps = await throughput(() => bench.floor());
  // Enough for every worker answering at the unloaded p50 for the whole run; loaded, they answer
  // slower, so none is signed inside the measurement.
  await bench.prepareSubscribes(Math.ceil((THROUGHPUT_MS / subscribeP50) * CONCURRENCY));
  const subscribeRps = await throughput((n) => bench.subscribe(n));

  const script = "tests/bench/interactions_cold_start.ts";
  const cold = [];
  const bare = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    cold.push(await coldStart(bench, script));
    bare.push(await bareDenoStart());
  }
  const median = (values: number[]) => percentile(values.sort((a, b) => a - b), 0.5);
  const coldFirst = median(cold.map((c) => c.firstResponse));
  const coldListen = median(cold.map((c) => c.listening));
  const coldMax = Math.max(...cold.map((c) => c.firstResponse));
  const bareStart = median(bare);

  console.log(
    `interactions endpoint, ${SAMPLES} interleaved samples each, ${CONCURRENCY} concurrent for throughput
| measure | floor (verify + 1 INSERT) | /subscribe | ratio |
| --- | --- | --- | --- |
| p50 latency | ${ms(floorP50)} | ${ms(subscribeP50)} | ${(subscribeP50 / floorP50).toFixed(2)}x |
| p99 latency | ${ms(floorP99)} | ${ms(subscribeP99)} | ${
      (subscribeP99 / floorP99).toFixed(2)
    }x (target <= 3x) |
| requests/s | ${floorRps.toFixed(0)} | ${subscribeRps.toFixed(0)} | ${
      (subscribeRps / floorRps).toFixed(2)
    }x |

cold start (fresh \`deno run\`, median of ${COLD_STARTS}): first /subscribe answered ${
      ms(coldFirst)
    } after spawn (max ${ms(coldMax)}), listening after ${ms(coldListen)};
bare \`deno\` serving one request: ${ms(bareStart)}, so the function module adds ${
      ms(coldFirst - bareStart)
    };
Discord's deadline 3000 ms: first answer at ${(coldFirst / 3000 * 100).toFixed(1)}% of it.`,
  );
  console.log(await peakMemoryLine("discord-interactions app, with its load"));
} finally {
  await bench.close();
}

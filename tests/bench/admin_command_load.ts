/**
 * Load script for `/rolepass` (issue 12): warm p50/p99 of the command's first answer, `status`,
 * `overview` and `resync` (deferred: the request recorded for role-sync), next to /subscribe's and to the floor of the interactions benchmark (Ed25519
 * verify + one INSERT round trip), all interleaved in the same run so a noisy machine slows each
 * alike; the ratios are the figures to read. Run: `deno task bench admin_command`.
 */
import postgres from "postgres";
import { setUpInteractionsBench } from "./interactions_setup.ts";
import {
  buildApp,
  createDiscordSigner,
  ENDPOINT,
  GUILD_ID,
  ROLE_ID,
  subscribeInteraction,
} from "../integration/interactions_fixtures.ts";
import { assert } from "../harness/assert.ts";

const WARMUP = 200;
const SAMPLES = 1000;
const MEMBERS = 200;

function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

const bench = await setUpInteractionsBench();
const seed = postgres(bench.databaseUrl, { max: 1, onnotice: () => {} });
const signer = await createDiscordSigner();
const { app, sql } = buildApp(bench.databaseUrl, signer.publicKeyHex);
try {
  const [plan] = await seed<{ id: string }[]>`
    select id from rolepass.plans where guild_id = ${GUILD_ID} order by sort_order limit 1`;
  assert(plan, "plan is missing");
  for (let i = 0; i < MEMBERS; i++) {
    await seed`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
        stripe_subscription_id, plan_id, status, entitled, entitled_role_id, change_cause)
      values (${GUILD_ID}, ${String(500000000000000000n + BigInt(i))}, ${`cus_Bench${i}`},
        ${`sub_Bench${i}`}, ${plan.id}, ${i % 5 === 0 ? "past_due" : "active"}, ${i % 5 !== 0},
        ${ROLE_ID}, 'bench')`;
  }
  let sent = 0;
  const signAdmin = async (subcommand: "status" | "overview" | "resync", n: number) => {
    const body = await subscribeInteraction({ commandName: "rolepass" });
    body.id = String(900000000000000000n + BigInt(sent++));
    (body.member as Record<string, unknown>).permissions = "32";
    (body.data as Record<string, unknown>).options = [{
      type: 1,
      name: subcommand,
      ...(subcommand !== "overview"
        ? {
          options: [{
            type: 6,
            name: "member",
            value: String(500000000000000000n + BigInt(n % MEMBERS)),
          }],
        }
        : {}),
    }];
    const text = JSON.stringify(body);
    return new Request(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(await signer.sign(text)) },
      body: text,
    });
  };
  const requests = { status: [] as Request[], overview: [] as Request[], resync: [] as Request[] };
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    requests.status.push(await signAdmin("status", i));
    requests.overview.push(await signAdmin("overview", i));
    requests.resync.push(await signAdmin("resync", i));
  }
  await bench.prepareSubscribes(WARMUP + SAMPLES);

  const kinds = ["floor", "subscribe", "status", "overview", "resync"] as const;
  const samples = Object.fromEntries(kinds.map((kind) => [kind, [] as number[]])) as Record<
    (typeof kinds)[number],
    number[]
  >;
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const order = [...kinds.slice(i % kinds.length), ...kinds.slice(0, i % kinds.length)];
    for (const kind of order) {
      const started = performance.now();
      if (kind === "floor") await bench.floor();
      else if (kind === "subscribe") await bench.subscribe(i);
      else {
        const request = requests[kind][i];
        if (!request) throw new Error(`No prepared ${kind} request ${i}`);
        const response = await app.fetch(request);
        const text = await response.text();
        if (response.status !== 200 || !text.includes('"flags":64')) {
          throw new Error(`/rolepass ${kind} answered ${response.status}: ${text}`);
        }
      }
      if (i >= WARMUP) samples[kind].push(performance.now() - started);
    }
  }
  for (const kind of kinds) samples[kind].sort((a, b) => a - b);
  const floorP50 = percentile(samples.floor, 0.5);
  const floorP99 = percentile(samples.floor, 0.99);
  const rows = kinds.map((kind) => {
    const p50 = percentile(samples[kind], 0.5);
    const p99 = percentile(samples[kind], 0.99);
    return `| ${
      kind === "floor"
        ? "floor (verify + 1 INSERT)"
        : kind === "subscribe"
        ? "/subscribe"
        : `/rolepass ${kind}`
    } | ${p50.toFixed(2)} ms | ${p99.toFixed(2)} ms | ${(p50 / floorP50).toFixed(2)}x | ${
      (p99 / floorP99).toFixed(2)
    }x |`;
  });
  console.log(
    `/rolepass first answer, ${SAMPLES} interleaved samples each, ${MEMBERS} members in the server
| request | p50 | p99 | p50 / floor | p99 / floor |
| --- | --- | --- | --- | --- |
${rows.join("\n")}
Discord's deadline is 3000 ms; /subscribe's target is p99 <= 3x the floor.`,
  );
} finally {
  await sql.end();
  await seed.end();
  await bench.close();
}

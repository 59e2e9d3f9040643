/**
 * Drift from outside, generated: every case is a fresh guild of {@linkcode MEMBERS_PER_CASE}
 * members whose stories mix paying and not paying (the membership rows the Stripe sync writes, so
 * each change queues its role job through the real trigger), leaving and rejoining (Discord keeps
 * no roles), moderators adding and removing paid roles by hand, comps (`grant_role_comp`, as
 * `/rolepass grant` does) and a change of a plan's role. Role jobs are drained at generated points
 * (some changes reach Discord before the member leaves, some after). Then reconciliation quiesces
 * (role-sync's real `/reconcile` route, then the role jobs it queued, until a pass queues nothing)
 * and, under the `remove` policy: nobody in the guild pays without their role, nobody holds a
 * paid role without paying for it or a comp, and a comp the member kept (did not leave since) is
 * held whenever they pay for nothing else (a paying member holds the paid role, rolesHeldNow).
 *
 * Webhooks dropped for good are not generated here: their repair (the Stripe Events catch-up)
 * goes through the webhook world, and is proven in tests/integration/reconciliation_stripe_test.ts.
 *
 * `DRIFT_RUNS` (cases; default 25, so 1,000 member histories) and `DRIFT_SEED` replay or widen it.
 */
import fc from "fast-check";
import { holdsLiveSubscription } from "../../functions/_core/subscription_state.ts";
import { assertEquals } from "../harness/assert.ts";
import {
  ROLE_SYNC_SECRET,
  type RoleSyncWorld,
  withRoleSync,
} from "../integration/role_sync_fixtures.ts";

const MEMBERS_PER_CASE = 40;
const RUNS = Number(Deno.env.get("DRIFT_RUNS") ?? 25);
const SEED = Deno.env.get("DRIFT_SEED");

type Step =
  | "pay_gold"
  | "pay_silver"
  | "stop_paying"
  | "leave"
  | "rejoin"
  | "mod_add_gold"
  | "mod_add_silver"
  | "mod_remove_paid"
  | "comp_silver";

const stepArb = fc.constantFrom<Step>(
  "pay_gold",
  "pay_silver",
  "stop_paying",
  "leave",
  "rejoin",
  "mod_add_gold",
  "mod_add_silver",
  "mod_remove_paid",
  "comp_silver",
);

const caseArb = fc.record({
  histories: fc.array(fc.array(stepArb, { minLength: 1, maxLength: 6 }), {
    minLength: MEMBERS_PER_CASE,
    maxLength: MEMBERS_PER_CASE,
  }),
  /** After which round (if any) the gold plan's role changes. */
  planChangeAfter: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
  /** After which rounds role jobs are drained before the next round's changes. */
  drainAfter: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
});

type DriftCase = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

let nextUser = 600_000_000_000_000_000n;

interface CaseGuild {
  id: string;
  gold: { planId: string; roleId: string };
  silver: { planId: string; roleId: string };
  platinumRoleId: string;
}

async function newGuild(w: RoleSyncWorld): Promise<CaseGuild> {
  const guild = w.discord.addGuild({ botRolePosition: 10 });
  const gold = w.discord.addRole(guild.id, { name: "Gold", position: 5 }).id;
  const silver = w.discord.addRole(guild.id, { name: "Silver", position: 4 }).id;
  const platinum = w.discord.addRole(guild.id, { name: "Platinum", position: 6 }).id;
  const sql = w.db.sql;
  await sql`insert into rolepass.guilds (id, name, role_drift_policy)
    values (${guild.id}, 'Drift guild', 'remove')`;
  const plan = async (price: string, roleId: string) => {
    const [row] = await sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval)
      values (${guild.id}, ${price}, ${roleId}, ${sql.json({ en: { name: price } })}, 500, 'jpy',
        'month')
      returning id`;
    if (!row) throw new Error("plan is missing");
    return { planId: row.id, roleId };
  };
  return {
    id: guild.id,
    gold: await plan(`price_gold_${guild.id}`, gold),
    silver: await plan(`price_silver_${guild.id}`, silver),
    platinumRoleId: platinum,
  };
}

interface MemberModel {
  userId: string;
  membershipId: string;
  inGuild: boolean;
  comped: boolean;
  /** The comp was given while in the guild and the member has not left since. */
  compKept: boolean;
}

async function quiesce(w: RoleSyncWorld, guildId: string): Promise<void> {
  for (let pass = 0; pass < 10; pass++) {
    await w.settle(60_000);
    const response = await w.app.request("/role-sync/reconcile", {
      method: "POST",
      headers: { "x-rolepass-secret": ROLE_SYNC_SECRET, "Content-Type": "application/json" },
      body: JSON.stringify({ guild_id: guildId }),
    });
    assertEquals(response.status, 200);
    const result = await response.json();
    if (result.status === "completed" && result.counts.repairsQueued === 0) return;
  }
  throw new Error(`reconciliation of ${guildId} did not quiesce in 10 passes`);
}

async function runCase(w: RoleSyncWorld, driftCase: DriftCase): Promise<string[]> {
  const sql = w.db.sql;
  const guild = await newGuild(w);
  let goldRole = guild.gold.roleId;
  const members: MemberModel[] = [];
  for (let i = 0; i < driftCase.histories.length; i++) {
    const userId = (nextUser++).toString();
    w.discord.addMember(guild.id, userId);
    members.push({ userId, membershipId: "", inGuild: true, comped: false, compKept: false });
  }
  const rows = await sql<{ id: string; discord_user_id: string }[]>`
    insert into rolepass.memberships (guild_id, discord_user_id, locale, stripe_customer_id,
      stripe_subscription_id)
    select ${guild.id}, u, 'en', 'cus_' || u, 'sub_' || u
    from unnest(${members.map((m) => m.userId)}::text[]) u
    returning id, discord_user_id`;
  const byUser = new Map(rows.map((row) => [row.discord_user_id, row.id]));
  for (const m of members) m.membershipId = byUser.get(m.userId)!;

  const pay = async (m: MemberModel, plan: { planId: string } | null) => {
    const status = plan ? "active" : "canceled";
    const live = holdsLiveSubscription({
      entitled: plan !== null,
      stripeSubscriptionId: "sub",
      status,
    });
    await sql`
      update rolepass.memberships
      set entitled = ${plan !== null},
        entitled_role_id = (select p.discord_role_id from rolepass.plans p
          where p.id = ${plan?.planId ?? null}::uuid),
        plan_id = coalesce(${plan?.planId ?? null}::uuid, plan_id),
        status = ${status}, subscription_live = ${live}, change_cause = 'drift_property'
      where id = ${m.membershipId}`;
  };
  const setRoles = (m: MemberModel, change: (roles: Set<string>) => void) => {
    const roles = new Set(w.discord.memberRoles(guild.id, m.userId) ?? []);
    change(roles);
    w.discord.setMemberRoles(guild.id, m.userId, [...roles]);
  };

  for (let round = 0; round < 6; round++) {
    for (const [i, history] of driftCase.histories.entries()) {
      const step = history[round];
      const m = members[i]!;
      switch (step) {
        case undefined:
          break;
        case "pay_gold":
          await pay(m, guild.gold);
          break;
        case "pay_silver":
          await pay(m, guild.silver);
          break;
        case "stop_paying":
          await pay(m, null);
          break;
        case "leave":
          if (m.inGuild) w.discord.removeMember(guild.id, m.userId);
          m.inGuild = false;
          m.compKept = false;
          break;
        case "rejoin":
          w.discord.rejoinMember(guild.id, m.userId);
          m.inGuild = true;
          m.compKept = false;
          break;
        case "mod_add_gold":
          if (m.inGuild) setRoles(m, (roles) => roles.add(goldRole));
          break;
        case "mod_add_silver":
          if (m.inGuild) setRoles(m, (roles) => roles.add(guild.silver.roleId));
          break;
        case "mod_remove_paid":
          // Moderators leave a comped role alone (a comp is the operator's own decision).
          if (m.inGuild) {
            setRoles(m, (roles) => {
              roles.delete(goldRole);
              if (!m.comped) roles.delete(guild.silver.roleId);
            });
          }
          break;
        case "comp_silver":
          await sql`select rolepass.grant_role_comp(${guild.id}, ${m.userId},
            ${guild.silver.roleId}, 'moderator', null)`;
          m.compKept ||= m.inGuild;
          m.comped = true;
          break;
      }
    }
    if (driftCase.planChangeAfter === round) {
      await sql`update rolepass.plans set discord_role_id = ${guild.platinumRoleId}
        where id = ${guild.gold.planId}`;
      goldRole = guild.platinumRoleId;
    }
    if (driftCase.drainAfter[round]) await w.drain();
  }

  await quiesce(w, guild.id);

  const paidRoles = new Set([goldRole, guild.silver.roleId]);
  const state = await sql<
    { discord_user_id: string; entitled_role_id: string | null; comp_role_id: string | null }[]
  >`
    select m.discord_user_id, case when m.entitled then m.entitled_role_id end as entitled_role_id,
      (select c.discord_role_id from rolepass.role_comps c
        where c.guild_id = m.guild_id and c.discord_user_id = m.discord_user_id) as comp_role_id
    from rolepass.memberships m where m.guild_id = ${guild.id}`;
  const facts = new Map(state.map((row) => [row.discord_user_id, row]));
  const violations: string[] = [];
  for (const [i, m] of members.entries()) {
    if (!m.inGuild) continue;
    const held = new Set(w.discord.memberRoles(guild.id, m.userId) ?? []);
    const row = facts.get(m.userId);
    const entitled = row?.entitled_role_id ?? null;
    if (entitled && !held.has(entitled)) violations.push(`${m.userId} pays without ${entitled}`);
    for (const roleId of held) {
      if (!paidRoles.has(roleId) || roleId === entitled || row?.comp_role_id === roleId) continue;
      violations.push(`${m.userId} holds ${roleId} without paying`);
    }
    // A paying member holds their paid role; the comp's role is theirs while they do not pay.
    if (
      m.compKept && (entitled === null || entitled === guild.silver.roleId) &&
      !held.has(guild.silver.roleId)
    ) {
      violations.push(
        `${m.userId} lost the comped ${guild.silver.roleId} (${driftCase.histories[i]})`,
      );
    }
  }
  return violations;
}

Deno.test(`after drift from outside, reconciliation leaves nobody paying without the role and nobody holding it unpaid (${RUNS} cases × ${MEMBERS_PER_CASE} members)`, async () => {
  await withRoleSync(async (w) => {
    let histories = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (driftCase) => {
        histories += driftCase.histories.length;
        assertEquals(await runCase(w, driftCase), []);
      }),
      { numRuns: RUNS, ...(SEED ? { seed: Number(SEED) } : {}), endOnFailure: true },
    );
    console.log(`drift property: ${histories} member histories`);
  }, {
    tuning: { reconcile: { repairSpacingMs: 0 } },
    double: { rateLimits: { enabled: false } },
  });
});

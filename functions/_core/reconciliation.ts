/**
 * Reconciliation decided without I/O: given the roles members really hold in Discord, what
 * rolepass says each is entitled to and the roles an operator gave by hand (comps), which role
 * jobs repair the difference. The periodic pass and the drift report both call
 * {@linkcode planRepairs}, so what the report shows is what the pass would do.
 */

/** What a guild does with a paid role held by someone who does not pay for it. */
export type DriftPolicy = "report" | "remove";

/** A member as Discord lists them. */
export interface DiscordMember {
  userId: string;
  roleIds: readonly string[];
}

/** What rolepass knows of one member of the guild. */
export interface MemberEntitlementFacts {
  /** The roles the member's membership gives now (empty when it entitles nothing). */
  entitledRoleIds: readonly string[];
  /** Every role a role job ever gave or took for this member. */
  managedRoleIds: readonly string[];
}

/** A difference between Discord and entitlement. */
export type Drift =
  /** A paying member lacks their role (rejoined, or a moderator removed it). */
  | { kind: "missing_role"; userId: string; roleId: string }
  /**
   * A member holds a paid role they do not pay for: rolepass took it away or never gave it
   * (`rolepassGranted` tells which).
   */
  | { kind: "unpaid_role"; userId: string; roleId: string; rolepassGranted: boolean };

/** A role job that repairs one drift. */
export type Repair =
  | { action: "grant"; userId: string; roleId: string }
  | { action: "remove"; userId: string; roleId: string };

/** What one page of members came to. */
export interface ReconcilePlan {
  drift: Drift[];
  repairs: Repair[];
  /** Paid roles left alone because an operator gave them by hand. */
  comped: number;
}

/** What {@linkcode planRepairs} compares. */
export interface ReconcileInput {
  /**
   * The roles the guild's plans grant, paid or trial (active or not: a deactivated plan keeps its
   * members).
   */
  paidRoleIds: ReadonlySet<string>;
  members: readonly DiscordMember[];
  /** By user id; a member rolepass has never seen is absent. */
  entitlements: ReadonlyMap<string, MemberEntitlementFacts>;
  /** `${userId}:${roleId}` of each comp still in force. */
  comps: ReadonlySet<string>;
  policy: DriftPolicy;
}

/** The key of a comp in {@linkcode ReconcileInput.comps}. */
export function compKey(userId: string, roleId: string): string {
  return `${userId}:${roleId}`;
}

/**
 * Compares members' real roles with their entitlement. A missing paid role is always granted
 * back; a paid role held without paying is reported, and removed only under the `remove`
 * policy, never when an operator comped it.
 */
export function planRepairs(input: ReconcileInput): ReconcilePlan {
  const drift: Drift[] = [];
  const repairs: Repair[] = [];
  let comped = 0;
  for (const member of input.members) {
    const facts = input.entitlements.get(member.userId);
    const entitled = new Set(facts?.entitledRoleIds ?? []);
    const held = new Set(member.roleIds);
    for (const roleId of [...entitled].sort()) {
      if (held.has(roleId)) continue;
      drift.push({ kind: "missing_role", userId: member.userId, roleId });
      repairs.push({ action: "grant", userId: member.userId, roleId });
    }
    for (const roleId of [...held].sort()) {
      if (!input.paidRoleIds.has(roleId) || entitled.has(roleId)) continue;
      if (input.comps.has(compKey(member.userId, roleId))) {
        comped++;
        continue;
      }
      drift.push({
        kind: "unpaid_role",
        userId: member.userId,
        roleId,
        rolepassGranted: facts?.managedRoleIds.includes(roleId) ?? false,
      });
      if (input.policy === "remove") {
        repairs.push({ action: "remove", userId: member.userId, roleId });
      }
    }
  }
  return { drift, repairs, comped };
}

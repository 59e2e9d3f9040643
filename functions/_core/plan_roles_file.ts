/**
 * The roles and trial of a plan in the plans file (`plans_file.ts` uses these): one role
 * (`discord_role_id`) or several granted and revoked together (`discord_role_ids`), and a free
 * trial with its own roles, the paid ones, or none until the first payment. Every inconsistent
 * combination is refused with the path of the field to fix.
 */
import { z } from "zod";
import { discordIdSchema as snowflake } from "./discord_id.ts";
import type { PlanTrial } from "./trial.ts";

/** Discord allows at most this many roles to be named in one place; more is surely a mistake. */
const MAX_ROLES = 25;

/** A plan's free trial in the plans file. */
export const trialEntrySchema = z.strictObject({
  /** Stripe's limit for `trial_period_days`. */
  days: z.number().int().min(1).max(730),
  /**
   * What the member holds during the trial: `"paid"` the plan's roles, `"none"` nothing until the
   * first payment, or a list of roles of its own.
   */
  roles: z.union([z.enum(["paid", "none"]), z.array(snowflake).min(1).max(MAX_ROLES)])
    .default("paid"),
  /** Whether Checkout asks for a card up front, or only when a payment is due. */
  payment_method: z.enum(["required", "if_required"]).default("required"),
  /** What ends a trial that has no card (only with `payment_method: "if_required"`). */
  missing_payment_method: z.enum(["cancel", "pause"]).optional(),
});

/** The role and trial fields of a plan entry. */
export const planRoleFields = {
  /** The role the plan grants (or use `discord_role_ids` for several). */
  discord_role_id: snowflake.optional(),
  /** Several roles granted and revoked together; the first is the one messages name. */
  discord_role_ids: z.array(snowflake).min(1).max(MAX_ROLES).optional(),
  trial: trialEntrySchema.optional(),
};

type PlanRoleFields = {
  discord_role_id?: string;
  discord_role_ids?: string[];
  trial?: z.output<typeof trialEntrySchema>;
  /** A one-time plan's access (a pass has no trial). */
  access?: unknown;
  /** The plan's display text, which may name its trial role. */
  display?: { en: { trial_role_name?: string }; ja?: { trial_role_name?: string } };
};

/** What plans:apply stores of a plan's roles and trial. */
export interface PlanRoles {
  /** The first role: the one messages name. */
  discord_role_id: string;
  discord_role_ids: string[];
  /** Null: no trial. */
  trial: (PlanTrial & { roleIds: string[] | null }) | null;
}

/** The roles a plan entry grants while paid. */
function paidRolesOf(plan: PlanRoleFields): string[] {
  return plan.discord_role_ids ?? (plan.discord_role_id ? [plan.discord_role_id] : []);
}

/**
 * Refuses, with the path of the field: a plan without a role or with both role fields, the
 * @everyone role, a role listed twice, a trial on a one-time plan, a trial role that is another
 * plan's paid role (trialing members would hold what others pay for), a missing-card rule on
 * a trial that always takes a card, and a trial role name on a plan whose trial has no role of its
 * own (the plan page would name a role nobody gets).
 */
export function checkPlanRoles(
  guild: { id: string; plans: readonly PlanRoleFields[] },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path: ["plans", ...path], message });
  // Every plan that sells each role: a trial role another plan sells is refused whichever of the
  // two comes first in the file.
  const paidBy = new Map<string, number[]>();
  guild.plans.forEach((plan, p) => {
    for (const roleId of paidRolesOf(plan)) paidBy.set(roleId, [...paidBy.get(roleId) ?? [], p]);
  });
  guild.plans.forEach((plan, p) => {
    if (plan.discord_role_id && plan.discord_role_ids) {
      issue([p, "discord_role_ids"], "give discord_role_id or discord_role_ids, not both");
    } else if (!plan.discord_role_id && !plan.discord_role_ids) {
      issue([p, "discord_role_id"], "a plan needs a role: discord_role_id or discord_role_ids");
    }
    const field = plan.discord_role_ids ? "discord_role_ids" : "discord_role_id";
    checkRoleList(
      guild.id,
      paidRolesOf(plan),
      (index, message) => issue(plan.discord_role_ids ? [p, field, index] : [p, field], message),
    );
    const trial = plan.trial;
    for (const lang of ["en", "ja"] as const) {
      if (plan.display?.[lang]?.trial_role_name !== undefined && !Array.isArray(trial?.roles)) {
        issue(
          [p, "display", lang, "trial_role_name"],
          "names a trial role, but the plan's trial has none of its own: list them in " +
            "trial.roles, or remove trial_role_name",
        );
      }
    }
    if (!trial) return;
    if (plan.access !== undefined) {
      issue([p, "trial"], "a one-time pass has no trial; remove trial or use a recurring price");
    }
    if (trial.missing_payment_method && trial.payment_method === "required") {
      issue(
        [p, "trial", "missing_payment_method"],
        'only applies with payment_method "if_required": a required card is always there',
      );
    }
    if (Array.isArray(trial.roles)) {
      const roles = trial.roles;
      checkRoleList(
        guild.id,
        roles,
        (index, message) => issue([p, "trial", "roles", index], message),
      );
      roles.forEach((roleId, index) => {
        const owner = paidBy.get(roleId)?.find((q) => q !== p);
        if (owner !== undefined) {
          issue(
            [p, "trial", "roles", index],
            `role ${roleId} is the paid role of plans[${owner}]: a trial would give what that ` +
              "plan sells; use a role of its own",
          );
        }
      });
    }
  });
}

function checkRoleList(
  guildId: string,
  roleIds: readonly string[],
  issue: (index: number, message: string) => void,
): void {
  roleIds.forEach((roleId, index) => {
    if (roleId === guildId) {
      issue(index, "this is the @everyone role (its id is the guild id); choose the paid role");
    } else if (roleIds.indexOf(roleId) !== index) {
      issue(index, `role ${roleId} is listed twice`);
    }
  });
}

/** A checked plan entry's roles and trial, as plans:apply stores them. */
export function planRolesOf(plan: PlanRoleFields): PlanRoles {
  const roleIds = paidRolesOf(plan);
  const [first] = roleIds;
  if (first === undefined) throw new Error("A checked plan has at least one role");
  const trial = plan.trial;
  return {
    discord_role_id: first,
    discord_role_ids: roleIds,
    trial: trial
      ? {
        days: trial.days,
        roleIds: trial.roles === "paid" ? null : trial.roles === "none" ? [] : trial.roles,
        paymentMethod: trial.payment_method,
        missingPaymentMethod: trial.missing_payment_method ?? "cancel",
      }
      : null,
  };
}

/** A problem of the plans file with the path of its field, as zod paths are. */
export interface PathProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Refuses a Discord role named under two servers (a role belongs to one server, so one of them is
 * a copying mistake whose role jobs would fail) and another server's id given as a role (that
 * server's @everyone). Reads the file as written, since only it says which role field a plan used;
 * anything malformed is left to the schema.
 */
export function crossGuildRoleProblems(file: unknown): PathProblem[] {
  const guilds = fieldOf(file, "guilds");
  if (!Array.isArray(guilds)) return [];
  const guildIds = guilds.map((guild) => fieldOf(guild, "id"));
  const firstGuildOf = new Map<string, number>();
  const problems: PathProblem[] = [];
  guilds.forEach((guild, g) => {
    const plans = fieldOf(guild, "plans");
    if (!Array.isArray(plans)) return;
    const check = (roleId: unknown, path: (string | number)[]) => {
      if (typeof roleId !== "string") return;
      const where = ["guilds", g, "plans", ...path];
      const everyoneOf = guildIds.findIndex((id, h) => id === roleId && h !== g);
      if (everyoneOf !== -1) {
        problems.push({
          path: where,
          message: `this is the @everyone role of guild ${roleId} (guilds[${everyoneOf}]), ` +
            "not a role of this server",
        });
        return;
      }
      const owner = firstGuildOf.get(roleId);
      if (owner === undefined) firstGuildOf.set(roleId, g);
      else if (owner !== g && guildIds[owner] !== guildIds[g]) {
        problems.push({
          path: where,
          message: `role ${roleId} is a role of guild ${guildIds[owner]} (guilds[${owner}]): ` +
            "a Discord role belongs to one server; use this server's role",
        });
      }
    };
    plans.forEach((plan, p) => {
      check(fieldOf(plan, "discord_role_id"), [p, "discord_role_id"]);
      const several = fieldOf(plan, "discord_role_ids");
      if (Array.isArray(several)) {
        several.forEach((roleId, i) => check(roleId, [p, "discord_role_ids", i]));
      }
      const trialRoles = fieldOf(fieldOf(plan, "trial"), "roles");
      if (Array.isArray(trialRoles)) {
        trialRoles.forEach((roleId, i) => check(roleId, [p, "trial", "roles", i]));
      }
    });
  });
  return problems;
}

function fieldOf(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

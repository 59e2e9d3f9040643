/**
 * What the doctor found: one finding per thing it checked, in plain words, with a fix for
 * anything that is wrong.
 */

/**
 * `pass`: fine. `fail`: blocks going live. `warn`: works, but worth a look.
 * `skip`: not checked, because something it needs is missing (that is reported on its own).
 */
export type FindingStatus = "pass" | "fail" | "warn" | "skip";

/** Stable identifiers of the checks, for `--json` consumers. */
export type CheckId =
  | "env"
  | "discord.token"
  | "discord.guild"
  | "discord.permissions"
  | "discord.roles"
  | "stripe.key"
  | "stripe.prices"
  | "stripe.webhook"
  | "stripe.portal"
  | "stripe.connect"
  | "stripe.connect_accounts"
  | "database.migrations"
  | "database.plans"
  | "vault.role_sync";

/** One finding. */
export interface Finding {
  check: CheckId;
  status: FindingStatus;
  /** What was checked and what was found, in one sentence. */
  message: string;
  /** What to do about it; present on every `fail` and `warn`. */
  fix?: string;
}

/** A check that found nothing wrong. */
export function pass(check: CheckId, message: string): Finding {
  return { check, status: "pass", message };
}

/** A problem that blocks going live. */
export function fail(check: CheckId, message: string, fix: string): Finding {
  return { check, status: "fail", message, fix };
}

/** Something that works but deserves the operator's attention. */
export function warn(check: CheckId, message: string, fix: string): Finding {
  return { check, status: "warn", message, fix };
}

/** A check that could not run because `needs` is missing or wrong. */
export function skip(check: CheckId, message: string, needs: string): Finding {
  return { check, status: "skip", message: `${message}: not checked (needs ${needs})` };
}

/** Whether anything blocks going live. */
export function blocksGoingLive(findings: readonly Finding[]): boolean {
  return findings.some((finding) => finding.status === "fail");
}

/**
 * How the doctor prints its findings: a line per finding with ✓ ✗ ! (and · for what it could not
 * check), the fix indented under it, and a closing verdict; or JSON for machines.
 */
import { blocksGoingLive, type Finding, type FindingStatus } from "./finding.ts";

const MARKS: Record<FindingStatus, string> = { pass: "✓", fail: "✗", warn: "!", skip: "·" };

/** The human-readable report. */
export function formatReport(findings: readonly Finding[]): string {
  const lines = findings.flatMap((finding) => {
    const head = `${MARKS[finding.status]} ${finding.message}`;
    return finding.fix ? [head, `    fix: ${finding.fix}`] : [head];
  });
  const failures = findings.filter((f) => f.status === "fail").length;
  const warnings = findings.filter((f) => f.status === "warn").length;
  const skipped = findings.filter((f) => f.status === "skip").length;
  const verdict = failures
    ? `${plural(failures, "problem")} ${failures === 1 ? "blocks" : "block"} going live`
    : "Nothing blocks going live";
  const extras = [
    warnings ? plural(warnings, "warning") : "",
    skipped ? `${skipped} not checked` : "",
  ].filter(Boolean);
  return [...lines, "", `${verdict}${extras.length ? ` (${extras.join(", ")})` : ""}.`].join("\n");
}

/** The machine-readable report: `{ ok, findings }`, `ok` false when anything blocks going live. */
export function formatJson(findings: readonly Finding[]): string {
  return JSON.stringify({ ok: !blocksGoingLive(findings), findings }, null, 2);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

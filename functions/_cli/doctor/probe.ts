/**
 * The result of asking a service one question: the answer, or how it failed (HTTP status and the
 * service's error code when there was an answer, the network error otherwise).
 */

/** One question's outcome. */
export type Probe<T> =
  | { ok: true; value: T }
  | { ok: false; status: number | null; code: string | number | null; error: string };

/** A successful probe. */
export function answered<T>(value: T): Probe<T> {
  return { ok: true, value };
}

/** A failed probe. */
export function refused<T>(
  status: number | null,
  code: string | number | null,
  error: string,
): Probe<T> {
  return { ok: false, status, code, error };
}

/** Describes a failed probe in a few words: "HTTP 500", "HTTP 404 (10004)", or the network error. */
export function describeFailure(probe: Probe<unknown>): string {
  if (probe.ok) return "answered";
  if (probe.status === null) return probe.error;
  return `HTTP ${probe.status}${probe.code !== null ? ` (${probe.code})` : ""}`;
}

/** Asks Stripe one question: its answer, or what Stripe said when it refused. */
export async function ask<T>(question: () => Promise<T>): Promise<Probe<T>> {
  try {
    return answered(await question());
  } catch (error) {
    const stripeError = error as { statusCode?: number; code?: string; message?: string };
    return refused(
      stripeError.statusCode ?? null,
      stripeError.code ?? null,
      stripeError.message ?? String(error),
    );
  }
}

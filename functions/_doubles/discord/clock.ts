/**
 * The double's notion of time. Interaction-token expiry, rate-limit windows and snowflake
 * timestamps all read this clock, so a test can move time forward instead of sleeping.
 *
 * @module
 */

/** Something that tells the current time in epoch milliseconds. */
export type TimeSource = () => number;

/** A clock that runs with its source but can be moved forward or set by a test. */
export class DoubleClock {
  #source: TimeSource;
  #offsetMs = 0;

  /** @param source where time comes from; defaults to `Date.now`. */
  constructor(source: TimeSource = Date.now) {
    this.#source = source;
  }

  /** Current time in epoch milliseconds. */
  now(): number {
    return this.#source() + this.#offsetMs;
  }

  /** Moves the clock forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  /** Makes {@linkcode DoubleClock.now} return `epochMs` at this instant; time keeps running. */
  set(epochMs: number): void {
    this.#offsetMs = epochMs - this.#source();
  }
}

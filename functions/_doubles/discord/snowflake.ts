/**
 * Snowflake ids shaped like Discord's: milliseconds since the Discord epoch in the top 42 bits,
 * then worker, process and a 12-bit increment.
 *
 * @see https://discord.com/developers/docs/reference#snowflakes
 * @module
 */

/** First second of 2015, the Discord epoch, in epoch milliseconds. */
export const DISCORD_EPOCH_MS = 1420070400000;

/** Makes unique, time-ordered snowflake strings from a clock. */
export class SnowflakeFactory {
  #now: () => number;
  #increment = 0n;

  /** @param now the clock the timestamps come from, in epoch milliseconds. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Returns a new snowflake as a decimal string. */
  next(): string {
    const ms = BigInt(Math.max(0, Math.floor(this.#now() - DISCORD_EPOCH_MS)));
    this.#increment = (this.#increment + 1n) & 0xfffn;
    return ((ms << 22n) | (1n << 17n) | (1n << 12n) | this.#increment).toString();
  }
}

/** Whether `value` is a decimal snowflake as Discord's OpenAPI `SnowflakeType` defines it. */
export function isSnowflake(value: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(value);
}

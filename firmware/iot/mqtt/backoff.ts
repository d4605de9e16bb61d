/**
 * Reconnect delays: exponential backoff with full jitter (delay uniform in
 * [0, min(cap, base * 2^attempt))), so a fleet that lost its broker together does not come
 * back together. The attempt counter goes back to zero only once a connection has stayed up
 * for `stableMs`, whatever the cause of the disconnection: a broker that accepts and then
 * drops every connection (bad credentials after CONNACK, a poison message, a crash loop)
 * still backs off.
 */

export interface ReconnectBackoffOptions {
  /** Ceiling of the first delay; default 1000 ms. */
  baseMs?: number;
  /** Largest ceiling; default 60 000 ms. */
  capMs?: number;
  /** Up time after which the next disconnection starts again from the first delay; default 60 000 ms. */
  stableMs?: number;
  /** Uniform random numbers in [0, 1) (the HAL's crypto random on a device; seeded in tests). */
  random: () => number;
}

export class ReconnectBackoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly stableMs: number;
  private readonly random: () => number;
  private failures = 0;
  private connectedAt: number | undefined;

  constructor(options: ReconnectBackoffOptions) {
    this.baseMs = options.baseMs ?? 1_000;
    this.capMs = options.capMs ?? 60_000;
    this.stableMs = options.stableMs ?? 60_000;
    this.random = options.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs) || !(this.stableMs >= 0)) {
      throw new RangeError('ReconnectBackoff needs 0 < baseMs <= capMs and stableMs >= 0');
    }
  }

  /** Attempts since the last stable connection. */
  get attempt(): number {
    return this.failures;
  }

  /** The connection is up (CONNACK accepted) at `nowMs`. */
  connected(nowMs: number): void {
    this.connectedAt = nowMs;
  }

  /**
   * A connection ended or an attempt failed at `nowMs`, for any reason. Returns how many ms
   * to wait before the next attempt.
   */
  disconnected(nowMs: number): number {
    if (this.connectedAt !== undefined && nowMs - this.connectedAt >= this.stableMs) this.failures = 0;
    this.connectedAt = undefined;
    // 2^30 * base already exceeds any sensible cap; stopping there avoids Infinity.
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const draw = this.random();
    const unit = draw >= 0 && draw < 1 ? draw : 0; // a faulty source must not produce negative or huge delays
    return Math.floor(unit * ceiling);
  }

  /** Starts over from the first delay (for example after the user changed the settings). */
  reset(): void {
    this.failures = 0;
    this.connectedAt = undefined;
  }
}

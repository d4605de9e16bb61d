/**
 * Download retry delays: exponential backoff with "equal jitter": the n-th retry waits
 * between half and all of min(cap, base * 2^(n-1)), so delays grow for every device while a
 * fleet that failed together spreads out instead of retrying in step.
 */
export interface RetryPolicy {
  /** Ceiling of the first delay; default 2 000 ms. */
  baseMs: number;
  /** Largest ceiling; default 300 000 ms. */
  capMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 2_000, capMs: 300_000 };

/** The delay before retry number `attempt` (1 for the first retry); `unit` is uniform in [0, 1). */
export function retryDelay(policy: RetryPolicy, attempt: number, unit: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  const draw = unit >= 0 && unit < 1 ? unit : 0;
  return Math.floor(ceiling / 2 + (draw * ceiling) / 2);
}

/** A uniform number in [0, 1) from 4 random bytes. */
export function unitFromBytes(bytes: Uint8Array): number {
  return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) / 2 ** 32;
}

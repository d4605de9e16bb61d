/** The bounds every encode and decode runs within (DESIGN.md §1: about 100 KB of free heap). */

export interface CborLimits {
  /** The largest encoded item, in bytes (default 8192). */
  maxBytes?: number;
  /** How many arrays and maps may nest (default 16; a top-level map is depth 1). */
  maxDepth?: number;
}

export const CBOR_DEFAULT_MAX_BYTES = 8192;
export const CBOR_DEFAULT_MAX_DEPTH = 16;

export function resolveLimits(limits: CborLimits | undefined): { maxBytes: number; maxDepth: number } {
  const maxBytes = limits?.maxBytes ?? CBOR_DEFAULT_MAX_BYTES;
  const maxDepth = limits?.maxDepth ?? CBOR_DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer (got ${maxBytes})`);
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > 1000) throw new RangeError(`maxDepth must be an integer from 0 to 1000 (got ${maxDepth})`);
  return { maxBytes, maxDepth };
}

/** What a chip model measures: a fixed value, or a function of virtual time in ms. */
export type Signal = number | ((nowMs: number) => number);

/** `signal` at `atMs`; a RangeError naming the model and the quantity when that is not a finite number. */
export function valueAt(signal: Signal, atMs: number, model: string, what: string): number {
  const value = typeof signal === 'number' ? signal : signal(atMs);
  if (!Number.isFinite(value)) throw new RangeError(`${model} model: ${what} at ${atMs} ms is ${value}`);
  return value;
}

/**
 * Seeded pseudo-random numbers for the chip models' noise, so that a simulation with the
 * same seed replays exactly (Math.random cannot be seeded). xorshift32 (Marsaglia, 2003):
 * tiny and good enough for sensor noise, not for anything cryptographic.
 */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    // xorshift has a fixed point at 0; any other 32-bit value is a valid state.
    this.#state = seed >>> 0 || 0x9e3779b9;
  }

  /** Uniform in (0, 1]: never 0, so it is safe under a logarithm. */
  uniform(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return (this.#state + 1) / 4294967296;
  }

  /** Measurement noise: `gaussian(sigma)`, or 0 without drawing a number when `sigma` is 0 (noise off). */
  noise(sigma: number): number {
    return sigma > 0 ? this.gaussian(sigma) : 0;
  }

  /** Normally distributed with mean 0 and standard deviation `sigma` (Box–Muller). */
  gaussian(sigma: number): number {
    const radius = Math.sqrt(-2 * Math.log(this.uniform()));
    return sigma * radius * Math.cos(2 * Math.PI * this.uniform());
  }
}

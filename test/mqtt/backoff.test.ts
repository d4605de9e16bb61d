import fc from 'fast-check';
import { ReconnectBackoff } from '../../firmware/iot/mqtt/backoff';

const ALMOST_ONE = 1 - Number.EPSILON;

describe('ReconnectBackoff', () => {
  test('ceilings double from the base up to the cap', () => {
    const backoff = new ReconnectBackoff({ baseMs: 1_000, capMs: 30_000, random: () => ALMOST_ONE });
    const delays = Array.from({ length: 8 }, (_, i) => backoff.disconnected(i));
    expect(delays).toEqual([999, 1_999, 3_999, 7_999, 15_999, 29_999, 29_999, 29_999]);
    expect(backoff.attempt).toBe(8);
  });

  test('full jitter: the delay is random * ceiling', () => {
    const draws = [0, 0.5, 0.25];
    const backoff = new ReconnectBackoff({ baseMs: 1_000, random: () => draws.shift() as number });
    expect([backoff.disconnected(0), backoff.disconnected(0), backoff.disconnected(0)]).toEqual([0, 1_000, 1_000]);
  });

  test('defaults: base 1 s, cap 60 s, stable after 60 s', () => {
    const backoff = new ReconnectBackoff({ random: () => ALMOST_ONE });
    for (let i = 0; i < 20; i++) backoff.disconnected(0);
    expect(backoff.disconnected(0)).toBe(59_999);
    backoff.connected(0);
    expect(backoff.disconnected(59_999)).toBe(59_999);
    backoff.connected(100_000);
    expect(backoff.disconnected(160_000)).toBe(999);
  });

  test('the counter resets only after the connection stayed up for the stable period', () => {
    const backoff = new ReconnectBackoff({ baseMs: 100, capMs: 100_000, stableMs: 60_000, random: () => ALMOST_ONE });
    backoff.disconnected(0); // a failed attempt
    backoff.disconnected(0);
    expect(backoff.attempt).toBe(2);
    // Up briefly and dropped (refused after CONNACK, crash loop...): still backing off.
    backoff.connected(1_000);
    expect(backoff.disconnected(60_999)).toBe(399);
    expect(backoff.attempt).toBe(3);
    // Up for the stable period: start over.
    backoff.connected(70_000);
    expect(backoff.disconnected(130_000)).toBe(99);
    expect(backoff.attempt).toBe(1);
  });

  test('a connection that never came up does not count as stable', () => {
    const backoff = new ReconnectBackoff({ baseMs: 100, stableMs: 10, random: () => ALMOST_ONE });
    backoff.disconnected(0);
    expect(backoff.disconnected(1_000_000)).toBe(199);
  });

  test('reset() starts over', () => {
    const backoff = new ReconnectBackoff({ baseMs: 100, random: () => ALMOST_ONE });
    backoff.disconnected(0);
    backoff.disconnected(0);
    backoff.reset();
    expect(backoff.disconnected(0)).toBe(99);
  });

  test.each([1, -0.5, Number.NaN, 7])('a faulty random source (%d) cannot produce a bad delay', (draw) => {
    const backoff = new ReconnectBackoff({ random: () => draw });
    expect(backoff.disconnected(0)).toBe(0);
  });

  test('delays always lie in [0, min(cap, base * 2^attempt))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseMs, extraCap, attempts, draw) => {
          const capMs = baseMs + extraCap;
          const backoff = new ReconnectBackoff({ baseMs, capMs, random: () => draw });
          for (let i = 0; i < attempts; i++) backoff.disconnected(0);
          const delay = backoff.disconnected(0);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(Math.min(capMs, baseMs * 2 ** Math.min(attempts, 60)));
        },
      ),
    );
  });

  test.each([
    { baseMs: 0 },
    { baseMs: 100, capMs: 50 },
    { stableMs: -1 },
  ])('refuses %j', (options) => {
    expect(() => new ReconnectBackoff({ random: Math.random, ...options })).toThrow(RangeError);
  });
});

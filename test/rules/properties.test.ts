/**
 * Property tests of the rules engine with noisy signals: hysteresis keeps alerts from
 * chattering, alerts follow their definition for any signal, and the deadband bounds what
 * the cloud has not been told.
 */
import fc from 'fast-check';
import { RulesEngine, validateRulesConfig, type Alert } from '../../firmware/app/rules';

const STEP = 10_000;

function makeEngine(rule: { high?: number; low?: number; hysteresis: number }, samples = 1, reporting?: object): RulesEngine {
  const result = validateRulesConfig({
    telemetryInterval: STEP,
    thresholds: { 'sht31.temperature': rule },
    averaging: { 'sht31.temperature': { samples } },
    ...(reporting ? { reporting: { 'sht31.temperature': reporting } } : {}),
  });
  expect(result.errors).toEqual([]);
  return new RulesEngine({ sensors: ['sht31'], config: result.config, nowMs: 0 });
}

function feed(engine: RulesEngine, values: readonly number[]): Alert[] {
  return values.flatMap((temperature, i) => engine.addReading('sht31', { temperature }, i * STEP).alerts);
}

const threshold = fc.double({ min: -50, max: 50, noNaN: true });
const hysteresis = fc.double({ min: 0.05, max: 5, noNaN: true });
/** Noise as a fraction of the hysteresis, strictly within ±0.49 of it. */
const noise = fc.array(fc.double({ min: -0.49, max: 0.49, noNaN: true }), { minLength: 1, maxLength: 200 });
const windowSize = fc.integer({ min: 1, max: 8 });

describe('hysteresis: no chatter when noise sits around a threshold', () => {
  test('a steady signal anywhere near `high`, with noise under half the hysteresis: at most one alert, a raise', () => {
    fc.assert(
      fc.property(threshold, hysteresis, fc.double({ min: -3, max: 3, noNaN: true }), noise, windowSize, (high, h, offset, n, samples) => {
        const base = high + offset * h; // from 3 hystereses below to 3 above, and right on it
        const alerts = feed(makeEngine({ high, hysteresis: h }, samples), n.map((x) => base + x * h));
        expect(alerts.length).toBeLessThanOrEqual(1);
        if (alerts.length === 1) expect(alerts[0]).toMatchObject({ kind: 'high', state: 'raised' });
      }),
      { numRuns: 300 },
    );
  });

  test('the same at `low`', () => {
    fc.assert(
      fc.property(threshold, hysteresis, fc.double({ min: -3, max: 3, noNaN: true }), noise, windowSize, (low, h, offset, n, samples) => {
        const base = low + offset * h;
        const alerts = feed(makeEngine({ low, hysteresis: h }, samples), n.map((x) => base + x * h));
        expect(alerts.length).toBeLessThanOrEqual(1);
        if (alerts.length === 1) expect(alerts[0]).toMatchObject({ kind: 'low', state: 'raised' });
      }),
      { numRuns: 300 },
    );
  });

  test('a noisy ramp through `high` and back: exactly one raise, then one clear', () => {
    fc.assert(
      fc.property(threshold, hysteresis, fc.integer({ min: 2, max: 60 }), noise, (high, h, steps, n) => {
        // Up from high - 3h to high + 3h, then back down.
        const up = Array.from({ length: steps + 1 }, (_, i) => high - 3 * h + (6 * h * i) / steps);
        const ramp = [...up, ...up.slice(0, -1).reverse()];
        const values = ramp.map((base, i) => base + n[i % n.length]! * h);
        const alerts = feed(makeEngine({ high, hysteresis: h }), values);
        expect(alerts.map((a) => a.state)).toEqual(['raised', 'cleared']);
      }),
      { numRuns: 300 },
    );
  });

  test('without hysteresis the same noise does chatter (which is why it is there)', () => {
    const noisy = Array.from({ length: 20 }, (_, i) => 30 + (i % 2 === 0 ? 0.1 : -0.1));
    expect(feed(makeEngine({ high: 30, hysteresis: 0 }), noisy).length).toBe(20);
    expect(feed(makeEngine({ high: 30, hysteresis: 0.5 }), noisy).length).toBe(1);
  });
});

describe('alerts follow their definition, for any signal', () => {
  test('per kind, raised and cleared alternate, starting with raised; each crossed its level', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -20, max: 20, noNaN: true }),
        fc.double({ min: 1, max: 20, noNaN: true }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.array(fc.double({ min: -60, max: 60, noNaN: true }), { maxLength: 100 }),
        windowSize,
        (low, gap, fraction, values, samples) => {
          const high = low + gap;
          const h = gap * fraction;
          const alerts = feed(makeEngine({ high, low, hysteresis: h }, samples), values);
          for (const kind of ['high', 'low'] as const) {
            const mine = alerts.filter((a) => a.kind === kind);
            mine.forEach((alert, i) => expect(alert.state).toBe(i % 2 === 0 ? 'raised' : 'cleared'));
            for (const alert of mine) {
              if (kind === 'high') expect(alert.state === 'raised' ? alert.value > high : alert.value < high - h).toBe(true);
              else expect(alert.state === 'raised' ? alert.value < low : alert.value > low + h).toBe(true);
              expect(alert.threshold).toBe(kind === 'high' ? high : low);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('deadband', () => {
  test('after every reading the averaged value is within the deadband of the last report, and each report moved by more', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 100 }),
        windowSize,
        (deadband, values, samples) => {
          const engine = makeEngine({ high: 1000, hysteresis: 0 }, samples, { deadband });
          let lastReported: number | undefined;
          const window: number[] = [];
          values.forEach((temperature, i) => {
            window.push(temperature);
            if (window.length > samples) window.shift();
            const mean = window.reduce((a, b) => a + b, 0) / window.length;
            const report = engine.addReading('sht31', { temperature }, i * STEP).report?.sht31?.temperature;
            if (report !== undefined) {
              if (lastReported !== undefined) expect(Math.abs(report - lastReported)).toBeGreaterThan(deadband);
              lastReported = report;
            }
            expect(Math.abs(mean - lastReported!)).toBeLessThanOrEqual(deadband + 1e-9);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('noise below the deadband around a steady value sends one report only', () => {
    fc.assert(
      fc.property(fc.double({ min: -40, max: 40, noNaN: true }), fc.double({ min: 0.1, max: 5, noNaN: true }), noise, (base, deadband, n) => {
        const engine = makeEngine({ high: 1000, hysteresis: 0 }, 1, { deadband });
        const reports = n.filter((x, i) => engine.addReading('sht31', { temperature: base + x * deadband }, i * STEP).report !== undefined);
        expect(reports).toHaveLength(1);
      }),
      { numRuns: 200 },
    );
  });
});

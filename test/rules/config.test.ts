import fc from 'fast-check';
import {
  MAX_ERRORS,
  MAX_RULE_KEYS,
  MAX_SENSORS,
  applyDesiredProperties,
  defaultRulesConfig,
  rulesConfigProblems,
  validateRulesConfig,
  type RulesConfig,
} from '../../firmware/app/rules';

const SENSORS = ['sht31', 'bme280@0x77'];

/** The example from docs: every rules property. */
const EXAMPLE = {
  $version: 7,
  telemetryInterval: 30000,
  sampling: { sht31: 10000 },
  averaging: { 'sht31.temperature': { samples: 6 }, 'sht31.humidity': { ms: 60000 } },
  reporting: { 'sht31.temperature': { deadband: 0.2, maxSilenceMs: 900000 }, 'sht31.humidity': { deadband: 1 } },
  thresholds: { 'sht31.temperature': { high: 30, low: 5, hysteresis: 0.5 }, 'sht31.humidity': { high: 80 } },
};

describe('defaults', () => {
  test('sample every telemetryInterval, report every sample, no alerts', () => {
    expect(defaultRulesConfig()).toEqual({ telemetryInterval: 60000, sampling: {}, averaging: {}, reporting: {}, thresholds: {} });
    expect(defaultRulesConfig(5000).telemetryInterval).toBe(5000);
    expect(rulesConfigProblems(defaultRulesConfig())).toEqual([]);
  });
});

describe('a valid desired document', () => {
  test('validates into the configuration, with one ac 200 per property, av = $version', () => {
    const result = validateRulesConfig(EXAMPLE, { sensors: SENSORS });
    expect(result.errors).toEqual([]);
    expect(result.config).toEqual({
      telemetryInterval: 30000,
      sampling: { sht31: 10000 },
      averaging: { 'sht31.temperature': { samples: 6 }, 'sht31.humidity': { ms: 60000 } },
      reporting: { 'sht31.temperature': { deadband: 0.2, maxSilenceMs: 900000 }, 'sht31.humidity': { deadband: 1 } },
      thresholds: { 'sht31.temperature': { high: 30, low: 5, hysteresis: 0.5 }, 'sht31.humidity': { high: 80, hysteresis: 0 } },
    });
    expect(Object.keys(result.acks)).toEqual(['telemetryInterval', 'sampling', 'averaging', 'reporting', 'thresholds']);
    expect(result.acks.thresholds).toEqual({ value: EXAMPLE.thresholds, ac: 200, av: 7, ad: 'applied' });
    expect(result.acks.telemetryInterval).toEqual({ value: 30000, ac: 200, av: 7, ad: 'applied' });
    expect(rulesConfigProblems(result.config, SENSORS)).toEqual([]);
  });

  test('desired properties that are not the rules are left alone, and get no ack from them', () => {
    const result = applyDesiredProperties(defaultRulesConfig(), { $version: 3, firmware: { url: 'x' }, thresholds: { 'sht31.temperature': { high: 30 } } });
    expect(Object.keys(result.acks)).toEqual(['thresholds']);
    expect(result.errors).toEqual([]);
  });

  test('reporting needs only one of deadband and maxSilenceMs; deadband defaults to 0', () => {
    const result = validateRulesConfig({ reporting: { 'sht31.temperature': { maxSilenceMs: 60000 }, 'sht31.humidity': { deadband: 2 } } });
    expect(result.config.reporting).toEqual({ 'sht31.temperature': { deadband: 0, maxSilenceMs: 60000 }, 'sht31.humidity': { deadband: 2 } });
  });
});

describe('invalid entries: a clear message each, the valid ones apply', () => {
  const current: RulesConfig = { ...defaultRulesConfig(), thresholds: { 'sht31.humidity': { high: 90, hysteresis: 1 } } };

  test('the example of a PnP ack: ac 400 naming the entry, what was wrong and what is expected', () => {
    const result = applyDesiredProperties(
      current,
      {
        $version: 12,
        thresholds: {
          'sht31.temperature': { high: 30, low: 5, hysteresis: -0.5 },
          'sht31.humidity': { high: 80, hysteresis: 2 },
        },
      },
      { sensors: SENSORS },
    );
    expect(result.errors).toEqual([
      {
        property: 'thresholds',
        entry: 'sht31.temperature',
        message: `thresholds["sht31.temperature"].hysteresis is -0.5; expected a number of at least 0 (in the quantity's unit)`,
      },
    ]);
    // The valid entry applies at once; the refused one keeps its previous value (here: none).
    expect(result.config.thresholds).toEqual({ 'sht31.humidity': { high: 80, hysteresis: 2 } });
    expect(result.acks.thresholds).toEqual({
      value: {
        'sht31.temperature': { high: 30, low: 5, hysteresis: -0.5 },
        'sht31.humidity': { high: 80, hysteresis: 2 },
      },
      ac: 400,
      av: 12,
      ad: `thresholds["sht31.temperature"].hysteresis is -0.5; expected a number of at least 0 (in the quantity's unit); the other entries are applied`,
    });
  });

  test('a refused entry keeps its previous value', () => {
    const result = applyDesiredProperties(current, { thresholds: { 'sht31.humidity': { high: 'ninety' } } });
    expect(result.config.thresholds).toEqual(current.thresholds);
    expect(result.acks.thresholds).toMatchObject({ ac: 400, ad: 'thresholds["sht31.humidity"].high is the string "ninety"; expected a number' });
  });

  test.each([
    [{ telemetryInterval: 500 }, 'telemetryInterval is 500; expected a whole number of ms from 1000 to 86400000, or null for the default (60000)'],
    [{ telemetryInterval: '60s' }, 'telemetryInterval is the string "60s"; expected a whole number of ms from 1000 to 86400000, or null for the default (60000)'],
    [{ sampling: { sht31: 1.5 } }, 'sampling["sht31"] is 1.5; expected a whole number of ms from 1000 to 86400000, or null to remove it'],
    [{ sampling: { scd41: 5000 } }, 'sampling["scd41"] names the sensor "scd41", which this device does not have (it has "sht31", "bme280@0x77")'],
    [{ sampling: [5000] }, 'sampling is an array of 1; expected an object mapping sensor names to a whole number of ms from 1000 to 86400000, or null to remove them all'],
    [{ averaging: { 'sht31.temperature': { samples: 100 } } }, 'averaging["sht31.temperature"].samples is 100; expected a whole number from 1 to 32'],
    [{ averaging: { 'sht31.temperature': { samples: 4, ms: 1000 } } }, 'averaging["sht31.temperature"] has both "samples" and "ms"; expected one of them'],
    [{ averaging: { 'sht31.temperature': { ms: 7200000 } } }, 'averaging["sht31.temperature"].ms is 7200000; expected a whole number of ms from 1000 to 3600000'],
    [
      { averaging: { 'sht31.temperature': {} } },
      'averaging["sht31.temperature"] has neither "samples" nor "ms"; expected { "samples": N } (N a whole number from 1 to 32) or { "ms": T } (T a whole number of ms from 1000 to 3600000)',
    ],
    [
      { averaging: { 'sht31.temperature': 5 } },
      'averaging["sht31.temperature"] is 5; expected { "samples": N } (N a whole number from 1 to 32) or { "ms": T } (T a whole number of ms from 1000 to 3600000), or null to remove it',
    ],
    [{ reporting: { 'sht31.temperature': { deadband: -1 } } }, `reporting["sht31.temperature"].deadband is -1; expected a number of at least 0 (in the quantity's unit)`],
    [{ reporting: { 'sht31.temperature': { deadband: 1, maxSilenceMs: 10 } } }, 'reporting["sht31.temperature"].maxSilenceMs is 10; expected a whole number of ms from 1000 to 86400000'],
    [{ reporting: { 'sht31.temperature': { deadband: 1, every: 5 } } }, 'reporting["sht31.temperature"] has the unknown field "every"; expected only "deadband", "maxSilenceMs"'],
    [
      { thresholds: { 'sht31.temperature': { hysteresis: 1 } } },
      'thresholds["sht31.temperature"] has neither "high" nor "low"; expected { "high": H, "low": L, "hysteresis": Y } (numbers; at least one of high and low; hysteresis at least 0, default 0)',
    ],
    [{ thresholds: { 'sht31.temperature': { high: 5, low: 30 } } }, 'thresholds["sht31.temperature"] has low 30 and high 5; expected low below high'],
    [
      { thresholds: { 'sht31.temperature': { high: 30, low: 28, hysteresis: 2 } } },
      'thresholds["sht31.temperature"] has hysteresis 2, as wide as the 2 between low and high or wider; expected a hysteresis below 2',
    ],
    [{ thresholds: { 'sht31.temperature': { hi: 30 } } }, 'thresholds["sht31.temperature"] has the unknown field "hi"; expected only "high", "low", "hysteresis"'],
    [
      { thresholds: { temperature: { high: 30 } } },
      'thresholds["temperature"]: the key is not a "sensor.quantity" key; expected one such as "sht31.temperature" (at most 64 characters)',
    ],
    [
      { thresholds: { 'bme680.gas': { high: 30 } } },
      'thresholds["bme680.gas"]: the key names the sensor "bme680", which this device does not have (it has "sht31", "bme280@0x77")',
    ],
  ])('%j', (desired, message) => {
    const result = applyDesiredProperties(defaultRulesConfig(), desired, { sensors: SENSORS });
    expect(result.errors.map((e) => e.message)).toEqual([message]);
    const property = Object.keys(desired)[0]!;
    expect(result.acks[property]).toMatchObject({ ac: 400, ad: message });
    expect(result.config).toEqual(defaultRulesConfig());
  });

  test('a document that is not an object', () => {
    const result = applyDesiredProperties(current, 'thresholds');
    expect(result.errors).toEqual([{ message: 'the desired properties are the string "thresholds"; expected an object' }]);
    expect(result.config).toBe(current);
    expect(result.acks).toEqual({});
  });

  test('errors are bounded: MAX_ERRORS listed, the rest counted; an ack lists three and counts the rest', () => {
    const thresholds = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`sht31.q${i}`, { high: 'x' }]));
    const result = applyDesiredProperties(defaultRulesConfig(), { thresholds });
    expect(result.errors).toHaveLength(MAX_ERRORS);
    expect(result.omittedErrors).toBe(40 - MAX_ERRORS);
    expect(result.acks.thresholds!.ad).toMatch(/^thresholds\["sht31.q0"\]\.high .*; thresholds\["sht31.q2"\]\.high is the string "x"; expected a number; and 37 more$/);
  });

  test('long keys and strings are shortened in messages', () => {
    const key = `sht31.${'t'.repeat(500)}`;
    const result = applyDesiredProperties(defaultRulesConfig(), { thresholds: { [key]: { high: 'y'.repeat(500) } } });
    expect(result.errors[0]!.message.length).toBeLessThan(250);
  });
});

describe('null removes; patches change only what they name', () => {
  const current = validateRulesConfig(EXAMPLE).config;

  test('an entry set to null is removed, the others stay', () => {
    const result = applyDesiredProperties(current, { thresholds: { 'sht31.humidity': null } });
    expect(result.errors).toEqual([]);
    expect(result.config.thresholds).toEqual({ 'sht31.temperature': { high: 30, low: 5, hysteresis: 0.5 } });
    expect(result.config.averaging).toEqual(current.averaging);
    expect(result.acks.thresholds).toMatchObject({ ac: 200 });
  });

  test('a property set to null is emptied; telemetryInterval null goes back to the default', () => {
    const result = applyDesiredProperties(current, { averaging: null, telemetryInterval: null }, { defaultTelemetryInterval: 15000 });
    expect(result.config.averaging).toEqual({});
    expect(result.config.telemetryInterval).toBe(15000);
    expect(result.config.thresholds).toEqual(current.thresholds);
  });

  test('a complete document replaces: what it lacks goes back to the default, refused entries keep their value', () => {
    const result = applyDesiredProperties(current, { thresholds: { 'sht31.temperature': { high: 'hot' } } }, { complete: true });
    expect(result.config).toEqual({
      ...defaultRulesConfig(),
      thresholds: { 'sht31.temperature': current.thresholds['sht31.temperature'] },
    });
    expect(Object.keys(result.acks)).toEqual(['thresholds']);
  });

  test('the input is never modified', () => {
    const frozen = JSON.parse(JSON.stringify(current)) as RulesConfig;
    applyDesiredProperties(frozen, { thresholds: { 'sht31.humidity': null }, sampling: { sht31: null } });
    expect(frozen).toEqual(current);
  });
});

describe('limits', () => {
  const keys = (n: number, prefix = 'q') => Array.from({ length: n }, (_, i) => `sht31.${prefix}${i}`);

  test(`at most ${MAX_RULE_KEYS} quantities with rules, across averaging, reporting and thresholds`, () => {
    const averaging = Object.fromEntries(keys(10).map((k) => [k, { samples: 2 }]));
    const thresholds = Object.fromEntries(keys(8, 'r').map((k) => [k, { high: 1 }]));
    const result = applyDesiredProperties(defaultRulesConfig(), { averaging, thresholds });
    expect(Object.keys(result.config.averaging)).toHaveLength(10);
    expect(Object.keys(result.config.thresholds)).toEqual(keys(6, 'r'));
    expect(result.errors.map((e) => e.entry)).toEqual(['sht31.r6', 'sht31.r7']);
    expect(result.errors[0]!.message).toBe(
      'thresholds["sht31.r6"] is one quantity too many: the device keeps rules for at most 16 "sensor.quantity" keys across averaging, reporting and thresholds; remove one first (set it to null)',
    );
    // A rule for a quantity that already has one costs nothing more.
    const more = applyDesiredProperties(result.config, { reporting: { 'sht31.q0': { deadband: 1 } } });
    expect(more.errors).toEqual([]);
  });

  test('a patch can swap a quantity for another at the limit: removals count first', () => {
    const full = applyDesiredProperties(defaultRulesConfig(), { thresholds: Object.fromEntries(keys(MAX_RULE_KEYS).map((k) => [k, { high: 1 }])) }).config;
    const swapped = applyDesiredProperties(full, { thresholds: { 'sht31.new': { low: 0 }, 'sht31.q0': null } });
    expect(swapped.errors).toEqual([]);
    expect(Object.keys(swapped.config.thresholds)).toHaveLength(MAX_RULE_KEYS);
    expect(swapped.config.thresholds['sht31.new']).toEqual({ low: 0, hysteresis: 0 });
  });

  test(`at most ${MAX_SENSORS} sampling entries`, () => {
    const sampling = Object.fromEntries(Array.from({ length: MAX_SENSORS + 1 }, (_, i) => [`s${i}`, 1000]));
    const result = applyDesiredProperties(defaultRulesConfig(), { sampling });
    expect(Object.keys(result.config.sampling)).toHaveLength(MAX_SENSORS);
    expect(result.errors[0]!.message).toBe(`sampling["s8"] is one sensor too many: the device schedules at most 8; remove one first (set it to null)`);
  });
});

describe('rulesConfigProblems (configurations built in code)', () => {
  test('lists what is wrong', () => {
    const bad = { ...defaultRulesConfig(), telemetryInterval: 10, thresholds: { 'sht31.temperature': { high: 1, low: 2, hysteresis: 0 } } };
    expect(rulesConfigProblems(bad)).toEqual([
      'telemetryInterval is 10; expected a whole number of ms from 1000 to 86400000, or null for the default (60000)',
      'thresholds["sht31.temperature"] has low 2 and high 1; expected low below high',
    ]);
    expect(rulesConfigProblems({ telemetryInterval: 1000 } as RulesConfig)).toEqual([
      'sampling is missing',
      'averaging is missing',
      'reporting is missing',
      'thresholds is missing',
    ]);
  });
});

describe('fuzz: any JSON', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer({ min: -10, max: 100000 }),
      fc.string({ maxLength: 8 }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('high', 'low', 'hysteresis', 'samples', 'ms', 'deadband', 'maxSilenceMs', 'x'), tie('value'), { maxKeys: 4 }),
    ),
  })).value;
  const table = fc.oneof(
    fc.constant(null),
    json,
    fc.dictionary(fc.constantFrom('sht31.temperature', 'sht31.humidity', 'bme280@0x77.pressure', 'nope', 'x.1', 'sht31'), json, { maxKeys: 4 }),
  );
  const desired = fc.record(
    { telemetryInterval: json, sampling: table, averaging: table, reporting: table, thresholds: table, $version: fc.integer() },
    { requiredKeys: [] },
  );

  test('never throws; the result always passes validation; every property present is acknowledged', () => {
    fc.assert(
      fc.property(desired, fc.boolean(), (doc, complete) => {
        const result = applyDesiredProperties(validateRulesConfig(EXAMPLE).config, doc, { complete, sensors: SENSORS });
        expect(rulesConfigProblems(result.config, SENSORS)).toEqual([]);
        for (const property of ['telemetryInterval', 'sampling', 'averaging', 'reporting', 'thresholds']) {
          expect(property in result.acks).toBe(property in doc && (doc as Record<string, unknown>)[property] !== undefined);
        }
        for (const ack of Object.values(result.acks)) expect(ack.ac === 200).toBe(ack.ad === 'applied');
      }),
      { numRuns: 500 },
    );
  });
});

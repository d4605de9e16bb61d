import { defaultRulesConfig, validateRulesConfig } from '../../firmware/app/rules';
import { desiredToRules, rulesToTwin } from '../../firmware/app/twin-rules';

describe('rules tables in the twin (IoT Hub forbids "." in property names)', () => {
  test('nested tables flatten to the core dotted keys; other properties pass through', () => {
    const desired = { telemetryInterval: 5000, thresholds: { sht31: { temperature: { high: 30 }, humidity: { low: 20 } } }, averaging: { bme280: { pressure: { samples: 4 } } } };
    expect(desiredToRules(desired, defaultRulesConfig())).toEqual({
      telemetryInterval: 5000,
      thresholds: { 'sht31.temperature': { high: 30 }, 'sht31.humidity': { low: 20 } },
      averaging: { 'bme280.pressure': { samples: 4 } },
    });
  });

  test('a whole sensor set to null removes each of its entries', () => {
    const current = validateRulesConfig({ thresholds: { 'sht31.temperature': { high: 30 }, 'sht31.humidity': { low: 20 }, 'bme280.pressure': { high: 105000 } } }).config;
    expect(desiredToRules({ thresholds: { sht31: null } }, current)).toEqual({ thresholds: { 'sht31.temperature': null, 'sht31.humidity': null } });
  });

  test('a rule given without the sensor level is passed on for the core to refuse with its reason', () => {
    expect(desiredToRules({ thresholds: { sht31: { high: 30 } } }, defaultRulesConfig())).toEqual({ thresholds: { sht31: { high: 30 } } });
  });

  test('acknowledged values nest back; other properties are unchanged', () => {
    expect(rulesToTwin('thresholds', { 'sht31.temperature': { high: 30 }, 'sht31.humidity': { low: 20 } })).toEqual({ sht31: { temperature: { high: 30 }, humidity: { low: 20 } } });
    expect(rulesToTwin('telemetryInterval', 5000)).toBe(5000);
  });
});

/**
 * On-device rules, as a sans-I/O core: sampling schedule, averaging windows, report-on-change
 * with a deadband and max-silence, threshold alerts with hysteresis, and their configuration
 * from the twin's desired properties. See README.md.
 */
export {
  DEFAULT_TELEMETRY_INTERVAL_MS,
  InvalidRulesConfig,
  RULES_PROPERTIES,
  applyDesiredProperties,
  defaultRulesConfig,
  describeValue,
  ruleKeys,
  rulesConfigProblems,
  splitRuleKey,
  validateRulesConfig,
  type ApplyOptions,
  type DesiredPropertiesResult,
  type ReportingRule,
  type RuleTable,
  type RulesConfig,
  type RulesConfigError,
  type RulesProperty,
  type ThresholdRule,
  type WritablePropertyAck,
} from './config';
export { RulesEngine, type Alert, type Reading, type Report, type RulesEngineOptions, type RulesOutput, type SampleDue } from './engine';
export * from './limits';
export { AveragingWindow, sameWindow, type WindowSpec } from './window';

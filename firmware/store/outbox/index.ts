/** The persistent outbox for store-and-forward (DESIGN.md §8): see README.md. */
export {
  Outbox,
  OutboxError,
  OutboxFullError,
  MAX_READ,
  type AppendResult,
  type OutboxOptions,
  type OutboxPartition,
  type OutboxRecord,
  type OutboxRecovery,
  type OutboxStats,
  type OverflowPolicy,
  type RecordTime,
} from './outbox';
export { DrainPlanner, MAX_WINDOW, messageId, type DrainPlan, type DrainPlannerOptions, type DrainSource, type DrainWait, type PlannedPublish } from './drain';
export { maxPayloadLength, MAX_SECTORS, MAX_TIME_FIXES, type TimeFix } from './format';

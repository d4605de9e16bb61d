/**
 * The hub's persistent state in one SQLite file (WAL): the device registry, twins, pending
 * cloud-to-device messages, the method-call log, DPS enrollments and registrations, and recent telemetry.
 */
import { openDatabase, SCHEMA_VERSION, StoreError, type Db } from './database';
import { C2dStore } from './c2d';
import { EnrollmentStore } from './enrollments';
import { MethodLog } from './methods';
import { OtaStore } from './ota';
import { DeviceRegistry } from './registry';
import { TelemetryStore } from './telemetry';
import { TwinStore } from './twins';

export { SCHEMA_VERSION, StoreError };
export type { C2dAck, C2dMessage, C2dState, FeedbackStatus, NewC2dMessage } from './c2d';
export type { Attestation, Enrollment, EnrollmentGroup, InitialTwin, Registration } from './enrollments';
export type { MethodCall, MethodOutcome } from './methods';
export type { Campaign, CampaignDevice, CampaignDeviceState, CampaignState, NewCampaign, OtaImage } from './ota';
export type { AuthenticationType, Device, DeviceAuthentication, DeviceStatus, NewDevice } from './registry';
export type { IngestResult, TelemetryHour, TelemetryMessage, TelemetryStats } from './telemetry';
export { DEFAULT_MESSAGE_ID_WINDOW } from './telemetry';
export type { Twin, TwinUpdate, TwinUpdateResult } from './twins';
export { C2dStore, EnrollmentStore };

export interface HubStoreOptions {
  /** The SQLite file (created if missing), or ':memory:'. */
  file: string;
  /** Telemetry messages kept per device (default 1000). */
  telemetryPerDevice?: number;
  /** Message ids remembered per device for de-duplication: at most `maxIds` (default 10 000), none older than `maxAgeMs` (default 24 h). */
  messageIdWindow?: { maxIds?: number; maxAgeMs?: number };
  /** The clock, ms since 1970 (tests inject one). */
  now?: () => number;
}

export class HubStore {
  readonly devices: DeviceRegistry;
  readonly twins: TwinStore;
  readonly c2d: C2dStore;
  readonly methods: MethodLog;
  readonly enrollments: EnrollmentStore;
  readonly telemetry: TelemetryStore;
  readonly ota: OtaStore;
  private closed = false;

  private constructor(
    readonly db: Db,
    readonly file: string,
    now: () => number,
    telemetryPerDevice: number,
    messageIdWindow: { maxIds?: number; maxAgeMs?: number },
  ) {
    this.twins = new TwinStore(db, now);
    this.devices = new DeviceRegistry(db, now, (deviceId, at) => this.twins.create(deviceId, at));
    this.c2d = new C2dStore(db, now);
    this.methods = new MethodLog(db, now);
    this.enrollments = new EnrollmentStore(db, now);
    this.telemetry = new TelemetryStore(db, now, telemetryPerDevice, messageIdWindow);
    this.ota = new OtaStore(db, now);
  }

  static open(options: HubStoreOptions): HubStore {
    const perDevice = options.telemetryPerDevice ?? 1000;
    if (!Number.isInteger(perDevice) || perDevice < 1) throw new StoreError(`telemetryPerDevice must be a whole number of at least 1 (got ${perDevice})`);
    const window = { ...options.messageIdWindow };
    for (const [name, value] of Object.entries(window)) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new StoreError(`messageIdWindow.${name} must be a whole number of at least 1 (got ${value})`);
    }
    return new HubStore(openDatabase(options.file), options.file, options.now ?? Date.now, perDevice, window);
  }

  /** Runs `fn` in one transaction (all or nothing). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Device twins in SQLite: tags, desired and reported sections with their `$version`s and `$metadata`. */
import { badRequest, deviceNotFound, ErrorCodes, HubError } from '../errors';
import {
  applySectionPatch,
  applyTagsPatch,
  desiredPatchExchange,
  isJsonObject,
  newSection,
  reportedPatchExchange,
  validatePatch,
  type JsonObject,
  type Metadata,
  type OutgoingMessage,
  type TwinSection,
} from '../twin';
import type { Db } from './database';

export interface Twin {
  deviceId: string;
  /** Bumped by every change to tags, desired or reported. */
  version: number;
  etag: string;
  tags: JsonObject;
  desired: TwinSection;
  reported: TwinSection;
}

interface Row {
  device_id: string;
  version: number;
  tags: string;
  desired: string;
  desired_metadata: string;
  desired_version: number;
  reported: string;
  reported_metadata: string;
  reported_version: number;
}

function fromRow(row: Row): Twin {
  return {
    deviceId: row.device_id,
    version: row.version,
    etag: Buffer.from(String(row.version)).toString('base64'),
    tags: JSON.parse(row.tags),
    desired: { properties: JSON.parse(row.desired), metadata: JSON.parse(row.desired_metadata) as Metadata, version: row.desired_version },
    reported: { properties: JSON.parse(row.reported), metadata: JSON.parse(row.reported_metadata) as Metadata, version: row.reported_version },
  };
}

/** What the service may change in one twin update (the body of PATCH /twins/{id}). */
export interface TwinUpdate {
  tags?: JsonObject;
  properties?: { desired?: JsonObject };
}

export interface TwinUpdateResult {
  twin: Twin;
  /** The notification for the connected device, when desired properties changed. */
  desiredNotification?: OutgoingMessage;
}

export class TwinStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  /** Creates the empty twin of a new device (called in the registry's transaction). */
  create(deviceId: string, at: number): void {
    const stamp = new Date(at);
    const desired = newSection(stamp, true);
    const reported = newSection(stamp);
    this.db
      .prepare(
        `INSERT INTO twins (device_id, version, tags, desired, desired_metadata, desired_version, reported, reported_metadata, reported_version)
         VALUES (?, 1, '{}', '{}', ?, 1, '{}', ?, 1)`,
      )
      .run(deviceId, JSON.stringify(desired.metadata), JSON.stringify(reported.metadata));
  }

  get(deviceId: string): Twin | undefined {
    const row = this.db.prepare('SELECT * FROM twins WHERE device_id = ?').get(deviceId) as Row | undefined;
    return row && fromRow(row);
  }

  require(deviceId: string): Twin {
    const twin = this.get(deviceId);
    if (!twin) throw deviceNotFound(deviceId);
    return twin;
  }

  private write(twin: Twin): void {
    this.db
      .prepare(
        `UPDATE twins SET version = ?, tags = ?, desired = ?, desired_metadata = ?, desired_version = ?, reported = ?, reported_metadata = ?, reported_version = ?
         WHERE device_id = ?`,
      )
      .run(
        twin.version,
        JSON.stringify(twin.tags),
        JSON.stringify(twin.desired.properties),
        JSON.stringify(twin.desired.metadata),
        twin.desired.version,
        JSON.stringify(twin.reported.properties),
        JSON.stringify(twin.reported.metadata),
        twin.reported.version,
        twin.deviceId,
      );
  }

  /**
   * Service-side update: tags and/or desired properties, atomically. `ifMatch` (an etag, or "*") makes it
   * conditional (412 if the twin changed). Validates everything before writing anything.
   */
  update(deviceId: string, input: unknown, ifMatch?: string): TwinUpdateResult {
    if (!isJsonObject(input)) throw badRequest('the twin update must be a JSON object like {"properties": {"desired": {...}}, "tags": {...}}');
    const unknownKeys = Object.keys(input).filter((k) => k !== 'tags' && k !== 'properties' && k !== 'deviceId' && k !== 'etag');
    if (unknownKeys.length) throw badRequest(`the twin update has members the service cannot change: ${unknownKeys.join(', ')}`, 'send only "tags" and "properties": {"desired": ...}; devices own reported properties');
    const tags = input.tags;
    const properties = input.properties;
    if (tags !== undefined && !isJsonObject(tags)) throw badRequest('"tags" must be a JSON object');
    if (properties !== undefined && !isJsonObject(properties)) throw badRequest('"properties" must be a JSON object like {"desired": {...}}');
    if (properties && Object.keys(properties).some((k) => k !== 'desired')) {
      throw badRequest('only properties.desired can be changed by the service', 'reported properties are written by the device');
    }
    const desired = properties?.desired;
    if (desired !== undefined && !isJsonObject(desired)) throw badRequest('"properties.desired" must be a JSON object');
    if (tags === undefined && desired === undefined) throw badRequest('the twin update changes nothing', 'send "tags" and/or "properties": {"desired": {...}}');
    if (tags) validatePatch(tags, 'tags');
    if (desired) validatePatch(desired as JsonObject, 'desired');
    return this.db.transaction((): TwinUpdateResult => {
      const twin = this.require(deviceId);
      if (ifMatch !== undefined && ifMatch !== '*' && ifMatch.replace(/^W\//, '').replace(/"/g, '') !== twin.etag) {
        throw new HubError(412, ErrorCodes.PreconditionFailed, `the twin of "${deviceId}" has changed (etag ${twin.etag}, If-Match ${ifMatch})`, 'read the twin again and retry with its etag');
      }
      let notification: OutgoingMessage | undefined;
      if (tags) twin.tags = applyTagsPatch(twin.tags, tags);
      if (desired) {
        const exchange = desiredPatchExchange(twin.desired, desired as JsonObject, new Date(this.now()));
        twin.desired = exchange.desired;
        notification = exchange.notification;
      }
      twin.version++;
      twin.etag = Buffer.from(String(twin.version)).toString('base64');
      this.write(twin);
      return { twin, desiredNotification: notification };
    })();
  }

  /** Desired-properties patch (a shorthand for update({properties: {desired}})). */
  patchDesired(deviceId: string, patch: unknown): TwinUpdateResult {
    return this.update(deviceId, { properties: { desired: patch } });
  }

  /**
   * A reported-properties patch from the device, as received on MQTT: returns the response to publish
   * (204 with the new `$version`, or an error). Nothing is written unless the patch is accepted.
   */
  patchReportedFromDevice(deviceId: string, body: Uint8Array, rid: string | undefined): { response: OutgoingMessage; twin?: Twin; patch?: JsonObject } {
    return this.db.transaction(() => {
      const twin = this.require(deviceId);
      const exchange = reportedPatchExchange(twin.reported, body, rid, new Date(this.now()));
      if (!exchange.reported) return { response: exchange.response };
      twin.reported = exchange.reported;
      twin.version++;
      twin.etag = Buffer.from(String(twin.version)).toString('base64');
      this.write(twin);
      return { response: exchange.response, twin, patch: exchange.patch };
    })();
  }

  /** Reported-properties patch from code (tests, tools): throws on a bad patch. */
  patchReported(deviceId: string, patch: JsonObject): Twin {
    return this.db.transaction(() => {
      const twin = this.require(deviceId);
      twin.reported = applySectionPatch(twin.reported, patch, 'reported', new Date(this.now()));
      twin.version++;
      twin.etag = Buffer.from(String(twin.version)).toString('base64');
      this.write(twin);
      return twin;
    })();
  }
}

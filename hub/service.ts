/**
 * The hub's service-side operations (what Azure's service SDK and REST API do), over the store and the MQTT
 * front: registry changes that must reach connected devices (disable, delete), twin updates that notify the
 * device, direct methods, cloud-to-device messages. The HTTP API and the CLI go through this.
 */
import { deviceStatsView, silentDevicesView, type DeviceStatsView, type SilentDevicesView } from './device-stats';
import { badRequest } from './errors';
import type { MethodRequest, MethodResult, MqttFront } from './mqtt-front';
import type { C2dMessage, Device, HubStore, NewC2dMessage, TelemetryMessage, Twin } from './store';
import { serviceView, type JsonObject } from './twin';

export interface DeviceView {
  deviceId: string;
  generationId: string;
  etag: string;
  status: string;
  statusReason: string | null;
  connectionState: 'Connected' | 'Disconnected';
  lastActivityTime: string | null;
  createdTime: string;
  updatedTime: string;
  cloudToDeviceMessageCount: number;
  authentication: Device['authentication'];
  /** A connection string for the Azure device SDKs (SAS and X.509 devices), pointing at this hub. */
  connectionString: string;
}

export interface TelemetryView {
  seq: number;
  deviceId: string;
  enqueuedTime: string;
  properties: { [name: string]: string | null };
  systemProperties: { [name: string]: string };
  /** The payload: decoded when its content type is application/cbor (null if it is not CBOR), parsed when it is JSON, else its UTF-8 text (null if it is not UTF-8). */
  body: unknown;
  bodyBase64: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function telemetryView(message: TelemetryMessage): TelemetryView {
  let body: unknown = null;
  if (message.cbor) {
    if ('body' in message.cbor) body = message.cbor.body;
  } else {
    try {
      const text = utf8.decode(message.payload);
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    } catch {
      body = null;
    }
  }
  return {
    seq: message.seq,
    deviceId: message.deviceId,
    enqueuedTime: new Date(message.enqueuedAt).toISOString(),
    properties: message.properties,
    systemProperties: message.systemProperties,
    body,
    bodyBase64: message.payload.toString('base64'),
  };
}

export function c2dView(message: C2dMessage): JsonObject {
  return {
    messageId: message.messageId,
    deviceId: message.deviceId,
    state: message.state,
    ack: message.ack,
    properties: message.properties as JsonObject,
    correlationId: message.correlationId,
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    createdTime: new Date(message.createdAt).toISOString(),
    expiryTimeUtc: new Date(message.expiresAt).toISOString(),
    deliveryCount: message.deliveryCount,
    deliveredTime: message.deliveredAt === null ? null : new Date(message.deliveredAt).toISOString(),
    finishedTime: message.finishedAt === null ? null : new Date(message.finishedAt).toISOString(),
    feedback: message.feedback as JsonObject | null,
    payloadBase64: message.payload.toString('base64'),
  };
}

export class HubService {
  constructor(
    readonly store: HubStore,
    readonly front: MqttFront,
    readonly hostName: string,
    readonly idScope: string,
    /** `host:port` devices use to reach the MQTT endpoint (the connection string's GatewayHostName). */
    readonly gatewayHostName: string,
    /** The clock (ms since 1970), for statistics and silence. */
    readonly now: () => number = Date.now,
  ) {}

  connectionString(device: Device): string {
    const base = `HostName=${this.hostName};DeviceId=${device.deviceId}`;
    const auth = device.authentication.type === 'sas' ? `;SharedAccessKey=${device.authentication.symmetricKey!.primaryKey}` : ';x509=true';
    return `${base}${auth};GatewayHostName=${this.gatewayHostName}`;
  }

  deviceView(device: Device): DeviceView {
    return {
      deviceId: device.deviceId,
      generationId: device.generationId,
      etag: device.etag,
      status: device.status,
      statusReason: device.statusReason,
      connectionState: this.front.isConnected(device.deviceId) ? 'Connected' : 'Disconnected',
      lastActivityTime: device.lastActivityAt === null ? null : new Date(device.lastActivityAt).toISOString(),
      createdTime: new Date(device.createdAt).toISOString(),
      updatedTime: new Date(device.updatedAt).toISOString(),
      cloudToDeviceMessageCount: this.store.c2d.list(device.deviceId, { states: ['queued', 'delivered'], limit: 1000 }).length,
      authentication: device.authentication,
      connectionString: this.connectionString(device),
    };
  }

  twinView(twin: Twin): JsonObject {
    const device = this.store.devices.require(twin.deviceId);
    return {
      deviceId: twin.deviceId,
      etag: twin.etag,
      version: twin.version,
      status: device.status,
      connectionState: this.front.isConnected(twin.deviceId) ? 'Connected' : 'Disconnected',
      lastActivityTime: device.lastActivityAt === null ? null : new Date(device.lastActivityAt).toISOString(),
      authenticationType: device.authentication.type,
      tags: twin.tags,
      properties: { desired: serviceView(twin.desired), reported: serviceView(twin.reported) },
    };
  }

  createDevice(input: unknown): Device {
    const device = this.store.devices.create(input);
    this.front.log.write({ level: 'info', event: 'registry.created', deviceId: device.deviceId, message: `device "${device.deviceId}" created (${device.authentication.type})` });
    return device;
  }

  setStatus(deviceId: string, status: unknown, statusReason?: unknown): Device {
    if (statusReason !== undefined && statusReason !== null && typeof statusReason !== 'string') throw badRequest('statusReason must be a string');
    const device = this.store.devices.setStatus(deviceId, status as Device['status'], (statusReason as string | undefined) ?? null);
    if (device.status === 'disabled') this.front.disconnect(deviceId, 'the device was disabled');
    return device;
  }

  deleteDevice(deviceId: string): void {
    this.store.devices.delete(deviceId);
    this.front.disconnect(deviceId, 'the device was deleted');
    this.front.log.write({ level: 'info', event: 'registry.deleted', deviceId, message: `device "${deviceId}" deleted` });
  }

  /** Updates tags and/or desired properties; a desired change is sent to the device if it is connected and subscribed. */
  updateTwin(deviceId: string, update: unknown, ifMatch?: string): { twin: Twin; notified: boolean } {
    const result = this.store.twins.update(deviceId, update, ifMatch);
    const notified = result.desiredNotification ? this.front.notifyDesired(deviceId, result.desiredNotification) : false;
    return { twin: result.twin, notified };
  }

  invokeMethod(deviceId: string, request: MethodRequest): Promise<MethodResult> {
    return this.front.invokeMethod(deviceId, request);
  }

  /** A device's telemetry statistics, reported backlog and interval, and whether it is silent (for longer than factor × interval). 404 if unknown. */
  deviceStats(deviceId: string, factor: number): DeviceStatsView {
    const device = this.store.devices.require(deviceId);
    const now = this.now();
    return deviceStatsView({
      device,
      twin: this.store.twins.get(deviceId),
      stats: this.store.telemetry.stats(deviceId, now),
      connected: this.front.isConnected(deviceId),
      factor,
      now,
      window: this.store.telemetry.messageIdWindow,
    });
  }

  /** Enabled devices without a message for longer than factor × their telemetry interval. */
  silentDevices(factor: number): SilentDevicesView {
    return silentDevicesView({
      devices: this.store.devices.list(),
      twin: (deviceId) => this.store.twins.get(deviceId),
      lastMessageTimes: this.store.telemetry.lastMessageTimes(),
      connected: (deviceId) => this.front.isConnected(deviceId),
      factor,
      now: this.now(),
    });
  }

  /** Queues a cloud-to-device message and sends it now if the device is connected and subscribed. */
  sendC2d(deviceId: string, message: NewC2dMessage): C2dMessage {
    this.store.devices.require(deviceId);
    const queued = this.store.c2d.enqueue(deviceId, message);
    this.front.log.write({ level: 'info', event: 'c2d.queued', deviceId, message: `cloud-to-device message ${queued.messageId} queued (expires ${new Date(queued.expiresAt).toISOString()})` });
    this.front.deliverC2d(deviceId);
    return this.store.c2d.getBySeq(queued.seq)!;
  }
}

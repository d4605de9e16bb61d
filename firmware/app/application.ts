/**
 * The application: samples the fitted sensors on the schedule the on-device rules set,
 * averages, reports on change and raises threshold alerts (firmware/app/rules), and sends
 * the results as telemetry. Over Azure IoT Hub it also keeps the twin (desired properties
 * configure the rules; reported properties describe the device), answers direct methods,
 * logs cloud-to-device messages and applies signed firmware updates.
 * Every step is reported as a structured event for the simulator and the serial console.
 */
import type { Hal, LogFields, LogLevel, TimerId } from '../../hal';
import { LOG_LEVELS } from '../../hal/log';
import { AzureHubClient } from '../iot/azure/hub-client';
import { provisionDevice } from '../iot/azure/dps-client';
import { halCodec } from '../iot/azure/hal-codec';
import { deriveGroupDeviceKey } from '../iot/azure/sas';
import { encodeCbor } from '../codec/cbor/encode';
import type { JsonObject, JsonValue } from '../iot/azure/types';
import { OtaService } from '../ota/ota-service';
import type { OtaStatus } from '../ota/agent';
import type { AppConfig } from './config';
import { readTlsOptions } from './credentials';
import { applyDesiredProperties, defaultRulesConfig, RulesEngine, type Alert, type RulesConfig, type RulesOutput } from './rules';
import { openSensors, type Sensor } from './sensors';
import { TelemetryQueue, type MessageKind } from './telemetry-queue';
import { desiredToRules, rulesToTwin } from './twin-rules';
import { AzureUplink, MqttUplink, type Uplink } from './uplink';

const AZURE_DOMAIN = 'azure';
const APP_DOMAIN = 'app';
/** How long the reboot method waits before restarting, so its answer reaches the hub. */
const REBOOT_DELAY_MS = 1000;
const CBOR_CONTENT_TYPE = 'application/cbor';

export class Application {
  private readonly sensors: Sensor[];
  private readonly rules: RulesEngine;
  private rulesConfig: RulesConfig;
  private uplink: Uplink | undefined;
  private hub: AzureHubClient | undefined;
  private ota: OtaService | undefined;
  private wakeTimer: TimerId | undefined;
  private sampling = false;
  private sequence = 0;
  private readonly startedAt: number;
  private twinReceived = false;
  private reprovisioning = false;
  private pendingOtaStatus: OtaStatus | undefined;
  private otaRetry: TimerId | undefined;
  private lastReportedPercent = -10;
  private selfTestWaiters: (() => void)[] = [];
  private readonly queue: TelemetryQueue;

  constructor(
    private readonly hal: Hal,
    private readonly config: AppConfig,
  ) {
    this.sensors = openSensors(hal);
    this.startedAt = hal.clock.now();
    this.rulesConfig = defaultRulesConfig(config.telemetryIntervalMs);
    this.rules = new RulesEngine({ sensors: this.sensors.map((s) => s.name), config: this.rulesConfig, nowMs: this.startedAt });
    const bootCount = ((hal.kv.get(APP_DOMAIN, 'boots') as number | undefined) ?? 0) + 1;
    hal.kv.set(APP_DOMAIN, 'boots', bootCount);
    this.queue = new TelemetryQueue(hal, {
      deviceId: config.deviceId,
      bootCount,
      ratePerSecond: config.drainRatePerSecond,
      startJitterMs: config.drainJitterMs,
      window: 8,
      overflow: config.outboxOverflow,
      properties: (kind): { [name: string]: string } => (kind === 'alert' ? { priority: 'high', messageType: 'alert' } : {}),
      onDrained: () => this.reportOutbox(),
    });
  }

  start(): void {
    this.schedule();
    if (this.config.azure) void this.startAzure();
    else this.startUplink(this.mqttUplink());
  }

  stop(): void {
    if (this.wakeTimer !== undefined) this.hal.timers.clear(this.wakeTimer);
    this.uplink?.stop();
    this.ota?.stop();
    for (const sensor of this.sensors) sensor.close();
  }

  // ---------------------------------------------------------------- connection

  private mqttUplink(): Uplink {
    const c = this.config;
    return new MqttUplink(
      this.hal,
      {
        host: c.mqttHost,
        port: c.mqttPort,
        tls: c.mqttTls ? readTlsOptions(this.hal, c.mqttHost) : undefined,
        deviceId: c.deviceId,
        keepAliveSeconds: c.keepAliveSeconds,
        connectTimeoutMs: c.connectTimeoutMs,
        username: c.mqttUsername,
        password: c.mqttPassword,
        contentType: c.payloadFormat === 'cbor' ? CBOR_CONTENT_TYPE : undefined,
      },
      this.uplinkEvents(c.mqttHost, c.mqttPort),
    );
  }

  private uplinkEvents(host: string, port: number) {
    return {
      onConnected: () => {
        this.hal.log.event('connected', { broker: `${host}:${port}` });
        this.queue.connected();
        this.reportDevice();
        this.checkSelfTest();
      },
      onDisconnected: (reason: string, retryInMs?: number, refusal?: number) => {
        this.hal.log.event('disconnected', { reason, retryInMs, refusal });
        this.queue.disconnected();
        if (refusal === 4 || refusal === 5) this.hubRefused();
      },
      onPublished: (packetId: number) => this.queue.published(packetId),
    };
  }

  private startUplink(uplink: Uplink): void {
    this.uplink = uplink;
    uplink.start();
    this.queue.attach(uplink);
  }

  /** Azure: the hub from settings, or from DPS (cached in settings), then the hub client. */
  private async startAzure(): Promise<void> {
    const azure = this.config.azure!;
    const tlsFor = (host: string) => (this.config.mqttTls ? { ...readTlsOptions(this.hal, host), serverName: host } : undefined);
    let hubHost = azure.hubHost;
    let deviceId = this.config.deviceId;
    if (azure.dps) {
      const cachedHub = this.hal.kv.get(AZURE_DOMAIN, 'hub');
      const cachedId = this.hal.kv.get(AZURE_DOMAIN, 'device');
      if (typeof cachedHub === 'string' && typeof cachedId === 'string') {
        hubHost = cachedHub;
        deviceId = cachedId;
      } else {
        const dps = azure.dps;
        try {
          const assignment = await provisionDevice(this.hal, {
            endpoint: dps.host,
            port: azure.port,
            tls: tlsFor(dps.host),
            idScope: dps.idScope,
            registrationId: dps.registrationId,
            connectTimeoutMs: this.config.connectTimeoutMs,
            auth: azure.x509 ? { kind: 'x509' } : dps.groupKey ? { kind: 'sas-group', groupKey: dps.groupKey } : { kind: 'sas', deviceKey: dps.enrollmentKey! },
          });
          hubHost = assignment.assignedHub;
          deviceId = assignment.deviceId;
          this.hal.kv.set(AZURE_DOMAIN, 'hub', hubHost);
          this.hal.kv.set(AZURE_DOMAIN, 'device', deviceId);
          this.hal.log.event('provisioned', { hub: hubHost, deviceId, registrationId: dps.registrationId });
        } catch (error) {
          this.hal.log.event('error', { during: 'provisioning', message: (error as Error).message });
          this.hal.timers.set(() => void this.startAzure(), 60_000); // as a device in the field would, try again later
          return;
        }
      }
    }
    const deviceKey =
      azure.deviceKey ??
      azure.dps?.enrollmentKey ??
      (azure.dps?.groupKey ? deriveGroupDeviceKey(halCodec(this.hal), azure.dps.groupKey, azure.dps.registrationId) : undefined);
    const hub = new AzureHubClient(this.hal, {
      hostName: hubHost!,
      deviceId,
      port: azure.port,
      tls: tlsFor(hubHost!),
      auth: azure.x509 || deviceKey === undefined ? { kind: 'x509' } : { kind: 'sas', deviceKey, ttlSeconds: azure.sasTtlSeconds },
      keepAliveSeconds: this.config.keepAliveSeconds,
      mqtt: { connectTimeoutMs: this.config.connectTimeoutMs },
    });
    this.hub = hub;
    this.wireHub(hub);
    this.startUplink(new AzureUplink(hub, this.uplinkEvents(hubHost!, azure.port), this.config.payloadFormat === 'cbor' ? CBOR_CONTENT_TYPE : 'application/json'));
    this.startOta(hub);
  }

  private wireHub(hub: AzureHubClient): void {
    hub.onTwin((desired) => {
      this.twinReceived = true;
      this.applyDesired(desired, undefined, true);
      this.checkSelfTest();
    });
    hub.onDesired((patch, version, full) => {
      if (!full) this.applyDesired(patch, version, false);
    });
    hub.onTwinError((error) => this.hal.log.event('error', { during: 'twin', message: error.message }));
    hub.onC2D((message) => {
      this.hal.log.event('c2d', { messageId: message.messageId ?? null, properties: message.properties as JsonObject, body: this.hal.text.decode(message.payload) });
    });
    hub.onMethod('reboot', () => {
      this.hal.log.event('method', { name: 'reboot' });
      this.hal.timers.set(() => this.hal.system.restart(), REBOOT_DELAY_MS);
      return { status: 200, payload: { rebootingInMs: REBOOT_DELAY_MS } };
    });
    hub.onMethod('getDiagnostics', () => {
      this.hal.log.event('method', { name: 'getDiagnostics' });
      return { status: 200, payload: this.diagnostics() };
    });
    hub.onMethod('setLogLevel', (payload): { status: number; payload: JsonObject } => {
      const level = (payload as { level?: unknown } | null)?.level;
      if (typeof level !== 'string' || !LOG_LEVELS.includes(level as LogLevel)) {
        return { status: 400, payload: { error: `level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(level)}` } };
      }
      this.hal.log.level = level as LogLevel;
      this.hal.log.event('method', { name: 'setLogLevel', level });
      return { status: 200, payload: { level } };
    });
    hub.onMethod('updateFirmware', (payload) => {
      if (!this.ota) return { status: 503, payload: { error: 'the update service is not running yet' } };
      const result = this.ota.request((payload as { envelope?: unknown } | null)?.envelope ?? payload, { force: true });
      return { status: result.accepted ? 202 : 400, payload: result as unknown as JsonValue };
    });
  }

  /**
   * The hub refused our credentials: with DPS, the assignment in settings may be stale (the
   * device was deleted or moved to another hub), so provision again, as Azure's guidance says.
   */
  private hubRefused(): void {
    const azure = this.config.azure;
    if (!azure?.dps || this.reprovisioning) return;
    this.reprovisioning = true;
    this.hal.log.event('reprovisioning', { reason: 'the hub refused the device' });
    this.hal.kv.delete(AZURE_DOMAIN, 'hub');
    this.hal.kv.delete(AZURE_DOMAIN, 'device');
    this.uplink?.stop();
    this.uplink = undefined;
    this.ota?.stop();
    this.ota = undefined;
    this.hub = undefined;
    this.hal.timers.set(() => {
      this.reprovisioning = false;
      void this.startAzure();
    }, 5_000);
  }

  /** Desired properties configure the rules at once; each property is acknowledged (IoT Plug and Play). */
  private applyDesired(desired: JsonObject, version: number | undefined, complete: boolean): void {
    const result = applyDesiredProperties(this.rulesConfig, desiredToRules(desired, this.rulesConfig), {
      sensors: this.sensors.map((s) => s.name),
      complete,
      defaultTelemetryInterval: this.config.telemetryIntervalMs,
    });
    this.rulesConfig = result.config;
    this.emit(this.rules.configure(result.config, this.hal.clock.now()));
    this.schedule();
    const av = version ?? (typeof desired.$version === 'number' ? desired.$version : 0);
    const acks: JsonObject = {};
    for (const [name, ack] of Object.entries(result.acks)) {
      acks[name] = { ...(ack as object), value: rulesToTwin(name, (ack as { value: unknown }).value), av } as JsonValue;
    }
    if (Object.keys(acks).length > 0) this.hub?.reportProperties(acks);
    this.hal.log.event('configured', { telemetryInterval: result.config.telemetryInterval, errors: result.errors.map((e) => e.message) });
    const firmware = desired.firmware;
    if (firmware !== undefined && firmware !== null && this.ota) {
      const answer = this.ota.request(firmware);
      if (!answer.accepted) this.hal.log.event('ota', { state: 'refused', reason: answer.reason ?? 'refused' });
    }
  }

  private startOta(hub: AzureHubClient): void {
    const publicKey = this.config.otaPublicKey ? this.hal.text.fromHex(this.config.otaPublicKey) : undefined;
    this.ota = new OtaService(this.hal, {
      publicKey,
      tls: this.config.mqttTls ? readTlsOptions(this.hal, this.config.azure?.hubHost ?? '') : undefined,
      selfTest: () => new Promise<void>((resolve) => this.waitForSelfTest(resolve)),
      // The service logs each status as an 'ota' event itself; this only reports it to the twin.
      onStatus: (status: OtaStatus) => this.reportOtaStatus(hub, status),
    });
    this.ota.start();
  }

  /**
   * Reports the update's progress. Only the latest status matters, so one waits at most:
   * download percentages are reported in steps of 10, and a report the twin queue cannot
   * take now (it is full) is retried a second later rather than lost.
   */
  private reportOtaStatus(hub: AzureHubClient, status: OtaStatus): void {
    if (status.state === 'downloading') {
      const percent = status.percent ?? 0;
      if (percent !== 0 && percent < this.lastReportedPercent + 10) return;
      this.lastReportedPercent = percent;
    } else {
      this.lastReportedPercent = -10;
    }
    this.pendingOtaStatus = status;
    if (this.otaRetry !== undefined) return;
    try {
      hub.reportProperties({ firmwareUpdate: { ...status } as JsonObject });
      this.pendingOtaStatus = undefined;
    } catch {
      this.otaRetry = this.hal.timers.set(() => {
        this.otaRetry = undefined;
        if (this.pendingOtaStatus) this.reportOtaStatus(hub, this.pendingOtaStatus);
      }, 1000);
    }
  }

  /** The new image is healthy once it is connected and has its twin. */
  private waitForSelfTest(resolve: () => void): void {
    this.selfTestWaiters.push(resolve);
    this.checkSelfTest();
  }

  private checkSelfTest(): void {
    if (!this.uplink?.connected || (this.hub && !this.twinReceived)) return;
    const waiters = this.selfTestWaiters;
    this.selfTestWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private reportDevice(): void {
    this.hub?.reportProperties({
      firmwareVersion: this.hal.system.firmwareVersion(),
      board: this.hal.board.name,
      resetReason: this.hal.system.resetReason(),
      freeHeap: this.hal.system.freeHeap(),
      uptimeMs: this.hal.clock.now() - this.startedAt,
      sensors: this.sensors.map((s) => s.name),
      outbox: this.outboxReport(),
    });
  }

  /**
   * The outbox's counters for the twin: queued, sent, dropped, capacity, and the oldest
   * record's age in ms (null when the queue is empty or the age is unknown; null also clears
   * the value reported before).
   */
  private outboxReport(): JsonObject {
    return this.queue.report();
  }

  /**
   * The backlog found at connect has been delivered: report the counters again, so the twin
   * (and the hub's reported backlog) does not keep showing the queue as it was at connect.
   * A report the twin queue cannot take now is left out; the next connection reports again.
   */
  private reportOutbox(): void {
    const hub = this.hub;
    if (!hub) return;
    try {
      hub.reportProperties({ outbox: this.outboxReport() });
    } catch (error) {
      this.hal.log.write('warn', 'outbox counters not reported', { reason: (error as Error).message });
    }
  }

  private diagnostics(): JsonObject {
    return {
      firmwareVersion: this.hal.system.firmwareVersion(),
      board: this.hal.board.name,
      resetReason: this.hal.system.resetReason(),
      freeHeap: this.hal.system.freeHeap(),
      uptimeMs: this.hal.clock.now() - this.startedAt,
      connected: this.uplink?.connected ?? false,
      sensors: this.sensors.map((s) => s.name),
      telemetryInterval: this.rulesConfig.telemetryInterval,
      logLevel: this.hal.log.level,
      messagesSent: this.sequence,
    };
  }

  // ---------------------------------------------------------------- sampling

  /** Sets the one timer for the next sampling or max-silence report the rules ask for. */
  private schedule(): void {
    if (this.wakeTimer !== undefined) this.hal.timers.clear(this.wakeTimer);
    this.wakeTimer = undefined;
    const now = this.hal.clock.now();
    const wake = this.rules.nextWakeAt(now);
    if (wake === undefined) return;
    this.wakeTimer = this.hal.timers.set(() => {
      this.wakeTimer = undefined;
      void this.wake();
    }, Math.max(0, wake - now));
  }

  private async wake(): Promise<void> {
    if (this.sampling) return; // the previous round still waits on a slow sensor; it reschedules
    this.sampling = true;
    try {
      const outputs: RulesOutput[] = [this.rules.flushDue(this.hal.clock.now())];
      const due = this.rules.nextSampleDue(this.hal.clock.now());
      if (due && due.atMs <= this.hal.clock.now()) {
        for (const name of due.sensors) {
          const sensor = this.sensors.find((s) => s.name === name);
          if (!sensor) continue;
          try {
            outputs.push(this.rules.addReading(name, await sensor.sample(), this.hal.clock.now()));
          } catch (error) {
            this.rules.sampleFailed(name, this.hal.clock.now());
            this.hal.log.event('error', { sensor: name, message: (error as Error).message });
          }
        }
      }
      this.emit(...outputs);
    } finally {
      this.sampling = false;
      this.schedule();
    }
  }

  /** Sends what the rules produced: one telemetry message with every report, one message per alert. */
  private emit(...outputs: RulesOutput[]): void {
    const readings: { [sensor: string]: { [quantity: string]: number } } = {};
    for (const output of outputs) {
      for (const sensor of Object.keys(output.report ?? {})) readings[sensor] = { ...readings[sensor], ...output.report![sensor] };
      for (const alert of output.alerts) this.sendAlert(alert);
    }
    if (Object.keys(readings).length > 0) this.send('telemetry', { readings });
  }

  private sendAlert(alert: Alert): void {
    this.send('alert', { alert: { ...alert } });
  }

  /** Every message goes through the persistent outbox; `sent` means stored for delivery. */
  private send(kind: MessageKind, body: JsonObject): void {
    const seq = ++this.sequence;
    const message = { seq, uptimeMs: this.hal.clock.now(), ...body };
    let payload: Uint8Array;
    try {
      payload = this.config.payloadFormat === 'cbor' ? encodeCbor(message) : this.hal.text.encode(JSON.stringify(message));
    } catch (error) {
      this.hal.log.event(kind, { seq, ...body, sent: false, reason: (error as Error).message } as unknown as LogFields);
      return;
    }
    const fields = { seq, ...body, bytes: payload.length } as unknown as LogFields;
    try {
      const { dropped, messageId } = this.queue.add(kind, payload);
      this.hal.log.event(kind, { ...fields, mid: messageId, sent: true, online: this.uplink?.connected ?? false, ...(dropped ? { droppedOldest: dropped } : {}) });
    } catch (error) {
      this.hal.log.event(kind, { ...fields, sent: false, reason: (error as Error).message });
    }
  }

}

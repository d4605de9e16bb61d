/**
 * The application: samples the fitted sensors every `telemetryIntervalMs` and sends the
 * readings as telemetry over MQTT, to the topic Azure IoT Hub uses for device-to-cloud
 * messages. Each step is reported as a structured event for the simulator and the console.
 */
import type { Hal, TimerId } from '../../hal';
import { MqttClient } from '../iot/mqtt/client';
import { MqttSessionError } from '../iot/mqtt/errors';
import type { AppConfig } from './config';
import { readTlsOptions } from './credentials';
import { openSensors, type Reading, type Sensor } from './sensors';

export class Application {
  private readonly sensors: Sensor[];
  private readonly mqtt: MqttClient;
  private readonly telemetryTopic: string;
  private telemetryTimer: TimerId | undefined;
  private sequence = 0;
  private sampling = false;

  constructor(
    private readonly hal: Hal,
    private readonly config: AppConfig,
  ) {
    this.sensors = openSensors(hal);
    this.telemetryTopic = `devices/${config.deviceId}/messages/events/`;
    this.mqtt = new MqttClient(
      hal,
      {
        host: config.mqttHost,
        port: config.mqttPort,
        tls: config.mqttTls ? readTlsOptions(hal, config.mqttHost) : undefined,
        clientId: config.deviceId,
        keepAliveSeconds: config.keepAliveSeconds,
        username: config.mqttUsername,
        password: config.mqttPassword === undefined ? undefined : hal.text.encode(config.mqttPassword),
      },
      {
        onConnected: (sessionPresent) => {
          hal.log.event('connected', { broker: `${config.mqttHost}:${config.mqttPort}`, sessionPresent });
          if (this.sequence === 0) void this.report();
        },
        onDisconnected: (reason, retryInMs) => hal.log.event('disconnected', { reason, retryInMs }),
      },
    );
  }

  start(): void {
    this.mqtt.start();
    this.telemetryTimer = this.hal.timers.repeat(() => void this.report(), this.config.telemetryIntervalMs);
  }

  stop(): void {
    if (this.telemetryTimer !== undefined) this.hal.timers.clear(this.telemetryTimer);
    this.mqtt.stop();
    for (const sensor of this.sensors) sensor.close();
  }

  /** Samples every sensor, then publishes one message. A failing sensor is reported, not fatal. */
  private async report(): Promise<void> {
    if (this.sampling) return; // the previous round is still waiting on a slow sensor
    this.sampling = true;
    const readings: { [sensor: string]: Reading } = {};
    try {
      for (const sensor of this.sensors) {
        try {
          readings[sensor.name] = await sensor.sample();
        } catch (error) {
          this.hal.log.event('error', { sensor: sensor.name, message: (error as Error).message });
        }
      }
    } finally {
      this.sampling = false;
    }
    const seq = ++this.sequence;
    const payload = this.hal.text.encode(JSON.stringify({ seq, uptimeMs: this.hal.clock.now(), readings }));
    // QoS 1: the session holds the message, across reconnections, until the broker acknowledges it.
    try {
      this.mqtt.publish(this.telemetryTopic, payload, { qos: 1 });
    } catch (error) {
      if (!(error instanceof MqttSessionError)) throw error;
      this.hal.log.event('telemetry', { seq, readings, sent: false, reason: error.message });
      return;
    }
    this.hal.log.event('telemetry', { seq, readings, sent: true, online: this.mqtt.connected, bytes: payload.length });
  }
}

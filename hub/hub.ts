/**
 * The local IoT hub: an MQTT endpoint speaking the Azure IoT Hub and DPS device protocols, an HTTP API for
 * the service side, and their state in one SQLite file.
 *
 *   const hub = await startHub({ dataFile: 'hub.db', mqttPort: 8883, httpPort: 8080, tls: { key, cert, ca },
 *                                hostName: 'thingkit-hub.local', idScope: '0ne00000001' });
 *   ... devices connect to hub.mqttUrl; tools use hub.httpUrl ...
 *   await hub.close();
 */
import { HubLog } from './log';
import { MqttFront } from './mqtt-front';
import { startHttpApi } from './http-api';
import { HubService } from './service';
import { HubStore } from './store';

export interface HubOptions {
  /** The SQLite data file (created if missing; it keeps everything across restarts). ':memory:' for none. */
  dataFile: string;
  /** MQTT port (0 picks a free one). */
  mqttPort: number;
  /** HTTP API port (0 picks a free one). */
  httpPort: number;
  /** TLS for MQTT: server key and certificate (PEM), and the CA that signs CA-authenticated device certificates. Undefined: plain TCP. */
  tls: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer } | undefined;
  /** The hub's host name: devices put it in their user name and SAS resource (`{hostName}/devices/{id}`). */
  hostName: string;
  /** The DPS ID scope devices provision under. */
  idScope: string;
  /** Listening address for both endpoints (default 127.0.0.1). */
  host?: string;
  /** DPS `retry-after` in seconds (default 3). */
  dpsRetryAfterSeconds?: number;
  /** Telemetry messages kept per device (default 1000). */
  telemetryPerDevice?: number;
  /** Clock (ms since 1970), for tests. */
  now?: () => number;
  /** Sees every accepted MQTT connection (the simulator watches them to know when the hub is idle). */
  observeConnection?: (socket: import('node:net').Socket) => void;
}

export interface Hub {
  /** mqtts://host:port (or mqtt:// without TLS). */
  mqttUrl: string;
  /** http://host:port */
  httpUrl: string;
  mqttPort: number;
  httpPort: number;
  hostName: string;
  idScope: string;
  /** `host:port` to give device SDKs as GatewayHostName (the MQTT endpoint). */
  gatewayHostName: string;
  store: HubStore;
  front: MqttFront;
  service: HubService;
  log: HubLog;
  close(): Promise<void>;
}

export async function startHub(options: HubOptions): Promise<Hub> {
  if (!options.hostName || /[/\s]/.test(options.hostName)) throw new Error(`hostName "${options.hostName}" is not a host name`);
  if (!options.idScope || /[/\s]/.test(options.idScope)) throw new Error(`idScope "${options.idScope}" is not an ID scope`);
  const now = options.now ?? Date.now;
  const store = HubStore.open({ file: options.dataFile, telemetryPerDevice: options.telemetryPerDevice, now });
  const log = new HubLog(1000, now);
  let front: MqttFront | undefined;
  try {
    front = await MqttFront.start({
      store,
      hostName: options.hostName,
      idScope: options.idScope,
      port: options.mqttPort,
      host: options.host,
      tls: options.tls,
      log,
      dpsRetryAfterSeconds: options.dpsRetryAfterSeconds,
      now,
      observeConnection: options.observeConnection,
    });
    // A wildcard listening address is not somewhere to connect to: loopback is.
    const connectHost = front.host === '0.0.0.0' || front.host === '::' ? '127.0.0.1' : front.host;
    const gatewayHostName = `${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${front.port}`;
    const service = new HubService(store, front, options.hostName, options.idScope, gatewayHostName);
    const http = await startHttpApi(service, { port: options.httpPort, host: options.host });
    let closed = false;
    const started = front;
    return {
      mqttUrl: front.url,
      httpUrl: http.url,
      mqttPort: front.port,
      httpPort: http.port,
      hostName: options.hostName,
      idScope: options.idScope,
      gatewayHostName,
      store,
      front,
      service,
      log,
      async close() {
        if (closed) return;
        closed = true;
        await http.close();
        await started.close();
        store.close();
      },
    };
  } catch (error) {
    await front?.close();
    store.close();
    throw error;
  }
}

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
import { CampaignEngine } from './ota/campaigns';
import { startImageServer, type ImageServer } from './ota/http';

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
  /** Message ids remembered per device to drop re-sent telemetry: at most `maxIds` (default 10 000), none older than `maxAgeMs` (default 24 h). */
  messageIdWindow?: { maxIds?: number; maxAgeMs?: number };
  /** Clock (ms since 1970), for tests. */
  now?: () => number;
  /** Sees every accepted MQTT connection (the simulator watches them to know when the hub is idle). */
  observeConnection?: (socket: import('node:net').Socket) => void;
  /** With `tls`: the HTTPS port devices download OTA images from (0, the default, picks a free one). */
  otaPort?: number;
  /** The base URL put in OTA manifests instead of the image server's own (e.g. https://hub.lan:8443). */
  otaPublicUrl?: string;
  /** How often the OTA campaign engine runs its rules (default 2000 ms; 0: only when told, for tests). */
  otaTickMs?: number;
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
  /** Base URL devices download OTA images from: the HTTPS image endpoint with TLS, else the HTTP API. */
  otaUrl: string;
  /** The OTA campaign engine (tick() runs its rules now). */
  ota: CampaignEngine;
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
  const store = HubStore.open({ file: options.dataFile, telemetryPerDevice: options.telemetryPerDevice, messageIdWindow: options.messageIdWindow, now });
  const log = new HubLog(1000, now);
  let front: MqttFront | undefined;
  let images: ImageServer | undefined;
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
    const service = new HubService(store, front, options.hostName, options.idScope, gatewayHostName, now);
    const ota = new CampaignEngine({ store, log, now, updateDesired: (deviceId, desired) => void service.updateTwin(deviceId, { properties: { desired } }) });
    if (options.tls) images = await startImageServer({ store, tls: options.tls, port: options.otaPort ?? 0, host: options.host });
    let httpUrl = '';
    const otaUrl = () => (options.otaPublicUrl ?? images?.url ?? httpUrl).replace(/\/+$/, '');
    const http = await startHttpApi(service, {
      port: options.httpPort,
      host: options.host,
      ota: { store, log, engine: ota, imageBaseUrl: otaUrl, baseUrls: () => [otaUrl(), ...(images ? [images.url] : []), httpUrl] },
    });
    httpUrl = http.url;
    if ((options.otaTickMs ?? 2000) > 0) ota.start(options.otaTickMs ?? 2000);
    const imageServer = images;
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
      otaUrl: otaUrl(),
      ota,
      store,
      front,
      service,
      log,
      async close() {
        if (closed) return;
        closed = true;
        ota.stop();
        await http.close();
        await imageServer?.close();
        await started.close();
        store.close();
      },
    };
  } catch (error) {
    await images?.close();
    await front?.close();
    store.close();
    throw error;
  }
}

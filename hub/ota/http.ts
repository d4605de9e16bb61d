/**
 * OTA over HTTP: the routes the hub's HTTP API gains, and the HTTPS endpoint devices download images from.
 *
 *   GET    /ota                           where images are served (imageBaseUrl), counts
 *   GET    /ota/images                    the published images (not their bytes)
 *   POST   /ota/images                    publish: {envelope, image: base64} (PUT too) → 201, or 200 when republished
 *   GET    /ota/images/{name}             the bytes, with Range (HEAD too)
 *   DELETE /ota/images/{name}             (409 while a running campaign offers it)
 *   GET    /ota/campaigns                 every campaign and its counts · POST: start one
 *   GET    /ota/campaigns/{id}            one campaign with its devices
 *   POST   /ota/campaigns/{id}/cancel
 *
 * The HTTP API is plain HTTP on loopback (for tools). With TLS (the hub's MQTT certificate and key), the
 * hub also listens on an HTTPS port that serves only `GET|HEAD /ota/images/{name}`: that is where the
 * manifests devices get point (`https://…/ota/images/{name}`). Without TLS (`thingkit hub --insecure`)
 * devices download from the HTTP API itself.
 */
import type * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { conflict, HubError, notFound } from '../errors';
import type { HubLog } from '../log';
import type { HubStore } from '../store';
import type { CampaignEngine } from './campaigns';
import { imagePath, imageView, MAX_UPLOAD_BODY, publishImage, serveImage } from './images';

export interface OtaApi {
  store: HubStore;
  log: HubLog;
  engine: CampaignEngine;
  /** The base URL devices download images from (the manifest url is this + /ota/images/{name}). */
  imageBaseUrl(): string;
  /** Every base URL the hub serves images under (the HTTPS endpoint and the HTTP API). */
  baseUrls(): string[];
}

interface OtaRequest {
  method: string;
  body: unknown;
  query: URLSearchParams;
  raw: http.IncomingMessage;
  res: http.ServerResponse;
}

type OtaReply = { status: number; body?: unknown; headers?: { [name: string]: string } } | 'streaming';

export type RouteFunction = (method: string, path: string, handler: (request: OtaRequest, params: string[]) => OtaReply | Promise<OtaReply>, options?: { maxBody?: number }) => void;

/** Adds the OTA routes to the HTTP API. */
export function registerOtaRoutes(route: RouteFunction, api: OtaApi): void {
  const { store, engine } = api;
  const campaignId = (text: string): number => {
    if (!/^\d+$/.test(text)) throw notFound(`campaign "${text}"`, 'campaign ids are numbers: GET /ota/campaigns lists them');
    return Number(text);
  };

  route('GET', '/ota', () => ({
    status: 200,
    body: {
      imageBaseUrl: api.imageBaseUrl(),
      imagePath: '/ota/images/{board}-{version}.bin',
      images: store.ota.listImages().length,
      runningCampaigns: store.ota.listCampaigns({ state: 'running' }).map((c) => c.id),
    },
  }));
  route('GET', '/ota/images', () => ({ status: 200, body: store.ota.listImages().map(imageView) }));
  const publish = (r: OtaRequest): OtaReply => {
    const { image, created, urlPointsHere } = publishImage(store, api.log, r.body, api.baseUrls());
    return { status: created ? 201 : 200, body: { ...imageView(image), urlPointsHere, downloadUrl: `${api.imageBaseUrl()}${imagePath(image.name)}` } };
  };
  route('POST', '/ota/images', publish, { maxBody: MAX_UPLOAD_BODY });
  route('PUT', '/ota/images', publish, { maxBody: MAX_UPLOAD_BODY });
  const download = (r: OtaRequest, [name]: string[]): OtaReply => {
    serveImage(store, name, r.raw, r.res);
    return 'streaming';
  };
  route('GET', '/ota/images/:name', download);
  route('HEAD', '/ota/images/:name', download);
  route('DELETE', '/ota/images/:name', (_r, [name]) => {
    const image = store.ota.getImage(name);
    if (!image) throw notFound(`image "${name}"`, 'GET /ota/images lists the published images');
    const running = store.ota.listCampaigns({ state: 'running' }).find((c) => c.version === image.version && (c.board === null || c.board === image.board));
    if (running) throw conflict(`campaign ${running.id} is offering ${name}`, `cancel it first (POST /ota/campaigns/${running.id}/cancel)`);
    store.ota.deleteImage(name);
    api.log.write({ level: 'info', event: 'ota.deleted', message: `deleted image ${name}` });
    return { status: 204 };
  });

  route('GET', '/ota/campaigns', () => ({ status: 200, body: store.ota.listCampaigns().map((c) => engine.view(c)) }));
  route('POST', '/ota/campaigns', (r) => ({ status: 201, body: engine.view(engine.create(r.body), { devices: true }) }));
  route('GET', '/ota/campaigns/:id', (_r, [id]) => ({ status: 200, body: engine.view(engine.require(campaignId(id)), { devices: true }) }));
  route('POST', '/ota/campaigns/:id/cancel', (_r, [id]) => ({ status: 200, body: engine.view(engine.cancel(campaignId(id)), { devices: true }) }));
}

export interface ImageServer {
  readonly port: number;
  /** https://host:port */
  readonly url: string;
  close(): Promise<void>;
}

/** The HTTPS endpoint for image downloads: GET and HEAD of /ota/images/{name}, nothing else. */
export async function startImageServer(options: { store: HubStore; tls: { key: string | Buffer; cert: string | Buffer }; port: number; host?: string }): Promise<ImageServer> {
  const send = (res: http.ServerResponse, error: HubError) => {
    const body = JSON.stringify(error.toJSON());
    res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const server = https.createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    let segments: string[];
    try {
      segments = new URL(req.url ?? '/', 'https://hub').pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return send(res, notFound(String(req.url)));
    }
    if (segments.length !== 3 || segments[0] !== 'ota' || segments[1] !== 'images') {
      return send(res, notFound(String(req.url), 'this port serves only GET /ota/images/{name}; the HTTP API is on the hub\'s HTTP port'));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, new HubError(405, 405000, `${req.method} is not supported here`, 'use GET or HEAD'));
    try {
      serveImage(options.store, segments[2], req, res);
    } catch (error) {
      if (!res.headersSent) send(res, new HubError(500, 500001, `internal error: ${(error as Error).message}`));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `OTA port ${options.port} is in use: stop what uses it or choose another port` : `cannot start the OTA image server: ${error.message}`)),
    );
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host === undefined || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    port,
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

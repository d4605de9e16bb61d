/**
 * The hub's HTTP API (node:http, JSON), shaped after Azure's IoT Hub and DPS service REST APIs where there is
 * one. Errors are 4xx with `{ errorCode, message, hint }`: what was wrong, and what to do.
 *
 *   GET    /                                  this list
 *   GET    /health
 *   GET    /devices                           POST /devices (create; body {deviceId, authentication?, status?})
 *   GET    /devices/{id}                      PUT /devices/{id} (create) · PATCH /devices/{id} {status, statusReason} · DELETE
 *   GET    /twins/{id}                        PATCH /twins/{id} {tags?, properties: {desired?}} (If-Match optional)
 *   POST   /twins/{id}/methods                {methodName, payload?, responseTimeoutInSeconds?, connectTimeoutInSeconds?} → {status, payload}
 *   GET    /devices/{id}/methods              the method-call log
 *   POST   /devices/{id}/messages/devicebound {payload | payloadBase64, properties?, messageId?, correlationId?, contentType?, ack?, ttlSeconds? | expiryTimeUtc?}
 *   GET    /devices/{id}/messages/devicebound the device's messages and their states
 *   GET    /messages/devicebound/{messageId}  one message, its state and feedback
 *   GET    /messages/serviceBound/feedback    feedback records (?deviceId=)
 *   GET    /devices/{id}/telemetry            recent device-to-cloud messages (?limit=, ?after=seq)
 *   GET    /devices/{id}/stats                last seen, messages per hour, duplicates dropped, reported backlog, interval, silence (?factor=, default 3)
 *   GET    /devices/silent                    devices without a message for longer than factor × their telemetry interval (?factor=, default 3)
 *   GET    /telemetry/stream                  live telemetry as Server-Sent Events (?deviceId=)
 *   GET    /enrollments                       PUT/GET/DELETE /enrollments/{registrationId}
 *   GET    /enrollmentGroups                  PUT/GET/DELETE /enrollmentGroups/{id} · GET /enrollmentGroups/{id}/registrations
 *   GET    /registrations/{registrationId}    DELETE too
 *   GET    /logs                              the hub's log (?deviceId=, ?event=, ?limit=) · GET /logs/stream (SSE)
 *   GET    /ota …                             OTA images and rollout campaigns (hub/ota/http.ts)
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentFactor } from './device-stats';
import { asHubError, badRequest, ErrorCodes, HubError, notFound } from './errors';
import type { HubLogEntry } from './log';
import { c2dView, telemetryView, type HubService } from './service';
import type { NewC2dMessage, TelemetryMessage } from './store';
import { EnrollmentStore } from './store';
import { registerOtaRoutes, type OtaApi } from './ota/http';

const MAX_BODY = 1024 * 1024;

interface Request {
  method: string;
  path: string[];
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  raw: http.IncomingMessage;
  res: http.ServerResponse;
}

type Reply = { status: number; body?: unknown; headers?: { [name: string]: string } } | 'streaming';

type Handler = (request: Request, params: string[]) => Reply | Promise<Reply>;

interface Route {
  method: string;
  pattern: string[];
  handler: Handler;
  /** Largest request body (default MAX_BODY). */
  maxBody?: number;
}

function readBody(req: http.IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HubError(413, ErrorCodes.RequestTooLarge, `the request body is larger than ${limit} bytes`, 'send less'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJsonBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (contentType && !/json/i.test(contentType)) {
    throw new HubError(415, ErrorCodes.UnsupportedMediaType, `the body is ${contentType}, not JSON`, 'send Content-Type: application/json with a JSON body');
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw badRequest(`the body is not valid JSON: ${(error as Error).message}`, 'send a JSON document with Content-Type: application/json');
  }
}

function integerParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const text = query.get(name);
  if (text === null) return fallback;
  if (!/^\d+$/.test(text)) throw badRequest(`?${name}=${text} is not a whole number`);
  return Math.min(Number(text), max);
}

export interface HttpApi {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpApi(service: HubService, options: { port: number; host?: string; ota?: OtaApi }): Promise<HttpApi> {
  const { store, front } = service;
  const streams = new Set<http.ServerResponse>();
  const routes: Route[] = [];
  const route = (method: string, path: string, handler: Handler, routeOptions: { maxBody?: number } = {}) =>
    routes.push({ method, pattern: path.split('/').filter(Boolean), handler, maxBody: routeOptions.maxBody });

  const sse = (request: Request, event: 'telemetry' | 'log', filter: (item: TelemetryMessage | HubLogEntry) => boolean): Reply => {
    const res = request.res;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': thingkit hub stream\n\n');
    streams.add(res);
    const source = event === 'telemetry' ? front : front.log;
    const name = event === 'telemetry' ? 'telemetry' : 'entry';
    const listener = (item: TelemetryMessage | HubLogEntry) => {
      if (!filter(item)) return;
      const data = event === 'telemetry' ? telemetryView(item as TelemetryMessage) : item;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    source.on(name, listener);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    const stop = () => {
      clearInterval(heartbeat);
      source.off(name, listener);
      streams.delete(res);
    };
    request.raw.on('close', stop);
    res.on('close', stop);
    return 'streaming';
  };

  route('GET', '/', () => ({
    status: 200,
    body: {
      name: 'thingkit local IoT hub',
      hostName: service.hostName,
      idScope: service.idScope,
      mqtt: front.url,
      routes: [
        'GET /health',
        'GET|POST /devices',
        'GET|PUT|PATCH|DELETE /devices/{id}',
        'GET|PATCH /twins/{id}',
        'POST /twins/{id}/methods',
        'GET /devices/{id}/methods',
        'GET|POST /devices/{id}/messages/devicebound',
        'GET /messages/devicebound/{messageId}',
        'GET /messages/serviceBound/feedback',
        'GET /devices/{id}/telemetry',
        'GET /devices/{id}/stats',
        'GET /devices/silent',
        'GET /telemetry/stream (SSE)',
        'GET /enrollments · GET|PUT|DELETE /enrollments/{registrationId}',
        'GET /enrollmentGroups · GET|PUT|DELETE /enrollmentGroups/{id} · GET /enrollmentGroups/{id}/registrations',
        'GET|DELETE /registrations/{registrationId}',
        'GET /logs · GET /logs/stream (SSE)',
        ...(options.ota
          ? ['GET /ota', 'GET|POST /ota/images', 'GET|HEAD|DELETE /ota/images/{name} (GET with Range)', 'GET|POST /ota/campaigns', 'GET /ota/campaigns/{id}', 'POST /ota/campaigns/{id}/cancel']
          : []),
      ],
    },
  }));
  route('GET', '/health', () => ({ status: 200, body: { ok: true, devices: store.devices.count(), connected: front.connectedDevices().length } }));

  // ---- statistics ----
  // Registered before GET /devices/{id}: "silent" here is the list, not a device (GET /twins/silent and
  // /devices/silent/stats still reach a device of that name).
  route('GET', '/devices/silent', (r) => ({ status: 200, body: service.silentDevices(silentFactor(r.query.get('factor'))) }));
  route('GET', '/devices/:id/stats', (r, [id]) => ({ status: 200, body: service.deviceStats(id, silentFactor(r.query.get('factor'))) }));

  // ---- registry ----
  route('GET', '/devices', () => ({ status: 200, body: store.devices.list().map((d) => service.deviceView(d)) }));
  route('POST', '/devices', (r) => ({ status: 201, body: service.deviceView(service.createDevice(r.body)) }));
  route('PUT', '/devices/:id', (r, [id]) => {
    const body = r.body === undefined ? {} : r.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the device must be a JSON object');
    const given = (body as { deviceId?: unknown }).deviceId;
    if (given !== undefined && given !== id) throw badRequest(`the body's deviceId "${String(given)}" differs from the path's "${id}"`);
    return { status: 201, body: service.deviceView(service.createDevice({ ...body, deviceId: id })) };
  });
  route('GET', '/devices/:id', (_r, [id]) => ({ status: 200, body: service.deviceView(store.devices.require(id)) }));
  route('PATCH', '/devices/:id', (r, [id]) => {
    const body = (r.body ?? {}) as { status?: unknown; statusReason?: unknown };
    if (typeof body !== 'object' || body === null || body.status === undefined) throw badRequest('send {"status": "enabled"} or {"status": "disabled"}', 'only the status of a device can be changed; delete and re-create it to change its credentials');
    return { status: 200, body: service.deviceView(service.setStatus(id, body.status, body.statusReason)) };
  });
  route('DELETE', '/devices/:id', (_r, [id]) => {
    service.deleteDevice(id);
    return { status: 204 };
  });

  // ---- twins ----
  route('GET', '/twins/:id', (_r, [id]) => ({ status: 200, body: service.twinView(store.twins.require(id)) }));
  route('PATCH', '/twins/:id', (r, [id]) => {
    if (r.body === undefined) throw badRequest('send the twin update as a JSON body, e.g. {"properties": {"desired": {"interval": 30}}}');
    const ifMatch = typeof r.headers['if-match'] === 'string' ? r.headers['if-match'] : undefined;
    const { twin, notified } = service.updateTwin(id, r.body, ifMatch);
    return { status: 200, body: service.twinView(twin), headers: { 'x-thingkit-device-notified': String(notified) } };
  });

  // ---- direct methods ----
  route('POST', '/twins/:id/methods', async (r, [id]) => {
    const body = r.body as { methodName?: unknown; payload?: unknown; responseTimeoutInSeconds?: unknown; connectTimeoutInSeconds?: unknown } | undefined;
    if (!body || typeof body !== 'object') throw badRequest('send {"methodName": "...", "payload": ..., "responseTimeoutInSeconds": 30}');
    const result = await service.invokeMethod(id, {
      methodName: body.methodName as string,
      payload: body.payload,
      responseTimeoutInSeconds: body.responseTimeoutInSeconds as number | undefined,
      connectTimeoutInSeconds: body.connectTimeoutInSeconds as number | undefined,
    });
    return { status: 200, body: result };
  });
  route('GET', '/devices/:id/methods', (r, [id]) => {
    store.devices.require(id);
    return { status: 200, body: store.methods.list(id, integerParam(r.query, 'limit', 50, 200)) };
  });

  // ---- cloud-to-device ----
  route('POST', '/devices/:id/messages/devicebound', (r, [id]) => {
    const body = r.body as { [key: string]: unknown } | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('send {"payload": ..., "properties": {...}, "ack": "full", "ttlSeconds": 3600}');
    const message: NewC2dMessage = { ...(body as object), payload: body.payload } as NewC2dMessage;
    if (body.payloadBase64 !== undefined) {
      if (body.payload !== undefined) throw badRequest('give either payload or payloadBase64, not both');
      if (typeof body.payloadBase64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.payloadBase64)) throw badRequest('payloadBase64 is not base64');
      message.payload = Buffer.from(body.payloadBase64, 'base64');
    }
    if (body.ttlSeconds !== undefined) {
      if (typeof body.ttlSeconds !== 'number' || !(body.ttlSeconds > 0)) throw badRequest('ttlSeconds must be a positive number');
      message.ttlMs = body.ttlSeconds * 1000;
    }
    delete (message as { ttlSeconds?: unknown }).ttlSeconds;
    delete (message as { payloadBase64?: unknown }).payloadBase64;
    return { status: 201, body: c2dView(service.sendC2d(id, message)) };
  });
  route('GET', '/devices/:id/messages/devicebound', (r, [id]) => {
    store.devices.require(id);
    return { status: 200, body: store.c2d.list(id, { limit: integerParam(r.query, 'limit', 100, 1000) }).map(c2dView) };
  });
  route('GET', '/messages/devicebound/:messageId', (_r, [messageId]) => {
    const message = store.c2d.get(messageId);
    if (!message) throw notFound(`cloud-to-device message "${messageId}"`, 'list a device\'s messages with GET /devices/{id}/messages/devicebound');
    return { status: 200, body: c2dView(message) };
  });
  route('GET', '/messages/serviceBound/feedback', (r) => ({ status: 200, body: store.c2d.feedback({ deviceId: r.query.get('deviceId') ?? undefined, limit: integerParam(r.query, 'limit', 100, 1000) }) }));

  // ---- telemetry ----
  route('GET', '/devices/:id/telemetry', (r, [id]) => {
    store.devices.require(id);
    const messages = store.telemetry.recent(id, { limit: integerParam(r.query, 'limit', 100, 10_000), afterSeq: integerParam(r.query, 'after', 0, Number.MAX_SAFE_INTEGER) });
    return { status: 200, body: messages.map(telemetryView) };
  });
  route('GET', '/telemetry/stream', (r) => {
    const deviceId = r.query.get('deviceId');
    return sse(r, 'telemetry', (m) => !deviceId || (m as TelemetryMessage).deviceId === deviceId);
  });

  // ---- DPS ----
  route('GET', '/enrollments', () => ({ status: 200, body: store.enrollments.listEnrollments() }));
  route('PUT', '/enrollments/:id', (r, [id]) => {
    const { enrollment, created } = store.enrollments.putEnrollment(id, r.body ?? {});
    return { status: created ? 201 : 200, body: enrollment };
  });
  route('GET', '/enrollments/:id', (_r, [id]) => {
    const enrollment = store.enrollments.getEnrollment(id);
    if (!enrollment) throw notFound(`enrollment "${id}"`, 'create it with PUT /enrollments/{registrationId}');
    return { status: 200, body: enrollment };
  });
  route('DELETE', '/enrollments/:id', (_r, [id]) => {
    store.enrollments.deleteEnrollment(id);
    return { status: 204 };
  });
  route('GET', '/enrollmentGroups', () => ({ status: 200, body: store.enrollments.listGroups() }));
  route('PUT', '/enrollmentGroups/:id', (r, [id]) => {
    const { group, created } = store.enrollments.putGroup(id, r.body ?? {});
    return { status: created ? 201 : 200, body: group };
  });
  route('GET', '/enrollmentGroups/:id', (r, [id]) => {
    const group = store.enrollments.getGroup(id);
    if (!group) throw notFound(`enrollment group "${id}"`, 'create it with PUT /enrollmentGroups/{id}');
    const registrationId = r.query.get('deriveFor');
    if (registrationId) return { status: 200, body: { ...group, derivedKeys: { registrationId, ...EnrollmentStore.derivedKeys(group, registrationId) } } };
    return { status: 200, body: group };
  });
  route('DELETE', '/enrollmentGroups/:id', (_r, [id]) => {
    store.enrollments.deleteGroup(id);
    return { status: 204 };
  });
  route('GET', '/enrollmentGroups/:id/registrations', (_r, [id]) => {
    if (!store.enrollments.getGroup(id)) throw notFound(`enrollment group "${id}"`);
    return { status: 200, body: store.enrollments.listRegistrations(id) };
  });
  route('GET', '/registrations/:id', (_r, [id]) => {
    const registration = store.enrollments.getRegistration(id);
    if (!registration) throw notFound(`registration "${id}"`, 'a registration exists once a device has registered through DPS');
    return { status: 200, body: registration };
  });
  route('DELETE', '/registrations/:id', (_r, [id]) => {
    store.enrollments.deleteRegistration(id);
    return { status: 204 };
  });

  // ---- logs ----
  route('GET', '/logs', (r) => ({
    status: 200,
    body: front.log.recent({ deviceId: r.query.get('deviceId') ?? undefined, event: r.query.get('event') ?? undefined, limit: integerParam(r.query, 'limit', 200, 1000) }),
  }));
  route('GET', '/logs/stream', (r) => {
    const deviceId = r.query.get('deviceId');
    return sse(r, 'log', (e) => !deviceId || (e as HubLogEntry).deviceId === deviceId);
  });

  // ---- OTA ----
  if (options.ota) registerOtaRoutes(route, options.ota);

  const match = (method: string, segments: string[]): { handler: Handler; params: string[]; maxBody?: number } | { allowed: string[] } | undefined => {
    const allowed: string[] = [];
    for (const r of routes) {
      if (r.pattern.length !== segments.length) continue;
      const params: string[] = [];
      let ok = true;
      for (let i = 0; i < r.pattern.length; i++) {
        if (r.pattern[i].startsWith(':')) params.push(segments[i]);
        else if (r.pattern[i] !== segments[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (r.method === method) return { handler: r.handler, params, maxBody: r.maxBody };
      allowed.push(r.method);
    }
    return allowed.length ? { allowed } : undefined;
  };

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: { [name: string]: string } = {}) => {
    if (res.headersSent) return;
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body, null, 2) + '\n';
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://hub');
      let segments: string[];
      try {
        segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        throw badRequest('the path has invalid URL encoding');
      }
      const method = req.method ?? 'GET';
      const found = match(method, segments);
      if (!found) throw notFound(`${url.pathname}`, 'GET / lists the routes');
      if ('allowed' in found) {
        throw new HubError(405, 405000, `${method} is not supported on ${url.pathname}`, `use ${[...new Set(found.allowed)].join(' or ')}`);
      }
      const raw = method === 'GET' || method === 'HEAD' || method === 'DELETE' ? Buffer.alloc(0) : await readBody(req, found.maxBody);
      const body = parseJsonBody(raw, req.headers['content-type']);
      const reply = await found.handler({ method, path: segments, query: url.searchParams, headers: req.headers, body, raw: req, res }, found.params);
      if (reply === 'streaming') return;
      send(res, reply.status, reply.body, reply.headers);
    } catch (error) {
      const hubError = asHubError(error);
      if (hubError.status >= 500) front.log.write({ level: 'error', event: 'http.error', message: `${req.method} ${req.url}: ${hubError.message}` });
      send(res, hubError.status, hubError.toJSON());
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `HTTP port ${options.port} is in use: stop what uses it or choose another port` : `cannot start the HTTP API: ${error.message}`)),
    );
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    async close() {
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

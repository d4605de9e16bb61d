/**
 * The twin core on fake time: the reconnection flow (GET on every connection), desired
 * notifications in $version order (stale ignored, gap -> GET, held while a GET is out),
 * reported patches (one at a time, 2xx/400/429/5xx, timeouts, reconnects), limits, and the
 * IoT Plug and Play acknowledgement builders. Payload shapes follow the MQTT article's
 * examples ({"desired": {..., "$version": 12}, "reported": {..., "$version": 123}}).
 */
import {
  applyTwinPatch,
  MAX_REPORTED_PATCH_BYTES,
  PNP_ACK_COMPLETED,
  TwinSync,
  writableProperties,
  writablePropertyAck,
  type TwinEvent,
  type TwinOutput,
  type TwinSyncOptions,
} from '../../firmware/iot/azure/twin';
import { AzureError, type AzurePublish, type JsonObject } from '../../firmware/iot/azure/types';
import { json, nodeCodec, text, utf8 } from './support';

class TwinHarness {
  readonly twin: TwinSync;
  now = 1_000;
  sent: AzurePublish[] = [];
  events: TwinEvent[] = [];

  constructor(options: TwinSyncOptions = {}) {
    this.twin = new TwinSync(nodeCodec, options);
  }

  apply<T extends TwinOutput>(out: T): T {
    this.sent.push(...out.publish);
    this.events.push(...out.events);
    expect(out.nextDeadline).toBe(this.twin.nextDeadline());
    for (const message of out.publish) expect(message.qos).toBe(0);
    return out;
  }

  connect(): void {
    this.apply(this.twin.connected(this.now));
  }

  disconnect(): void {
    this.apply(this.twin.disconnected(this.now));
  }

  receive(topic: string, payload: Uint8Array | string = ''): boolean {
    return this.apply(this.twin.received(topic, typeof payload === 'string' ? utf8(payload) : payload, this.now)).handled;
  }

  respond(requestId: string, status: number, body?: unknown, version?: number): void {
    const query = version === undefined ? `$rid=${requestId}` : `$rid=${requestId}&$version=${version}`;
    this.receive(`$iothub/twin/res/${status}/?${query}`, body === undefined ? '' : json(body));
  }

  desired(version: number, patch: JsonObject): void {
    this.receive(`$iothub/twin/PATCH/properties/desired/?$version=${version}`, json({ ...patch, $version: version }));
  }

  report(patch: JsonObject): number {
    return this.apply(this.twin.report(patch, this.now)).patchId;
  }

  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const deadline = this.twin.nextDeadline();
      if (deadline === undefined || deadline > target) break;
      this.now = Math.max(this.now, deadline);
      this.apply(this.twin.tick(this.now));
    }
    this.now = target;
  }

  take(): { sent: AzurePublish[]; events: TwinEvent[] } {
    const taken = { sent: this.sent, events: this.events };
    this.sent = [];
    this.events = [];
    return taken;
  }

  /** The request id of a GET or PATCH topic. */
  static rid(message: AzurePublish): string {
    return /\?\$rid=(.+)$/.exec(message.topic)?.[1] as string;
  }

  /** Connects and answers the first GET with `desired` at `version`. */
  sync(desired: JsonObject, version: number, reported: JsonObject = { $version: 1 }): void {
    this.connect();
    const get = this.take().sent[0];
    expect(get.topic).toMatch(/^\$iothub\/twin\/GET\/\?\$rid=/);
    this.respond(TwinHarness.rid(get), 200, { desired: { ...desired, $version: version }, reported });
    this.take();
  }
}

const rid = TwinHarness.rid;

describe('reconnection flow: GET on every connection', () => {
  test('connecting sends GET with an empty payload; 200 gives the twin and the full desired document', () => {
    const h = new TwinHarness();
    expect(h.twin.nextDeadline()).toBeUndefined();
    h.connect();
    const { sent } = h.take();
    expect(sent).toEqual([{ topic: '$iothub/twin/GET/?$rid=1', payload: new Uint8Array(0), qos: 0 }]);
    h.respond('1', 200, {
      desired: { telemetrySendFrequency: '5m', $version: 12 },
      reported: { telemetrySendFrequency: '5m', batteryLevel: 55, $version: 123 },
    });
    expect(h.take().events).toEqual([
      {
        type: 'twin',
        desired: { telemetrySendFrequency: '5m', $version: 12 },
        reported: { telemetrySendFrequency: '5m', batteryLevel: 55, $version: 123 },
        desiredVersion: 12,
        reportedVersion: 123,
      },
      { type: 'desiredChanged', patch: { telemetrySendFrequency: '5m' }, version: 12, full: true },
    ]);
    expect(h.twin.desired).toEqual({ telemetrySendFrequency: '5m' });
    expect(h.twin.desiredVersion).toBe(12);
    expect(h.twin.reportedVersion).toBe(123);
    expect(h.twin.nextDeadline()).toBeUndefined();
  });

  test('a reconnect GETs again; an unchanged version gives no desiredChanged, a changed one replaces the state', () => {
    const h = new TwinHarness();
    h.sync({ a: 1, b: { c: 2 } }, 5);
    h.disconnect();
    h.connect();
    let get = h.take().sent[0];
    h.respond(rid(get), 200, { desired: { a: 1, b: { c: 2 }, $version: 5 }, reported: {} });
    expect(h.take().events.map((event) => event.type)).toEqual(['twin']);
    h.disconnect();
    h.connect();
    get = h.take().sent[0];
    h.respond(rid(get), 200, { desired: { z: true, $version: 9 }, reported: { $version: 3 } });
    expect(h.take().events[1]).toEqual({ type: 'desiredChanged', patch: { z: true }, version: 9, full: true });
    expect(h.twin.desired).toEqual({ z: true });
  });

  test('nothing is sent while disconnected; no timers either', () => {
    const h = new TwinHarness();
    h.apply(h.twin.refresh(h.now));
    h.report({ x: 1 });
    expect(h.take().sent).toEqual([]);
    expect(h.twin.nextDeadline()).toBeUndefined();
  });

  test('a non-twin topic is not handled', () => {
    const h = new TwinHarness();
    expect(h.receive('$iothub/methods/POST/m/?$rid=1')).toBe(false);
    expect(h.receive('devices/d/messages/devicebound/')).toBe(false);
    expect(h.take().events).toEqual([]);
  });
});

describe('desired notifications', () => {
  test('applied in $version order: next applied, stale and duplicates ignored', () => {
    const h = new TwinHarness();
    h.sync({ telemetrySendFrequency: '5m', route: 'a' }, 7);
    h.desired(8, { telemetrySendFrequency: '1m', route: null });
    expect(h.take().events).toEqual([{ type: 'desiredChanged', patch: { telemetrySendFrequency: '1m', route: null }, version: 8, full: false }]);
    expect(h.twin.desired).toEqual({ telemetrySendFrequency: '1m' });
    h.desired(8, { telemetrySendFrequency: 'dup' });
    h.desired(3, { telemetrySendFrequency: 'old' });
    expect(h.take()).toEqual({ sent: [], events: [] });
    expect(h.twin.desiredVersion).toBe(8);
  });

  test('a gap triggers a full GET, which replaces the state; held notifications after it are applied in order', () => {
    const h = new TwinHarness();
    h.sync({ n: 1 }, 10);
    h.desired(12, { n: 3 }); // 11 was lost
    const { sent, events } = h.take();
    expect(events).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0].topic).toMatch(/^\$iothub\/twin\/GET\//);
    h.desired(13, { m: 'x' }); // arrives while the GET is out: held
    h.respond(rid(sent[0]), 200, { desired: { n: 3, $version: 12 }, reported: {} });
    expect(h.take().events.filter((event) => event.type === 'desiredChanged')).toEqual([
      { type: 'desiredChanged', patch: { n: 3 }, version: 12, full: true },
      { type: 'desiredChanged', patch: { m: 'x' }, version: 13, full: false },
    ]);
    expect(h.twin.desired).toEqual({ n: 3, m: 'x' });
  });

  test('notifications arriving before the first GET completes are held, and stale ones dropped after it', () => {
    const h = new TwinHarness();
    h.connect();
    const get = h.take().sent[0];
    h.desired(6, { a: 6 });
    h.desired(5, { a: 5 });
    h.respond(rid(get), 200, { desired: { a: 5, $version: 5 }, reported: {} });
    const changes = h.take().events.filter((event) => event.type === 'desiredChanged');
    expect(changes.map((event) => (event as { version: number }).version)).toEqual([5, 6]);
    expect(h.twin.desired).toEqual({ a: 6 });
  });

  test('too many held notifications: another GET after the current one', () => {
    const h = new TwinHarness({ maxHeldNotifications: 1 });
    h.sync({}, 1);
    h.desired(3, { a: 3 }); // gap -> GET
    const get = h.take().sent[0];
    h.desired(4, { a: 4 }); // held? no: one already held -> overflow
    h.respond(rid(get), 200, { desired: { a: 2, $version: 2 }, reported: {} });
    const { sent } = h.take();
    expect(sent.filter((message) => message.topic.startsWith('$iothub/twin/GET/'))).toHaveLength(1);
  });

  test('a notification that is not JSON is an error and asks for the whole twin', () => {
    const h = new TwinHarness();
    h.sync({}, 1);
    h.receive('$iothub/twin/PATCH/properties/desired/?$version=2', '{not json');
    const { sent, events } = h.take();
    expect(events).toEqual([{ type: 'error', error: { code: 'bad-message', message: expect.stringMatching(/\$version 2 is not a JSON object: \{not json/) } }]);
    expect(sent[0].topic).toMatch(/GET/);
  });

  test('a malformed twin topic is an error event, not a throw', () => {
    const h = new TwinHarness();
    expect(h.receive('$iothub/twin/res/2x0/?$rid=1')).toBe(true);
    expect(h.take().events[0]).toMatchObject({ type: 'error', error: { code: 'bad-message' } });
  });

  test('applyTwinPatch: null deletes, objects merge, arrays replace, $ members skipped, __proto__ stays a plain key', () => {
    const target: JsonObject = { a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x' };
    applyTwinPatch(target, JSON.parse('{"a":null,"b":{"c":null,"g":{"h":null,"i":1}},"e":[3],"$version":4,"__proto__":{"polluted":true}}') as JsonObject);
    expect(target).toEqual(JSON.parse('{"b":{"d":3,"g":{"i":1}},"e":[3],"f":"x","__proto__":{"polluted":true}}'));
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
  });
});

describe('reported patches', () => {
  test('PATCH with the JSON as QoS 0, one at a time', () => {
    const h = new TwinHarness();
    h.sync({}, 1);
    expect(h.report({ telemetrySendFrequency: '35m', batteryLevel: 60 })).toBe(1);
    expect(h.report({ batteryLevel: 59 })).toBe(2);
    expect(h.take().sent).toEqual([
      { topic: '$iothub/twin/PATCH/properties/reported/?$rid=2', payload: utf8('{"telemetrySendFrequency":"35m","batteryLevel":60}'), qos: 0 },
    ]);
    expect(h.twin.queuedPatches).toBe(2);
  });

  test('acknowledgements and ordering', () => {
    const h = new TwinHarness();
    h.sync({}, 1);
    const first = h.report({ a: 1 });
    const second = h.report({ b: 2 });
    const patch1 = h.take().sent[0];
    h.respond(rid(patch1), 204, undefined, 6);
    const { sent, events } = h.take();
    expect(events).toEqual([{ type: 'reported', patchId: first, version: 6 }]);
    expect(sent).toHaveLength(1);
    expect(text(sent[0].payload)).toBe('{"b":2}');
    h.respond(rid(sent[0]), 200);
    expect(h.take().events).toEqual([{ type: 'reported', patchId: second, version: undefined }]);
    expect(h.twin.reportedVersion).toBe(6);
    expect(h.twin.queuedPatches).toBe(0);
    expect(h.twin.nextDeadline()).toBeUndefined();
  });

  test('400 is rejected: an error event, not retried, and the next patch goes', () => {
    const h = new TwinHarness();
    h.sync({}, 1);
    const bad = h.report({ a: 1 });
    h.report({ b: 2 });
    const patch = h.take().sent[0];
    h.respond(rid(patch), 400, { errorCode: 400004, message: 'Malformed JSON' });
    const { sent, events } = h.take();
    expect(events).toEqual([
      { type: 'error', error: { code: 'reported-rejected', status: 400, patchId: bad, message: expect.stringMatching(/status 400: \{"errorCode":400004,"message":"Malformed JSON"\}/) } },
    ]);
    expect(text(sent[0].payload)).toBe('{"b":2}');
    h.respond(rid(sent[0]), 204, undefined, 3);
    h.take();
    h.advance(120_000);
    expect(h.take().sent).toEqual([]); // the rejected patch never comes back
  });

  test('429 and 5xx are retried with exponential backoff, the same patch, a new request id', () => {
    const h = new TwinHarness({ retryBaseMs: 1_000 });
    h.sync({}, 1);
    const id = h.report({ a: 1 });
    let patch = h.take().sent[0];
    h.respond(rid(patch), 429);
    expect(h.take().sent).toEqual([]);
    expect(h.twin.nextDeadline()).toBe(h.now + 1_000);
    h.advance(999);
    expect(h.take().sent).toEqual([]);
    h.advance(1);
    patch = h.take().sent[0];
    expect(text(patch.payload)).toBe('{"a":1}');
    h.respond(rid(patch), 503);
    expect(h.twin.nextDeadline()).toBe(h.now + 2_000);
    h.advance(2_000);
    patch = h.take().sent[0];
    h.respond(rid(patch), 204, undefined, 2);
    expect(h.take().events).toEqual([{ type: 'reported', patchId: id, version: 2 }]);
  });

  test('jitter spreads retries within [delay/2, delay]', () => {
    const h = new TwinHarness({ retryBaseMs: 1_000, random: () => 0 });
    h.sync({}, 1);
    h.report({ a: 1 });
    h.respond(rid(h.take().sent[0]), 429);
    expect(h.twin.nextDeadline()).toBe(h.now + 500);
  });

  test('after maxAttempts the patch is dropped with "reported-failed"', () => {
    const h = new TwinHarness({ maxAttempts: 3, retryBaseMs: 10, retryCapMs: 10 });
    h.sync({}, 1);
    const id = h.report({ a: 1 });
    for (let i = 0; i < 3; i++) {
      const patch = h.take().sent[0];
      h.respond(rid(patch), 500);
      h.advance(10);
    }
    const { events } = h.take();
    expect(events).toEqual([{ type: 'error', error: { code: 'reported-failed', status: 500, patchId: id, message: expect.stringMatching(/3 attempts/) } }]);
    expect(h.twin.queuedPatches).toBe(0);
  });

  test('no response within the timeout: sent again; the late answer to the old request id is ignored', () => {
    const h = new TwinHarness({ requestTimeoutMs: 5_000, retryBaseMs: 1_000 });
    h.sync({}, 1);
    const id = h.report({ a: 1 });
    const first = h.take().sent[0];
    h.advance(5_000 + 1_000);
    const second = h.take().sent[0];
    expect(rid(second)).not.toBe(rid(first));
    h.respond(rid(first), 204, undefined, 9);
    expect(h.take().events).toEqual([]);
    h.respond(rid(second), 204, undefined, 9);
    expect(h.take().events).toEqual([{ type: 'reported', patchId: id, version: 9 }]);
  });

  test('a disconnect while a patch is out: on reconnect, GET first and then the same patch again', () => {
    const h = new TwinHarness();
    h.sync({}, 1);
    h.report({ a: 1 });
    const before = h.take().sent[0];
    h.disconnect();
    expect(h.twin.nextDeadline()).toBeUndefined();
    h.respond(rid(before), 204, undefined, 2); // a late answer from the old connection
    expect(h.take().events).toEqual([]);
    h.connect();
    const { sent } = h.take();
    expect(sent.map((message) => message.topic.split('?')[0])).toEqual(['$iothub/twin/GET/', '$iothub/twin/PATCH/properties/reported/']);
    expect(text(sent[1].payload)).toBe('{"a":1}');
  });

  test('limits before sending: 32 KB per patch, queue length and bytes; twin key rules', () => {
    const h = new TwinHarness({ maxQueuedPatches: 2 });
    h.sync({}, 1);
    const patchOfSize = (bytes: number): JsonObject => {
      const patch: JsonObject = {};
      let size = 2; // {}
      for (let i = 0; size < bytes; i++) {
        const key = `k${i}`;
        const overhead = key.length + 5 + (i > 0 ? 1 : 0); // "k":"" and a comma
        const room = Math.min(4_000, bytes - size - overhead);
        patch[key] = 'x'.repeat(Math.max(0, room));
        size += overhead + Math.max(0, room);
      }
      expect(JSON.stringify(patch).length).toBe(bytes);
      return patch;
    };
    expect(() => h.report(patchOfSize(MAX_REPORTED_PATCH_BYTES + 1))).toThrow(expect.objectContaining({ code: 'too-large', message: expect.stringMatching(/32769 bytes.*32 KB/) }));
    expect(h.report(patchOfSize(MAX_REPORTED_PATCH_BYTES))).toBe(1);
    expect(() => h.report({ b: 1 })).toThrow(expect.objectContaining({ code: 'queue-full' })); // 32 KiB of bytes queued
    const small = new TwinHarness({ maxQueuedPatches: 2 });
    small.report({ a: 1 });
    small.report({ a: 2 });
    expect(() => small.report({ a: 3 })).toThrow(/2 reported patches already await/);
    for (const bad of [{ 'a.b': 1 }, { $x: 1 }, { 'a b': 1 }, { '': 1 }, { a: { 'b\u0001': 1 } }, { a: 'x'.repeat(4_097) }, { a: Number.NaN }]) {
      expect(() => small.report(bad as unknown as JsonObject)).toThrow(AzureError);
    }
    let deep: JsonObject = { leaf: 1 };
    for (let i = 0; i < 10; i++) deep = { level: deep };
    expect(() => small.report(deep)).toThrow(/deeper than 10/);
    expect(() => small.report([] as unknown as JsonObject)).toThrow(/JSON object/);
  });
});

describe('GET failures', () => {
  test('429 and 5xx retry the GET with backoff; another 4xx is a get-failed error', () => {
    const h = new TwinHarness({ retryBaseMs: 1_000 });
    h.connect();
    let get = h.take().sent[0];
    h.respond(rid(get), 429);
    h.advance(1_000);
    get = h.take().sent[0];
    expect(get.topic).toMatch(/GET/);
    h.respond(rid(get), 500);
    h.advance(2_000);
    get = h.take().sent[0];
    h.respond(rid(get), 404, { message: 'no twin' });
    expect(h.take().events).toEqual([{ type: 'error', error: { code: 'get-failed', status: 404, message: expect.stringMatching(/status 404/) } }]);
    expect(h.twin.nextDeadline()).toBeUndefined();
  });

  test('a GET answered with something that is not a twin document is an error, then retried', () => {
    const h = new TwinHarness({ retryBaseMs: 100 });
    h.connect();
    h.respond(rid(h.take().sent[0]), 200, { desired: { noVersion: true } });
    expect(h.take().events[0]).toMatchObject({ type: 'error', error: { code: 'bad-message' } });
    h.advance(100);
    expect(h.take().sent[0].topic).toMatch(/GET/);
  });

  test('a GET with no answer is sent again after the timeout', () => {
    const h = new TwinHarness({ requestTimeoutMs: 1_000, retryBaseMs: 500 });
    h.connect();
    h.take();
    h.advance(1_500);
    expect(h.take().sent.map((message) => message.topic)).toEqual(['$iothub/twin/GET/?$rid=2']);
  });
});

describe('IoT Plug and Play writable properties', () => {
  test('acknowledgement shape: value, ac, av, ad; inside a component with "__t": "c"', () => {
    expect(writablePropertyAck('targetTemperature', 21.8, PNP_ACK_COMPLETED, 4, 'Successfully executed patch')).toEqual({
      targetTemperature: { value: 21.8, ac: 200, av: 4, ad: 'Successfully executed patch' },
    });
    expect(writablePropertyAck('targetTemperature', 21.8, 200, 4, undefined, 'thermostat1')).toEqual({
      thermostat1: { __t: 'c', targetTemperature: { value: 21.8, ac: 200, av: 4 } },
    });
    expect(() => writablePropertyAck('p', 1, 200.5, 1)).toThrow(AzureError);
    expect(() => writablePropertyAck('p', 1, 200, -1)).toThrow(AzureError);
  });

  test('writableProperties lists a patch’s properties, for the root or a component', () => {
    const patch = { targetTemperature: 20, $version: 4, thermostat1: { __t: 'c', targetTemperature: 21, mode: null } } as JsonObject;
    expect(writableProperties(patch)).toEqual([['targetTemperature', 20]]);
    expect(writableProperties(patch, 'thermostat1')).toEqual([
      ['targetTemperature', 21],
      ['mode', null],
    ]);
    expect(writableProperties(patch, 'absent')).toEqual([]);
  });

  test('an acknowledgement is a valid reported patch', () => {
    const h = new TwinHarness();
    h.sync({ targetTemperature: 21 }, 4);
    h.report(writablePropertyAck('targetTemperature', 21, 200, 4, 'ok', 'thermostat1'));
    expect(JSON.parse(text(h.take().sent[0].payload))).toEqual({ thermostat1: { __t: 'c', targetTemperature: { value: 21, ac: 200, av: 4, ad: 'ok' } } });
  });
});

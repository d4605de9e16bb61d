import { encodePacket } from '../../firmware/iot/mqtt/encode';
import { MqttProtocolError, MqttSessionError } from '../../firmware/iot/mqtt/errors';
import type { MqttPacket } from '../../firmware/iot/mqtt/packets';
import { MqttSession } from '../../firmware/iot/mqtt/session';
import { Harness, text } from './harness';
import { hex, utf8 } from './support';

describe('MqttSession: connecting', () => {
  test('connect() sends CONNECT with the options; CONNACK connects', () => {
    const will = { topic: 'devices/d1/status', payload: utf8('offline'), qos: 1 as const, retain: true };
    const h = new Harness({ clientId: 'd1', cleanSession: false, keepAliveSeconds: 30, username: 'hub/d1', password: utf8('secret'), will });
    expect(h.session.state).toBe('disconnected');
    expect(h.session.nextDeadline()).toBeUndefined();
    h.open();
    expect(h.session.state).toBe('connecting');
    expect(h.take().sent).toEqual([{ type: 'connect', clientId: 'd1', cleanSession: false, keepAliveSeconds: 30, username: 'hub/d1', password: utf8('secret'), will }]);
    h.deliver({ type: 'connack', sessionPresent: true, returnCode: 0 });
    expect(h.session.state).toBe('connected');
    expect(h.take()).toEqual({ sent: [], events: [{ type: 'connected', sessionPresent: true }] });
    expect(h.closed).toBe(false);
  });

  test('connect() can replace the credentials (a renewed token)', () => {
    const h = new Harness({ username: 'u', password: utf8('old') });
    h.open();
    h.lose();
    h.take();
    h.apply(h.session.connect(h.now, { username: 'u', password: utf8('new') }));
    expect(h.take().sent).toEqual([expect.objectContaining({ type: 'connect', username: 'u', password: utf8('new') })]);
  });

  test('connect() twice without the connection ending is refused', () => {
    const h = new Harness();
    h.open();
    expect(() => h.session.connect(h.now)).toThrow(MqttSessionError);
    h.deliver({ type: 'connack', sessionPresent: false, returnCode: 0 });
    expect(() => h.session.connect(h.now)).toThrow(/connect\(\) while connected/);
  });

  test('no CONNACK within the connect timeout: disconnected, reason "connect timeout"', () => {
    const h = new Harness({ connectTimeoutMs: 5_000 });
    h.open();
    expect(h.session.nextDeadline()).toBe(h.now + 5_000);
    h.advance(4_999);
    expect(h.session.state).toBe('connecting');
    h.advance(1);
    expect(h.session.state).toBe('disconnected');
    expect(h.take().events).toEqual([{ type: 'disconnected', reason: 'connect timeout' }]);
    expect(h.closed).toBe(true);
    expect(h.session.nextDeadline()).toBeUndefined();
  });

  test.each([
    [1, 'unacceptable protocol version'],
    [2, 'identifier rejected'],
    [3, 'server unavailable'],
    [4, 'bad user name or password'],
    [5, 'not authorized'],
  ] as const)('CONNACK refusal %i: disconnected, reason "%s"', (returnCode, reason) => {
    const h = new Harness();
    h.open();
    h.deliver({ type: 'connack', sessionPresent: false, returnCode });
    expect(h.take().events).toEqual([{ type: 'disconnected', reason, returnCode }]);
    expect(h.closed).toBe(true);
    expect(h.session.state).toBe('disconnected');
  });

  test('a packet other than CONNACK first is a protocol error', () => {
    const h = new Harness();
    h.open();
    h.deliver({ type: 'pingresp' });
    expect(h.take().events).toEqual([
      { type: 'error', message: 'expected CONNACK first, received PINGRESP [MQTT-3.2.0-1]' },
      { type: 'disconnected', reason: 'protocol error: expected CONNACK first, received PINGRESP [MQTT-3.2.0-1]' },
    ]);
    expect(h.closed).toBe(true);
  });
});

describe('MqttSession: publishing', () => {
  test('QoS 0 is sent at once, and refused when not connected', () => {
    const h = new Harness();
    expect(() => h.publish('t', 'x', 0)).toThrow(expect.objectContaining({ code: 'not-connected' }));
    h.open();
    expect(() => h.publish('t', 'x', 0)).toThrow(MqttSessionError); // CONNACK not yet received
    h.deliver({ type: 'connack', sessionPresent: false, returnCode: 0 });
    h.take();
    expect(h.publish('t', 'x', 0, true)).toBeUndefined();
    expect(h.take().sent).toEqual([{ type: 'publish', topic: 't', payload: utf8('x'), qos: 0, retain: true, dup: false }]);
  });

  test('QoS 1: PUBLISH with a packet id; PUBACK releases it with a "published" event', () => {
    const h = new Harness();
    h.connect();
    h.take();
    const id = h.publish('a/b', 'hello', 1);
    expect(id).toBe(1);
    expect(h.take().sent).toEqual([{ type: 'publish', topic: 'a/b', payload: utf8('hello'), qos: 1, retain: false, dup: false, packetId: 1 }]);
    expect(h.session.queuedMessages).toBe(1);
    expect(h.session.inFlight).toBe(1);
    h.deliver({ type: 'puback', packetId: 1 });
    expect(h.take().events).toEqual([{ type: 'published', packetId: 1 }]);
    expect(h.session.queuedMessages).toBe(0);
    expect(h.session.queuedBytes).toBe(0);
  });

  test('invalid topics throw MqttProtocolError and queue nothing', () => {
    const h = new Harness();
    h.connect();
    expect(() => h.publish('a/#', 'x', 1)).toThrow(MqttProtocolError);
    expect(() => h.publish('', 'x', 0)).toThrow(MqttProtocolError);
    expect(h.session.queuedMessages).toBe(0);
    h.publish('a', 'x', 1);
    expect(h.session.queuedMessages).toBe(1);
  });

  test('the payload is copied: the caller may reuse its buffer', () => {
    const h = new Harness();
    h.connect();
    h.take();
    const buffer = utf8('abc');
    h.apply(h.session.publish('t', buffer, { qos: 1 }, h.now));
    buffer.fill(0);
    h.lose();
    h.connect();
    expect(h.sentOfType('publish')[0].payload).toEqual(utf8('abc'));
  });

  test('the in-flight window holds messages back until PUBACKs arrive', () => {
    const h = new Harness({ maxInflight: 2, maxPending: 2 });
    h.connect();
    h.take();
    for (const n of [1, 2, 3, 4]) expect(h.publish('t', `m${n}`, 1)).toBe(n);
    expect(h.sentOfType('publish').map((p) => p.packetId)).toEqual([1, 2]);
    expect(h.session.inFlight).toBe(2);
    expect(h.session.queuedMessages).toBe(4);
    h.take();
    // Out-of-order PUBACK: the window still moves.
    h.deliver({ type: 'puback', packetId: 2 });
    expect(h.sentOfType('publish').map((p) => p.packetId)).toEqual([3]);
    h.deliver({ type: 'puback', packetId: 1 });
    expect(h.sentOfType('publish').map((p) => p.packetId)).toEqual([3, 4]);
    expect(h.take().events).toEqual([
      { type: 'published', packetId: 2 },
      { type: 'published', packetId: 1 },
    ]);
  });

  test('a full queue throws "queue-full" and never drops silently', () => {
    const h = new Harness({ maxInflight: 2, maxPending: 1 });
    h.connect();
    h.publish('t', '1', 1);
    h.publish('t', '2', 1);
    h.publish('t', '3', 1);
    expect(() => h.publish('t', '4', 1)).toThrow(expect.objectContaining({ name: 'MqttSessionError', code: 'queue-full' }));
    expect(h.session.queuedMessages).toBe(3);
    h.deliver({ type: 'puback', packetId: 1 });
    expect(h.publish('t', '4', 1)).toBe(4);
  });

  test('the byte budget bounds queued QoS 1 data', () => {
    // A 't' topic with a 10-byte payload encodes to 2 + 3 + 2 + 10 = 17 bytes.
    const h = new Harness({ maxQueuedBytes: 40 });
    h.publish('t', '0123456789', 1);
    h.publish('t', '0123456789', 1);
    expect(h.session.queuedBytes).toBe(34);
    expect(() => h.publish('t', '0123456789', 1)).toThrow(expect.objectContaining({ code: 'queue-full' }));
    expect(() => h.publish('t', 'x'.repeat(40), 1)).toThrow(expect.objectContaining({ code: 'too-large' }));
    expect(h.session.queuedMessages).toBe(2);
  });

  test('QoS 1 published while disconnected is queued and sent after CONNACK', () => {
    const h = new Harness();
    expect(h.publish('t', 'early', 1)).toBe(1);
    expect(h.take().sent).toEqual([]);
    h.open();
    expect(h.take().sent.map((p) => p.type)).toEqual(['connect']);
    h.deliver({ type: 'connack', sessionPresent: false, returnCode: 0 });
    expect(h.take().sent).toEqual([{ type: 'publish', topic: 't', payload: utf8('early'), qos: 1, retain: false, dup: false, packetId: 1 }]);
  });

  test('a persistent session resends unacknowledged messages with DUP=1 and their ids, in order', () => {
    const h = new Harness({ cleanSession: false, maxInflight: 2 });
    h.connect();
    h.publish('t', 'a', 1);
    h.publish('t', 'b', 1);
    h.publish('t', 'c', 1); // pending, never sent
    h.take();
    h.lose();
    expect(h.take().events).toEqual([{ type: 'disconnected', reason: 'connection reset' }]);
    h.connect(true);
    const resent = h.sentOfType('publish');
    expect(resent.map((p) => [p.packetId, text(p.payload), p.dup])).toEqual([
      [1, 'a', true],
      [2, 'b', true],
    ]);
    h.take();
    h.deliver({ type: 'puback', packetId: 1 }, { type: 'puback', packetId: 2 });
    expect(h.sentOfType('publish').map((p) => [p.packetId, text(p.payload), p.dup])).toEqual([[3, 'c', false]]);
    h.deliver({ type: 'puback', packetId: 3 });
    expect(h.take().events.filter((e) => e.type === 'published')).toHaveLength(3);
  });

  test('a clean session resends unacknowledged messages as new publishes (DUP=0), same ids', () => {
    const h = new Harness({ cleanSession: true });
    h.connect();
    h.publish('t', 'a', 1);
    h.lose();
    h.connect();
    h.lose();
    h.connect();
    expect(h.sentOfType('publish').map((p) => [p.packetId, text(p.payload), p.dup])).toEqual([
      [1, 'a', false],
      [1, 'a', false],
      [1, 'a', false],
    ]);
  });

  test('a PUBACK for an unknown id is ignored', () => {
    const h = new Harness();
    h.connect();
    h.take();
    h.deliver({ type: 'puback', packetId: 99 });
    expect(h.take().events).toEqual([]);
    expect(h.session.state).toBe('connected');
  });

  test('packet ids wrap after 65535 and skip the ones still awaiting PUBACK', () => {
    const h = new Harness({ maxInflight: 2 });
    h.connect();
    expect(h.publish('t', 'held', 1)).toBe(1); // never acknowledged
    const session = h.session;
    const handedOut: number[] = [];
    for (let n = 2; n <= 65_535; n++) {
      const { packetId } = session.publish('t', new Uint8Array(0), { qos: 1 }, h.now);
      handedOut.push(packetId as number);
      session.received(encodePacket({ type: 'puback', packetId: packetId as number }), h.now);
    }
    expect(handedOut.every((id, i) => id === i + 2)).toBe(true);
    expect(session.publish('t', new Uint8Array(0), { qos: 1 }, h.now).packetId).toBe(2); // 1 is still in use
  });
});

describe('MqttSession: receiving', () => {
  test('incoming QoS 1 gets a PUBACK; QoS 0 does not', () => {
    const h = new Harness();
    h.connect();
    h.take();
    h.deliver(
      { type: 'publish', topic: 'c2d/1', payload: utf8('one'), qos: 1, retain: false, dup: true, packetId: 42 },
      { type: 'publish', topic: 'c2d/2', payload: utf8('two'), qos: 0, retain: true, dup: false },
    );
    expect(h.take()).toEqual({
      sent: [{ type: 'puback', packetId: 42 }],
      events: [
        { type: 'message', topic: 'c2d/1', payload: utf8('one'), qos: 1, retain: false, dup: true },
        { type: 'message', topic: 'c2d/2', payload: utf8('two'), qos: 0, retain: true, dup: false },
      ],
    });
  });

  test('garbage from the broker: error event, protocol-error disconnection, socket closed', () => {
    const h = new Harness();
    h.connect();
    h.take();
    h.apply(h.session.received(hex('f0 00'), h.now));
    expect(h.take().events).toEqual([
      { type: 'error', message: 'packet type 15 is reserved' },
      { type: 'disconnected', reason: 'protocol error: packet type 15 is reserved' },
    ]);
    expect(h.closed).toBe(true);
    // Late bytes of the dead connection are ignored.
    h.apply(h.session.received(hex('d0 00'), h.now));
    expect(h.take().events).toEqual([]);
  });

  test('an oversize incoming packet is a protocol error', () => {
    const h = new Harness({ maxIncomingPacketSize: 64 });
    h.connect();
    h.take();
    h.deliver({ type: 'publish', topic: 't', payload: new Uint8Array(100), qos: 0, retain: false, dup: false });
    expect(h.take().events[1]).toEqual({ type: 'disconnected', reason: 'protocol error: incoming packet of 105 bytes exceeds the maximum of 64' });
  });

  test.each([
    ['a second CONNACK', { type: 'connack', sessionPresent: false, returnCode: 0 }, 'a second CONNACK arrived on the same connection'],
    ['SUBSCRIBE from the server', { type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'a', qos: 0 }] }, 'the server sent SUBSCRIBE, which only clients send'],
    ['PINGREQ from the server', { type: 'pingreq' }, 'the server sent PINGREQ, which only clients send'],
  ] as [string, MqttPacket, string][])('%s is a protocol error', (_name, packet, message) => {
    const h = new Harness();
    h.connect();
    h.take();
    h.deliver(packet);
    expect(h.take().events).toEqual([
      { type: 'error', message },
      { type: 'disconnected', reason: `protocol error: ${message}` },
    ]);
  });

  test('packets after a fatal one in the same chunk are not processed', () => {
    const h = new Harness();
    h.connect();
    h.take();
    h.deliver({ type: 'pingreq' }, { type: 'publish', topic: 't', payload: utf8('x'), qos: 1, retain: false, dup: false, packetId: 5 });
    const { sent, events } = h.take();
    expect(sent).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['error', 'disconnected']);
  });
});

describe('MqttSession: keepalive', () => {
  test('PINGREQ after a keepalive of silence; PINGRESP keeps the connection', () => {
    const h = new Harness({ keepAliveSeconds: 10 });
    h.connect();
    h.take();
    expect(h.session.nextDeadline()).toBe(h.now + 10_000);
    h.advance(9_999);
    expect(h.take().sent).toEqual([]);
    h.advance(1);
    expect(h.take().sent).toEqual([{ type: 'pingreq' }]);
    expect(h.session.nextDeadline()).toBe(h.now + 5_000);
    h.advance(100);
    h.deliver({ type: 'pingresp' });
    h.advance(9_899);
    expect(h.take().sent).toEqual([]);
    h.advance(1);
    expect(h.take().sent).toEqual([{ type: 'pingreq' }]);
    expect(h.session.state).toBe('connected');
  });

  test('no answer to PINGREQ: "ping timeout" within 1.5 x keepalive of the last byte received', () => {
    const h = new Harness({ keepAliveSeconds: 10 });
    h.connect();
    const lastReceived = h.now;
    h.take();
    h.advance(15_000);
    expect(h.take().events).toEqual([{ type: 'disconnected', reason: 'ping timeout' }]);
    expect(h.closed).toBe(true);
    expect(h.now - lastReceived).toBeLessThanOrEqual(15_000);
  });

  test('sending all the time does not hide a dead connection', () => {
    const h = new Harness({ keepAliveSeconds: 10 });
    h.connect();
    const lastReceived = h.now;
    h.take();
    let disconnectedAt: number | undefined;
    for (let t = 0; t < 30_000 && disconnectedAt === undefined; t += 500) {
      h.advance(500);
      if (h.session.state === 'connected') h.publish('telemetry', `t=${t}`, 0);
      else disconnectedAt = h.now;
    }
    expect(h.sentOfType('pingreq')).toHaveLength(1);
    expect(h.events).toEqual([{ type: 'disconnected', reason: 'ping timeout' }]);
    expect(disconnectedAt as number).toBeLessThanOrEqual(lastReceived + 15_000);
  });

  test('incoming traffic answers for the ping', () => {
    const h = new Harness({ keepAliveSeconds: 10 });
    h.connect();
    h.take();
    h.advance(10_000); // PINGREQ
    h.advance(4_000);
    h.deliver({ type: 'publish', topic: 't', payload: utf8('x'), qos: 0, retain: false, dup: false });
    h.advance(2_000); // past the ping timeout, but the connection showed life
    expect(h.session.state).toBe('connected');
  });

  test('keepalive 0 turns pings and timeouts off', () => {
    const h = new Harness({ keepAliveSeconds: 0 });
    h.connect();
    h.take();
    expect(h.session.nextDeadline()).toBeUndefined();
    h.advance(10_000_000);
    expect(h.take().sent).toEqual([]);
  });

  test('the ping timeout cannot exceed half the keepalive', () => {
    expect(() => new MqttSession({ clientId: 'a', keepAliveSeconds: 10, pingTimeoutMs: 5_001 })).toThrow(RangeError);
    expect(() => new MqttSession({ clientId: 'a', keepAliveSeconds: 10, pingTimeoutMs: 2_000 })).not.toThrow();
  });

  test('a shorter ping timeout is honoured', () => {
    const h = new Harness({ keepAliveSeconds: 10, pingTimeoutMs: 2_000 });
    h.connect();
    h.take();
    h.advance(11_999);
    expect(h.session.state).toBe('connected');
    h.advance(1);
    expect(h.take().events).toEqual([{ type: 'disconnected', reason: 'ping timeout' }]);
  });
});

describe('MqttSession: subscriptions', () => {
  test('subscribe sends SUBSCRIBE; SUBACK reports the grants', () => {
    const h = new Harness();
    h.connect();
    h.take();
    const { packetId } = h.apply(h.session.subscribe([{ filter: 'a/+', qos: 1 }, { filter: 'b/#', qos: 0 }], h.now)) as ReturnType<MqttSession['subscribe']>;
    expect(h.take().sent).toEqual([{ type: 'subscribe', packetId, subscriptions: [{ filter: 'a/+', qos: 1 }, { filter: 'b/#', qos: 0 }] }]);
    h.deliver({ type: 'suback', packetId, returnCodes: [1, 0] });
    expect(h.take().events).toEqual([{ type: 'subscribed', packetId, granted: [1, 0] }]);
    expect([...h.session.subscriptions]).toEqual([
      ['a/+', 1],
      ['b/#', 0],
    ]);
  });

  test('a refused filter (0x80) is reported and forgotten', () => {
    const h = new Harness();
    h.connect();
    const { packetId } = h.session.subscribe([{ filter: 'ok', qos: 1 }, { filter: 'denied', qos: 1 }], h.now);
    h.deliver({ type: 'suback', packetId, returnCodes: [1, 0x80] });
    expect(h.take().events).toContainEqual({ type: 'subscribed', packetId, granted: [1, 0x80] });
    expect([...h.session.subscriptions.keys()]).toEqual(['ok']);
  });

  test('subscriptions are restored when the broker has no session', () => {
    const h = new Harness({ cleanSession: false });
    h.connect();
    const first = h.session.subscribe([{ filter: 'a', qos: 1 }], h.now);
    h.deliver({ type: 'suback', packetId: first.packetId, returnCodes: [1] });
    const second = h.session.subscribe([{ filter: 'b', qos: 0 }], h.now);
    h.deliver({ type: 'suback', packetId: second.packetId, returnCodes: [0] });
    h.lose();
    h.take();
    h.connect(false);
    const [restore] = h.sentOfType('subscribe');
    expect(restore.subscriptions).toEqual([
      { filter: 'a', qos: 1 },
      { filter: 'b', qos: 0 },
    ]);
    h.take();
    h.deliver({ type: 'suback', packetId: restore.packetId, returnCodes: [1, 0] });
    expect(h.take().events).toEqual([{ type: 'subscribed', packetId: restore.packetId, granted: [1, 0] }]);
  });

  test('a persistent session that the broker kept needs no re-subscription', () => {
    const h = new Harness({ cleanSession: false });
    h.connect();
    const { packetId } = h.session.subscribe([{ filter: 'a', qos: 1 }], h.now);
    h.deliver({ type: 'suback', packetId, returnCodes: [1] });
    h.lose();
    h.take();
    h.connect(true);
    expect(h.sentOfType('subscribe')).toEqual([]);
  });

  test('a clean session always re-subscribes', () => {
    const h = new Harness({ cleanSession: true });
    h.connect();
    const { packetId } = h.session.subscribe([{ filter: 'a', qos: 1 }], h.now);
    h.deliver({ type: 'suback', packetId, returnCodes: [1] });
    h.lose();
    h.take();
    h.connect(false);
    expect(h.sentOfType('subscribe').map((s) => s.subscriptions)).toEqual([[{ filter: 'a', qos: 1 }]]);
  });

  test('an unacknowledged SUBSCRIBE is sent again with its id, and not duplicated by the restore', () => {
    const h = new Harness();
    h.connect();
    const { packetId } = h.session.subscribe([{ filter: 'x', qos: 1 }], h.now);
    h.lose();
    h.take();
    h.connect();
    expect(h.sentOfType('subscribe')).toEqual([{ type: 'subscribe', packetId, subscriptions: [{ filter: 'x', qos: 1 }] }]);
    h.deliver({ type: 'suback', packetId, returnCodes: [1] });
    expect(h.events).toContainEqual({ type: 'subscribed', packetId, granted: [1] });
  });

  test('subscribing while disconnected is sent on connection, before queued publishes', () => {
    const h = new Harness();
    const { packetId } = h.session.subscribe([{ filter: 'replies/#', qos: 1 }], h.now);
    h.publish('requests/1', 'q', 1);
    h.connect();
    expect(h.sent.map((p) => p.type)).toEqual(['connect', 'subscribe', 'publish']);
    expect(h.sentOfType('subscribe')[0].packetId).toBe(packetId);
  });

  test('unsubscribe forgets the filter; UNSUBACK reports it', () => {
    const h = new Harness();
    h.connect();
    const sub = h.session.subscribe([{ filter: 'a', qos: 0 }, { filter: 'b', qos: 0 }], h.now);
    h.deliver({ type: 'suback', packetId: sub.packetId, returnCodes: [0, 0] });
    h.take();
    const unsub = h.apply(h.session.unsubscribe(['a'], h.now)) as ReturnType<MqttSession['unsubscribe']>;
    expect(h.take().sent).toEqual([{ type: 'unsubscribe', packetId: unsub.packetId, filters: ['a'] }]);
    h.deliver({ type: 'unsuback', packetId: unsub.packetId });
    expect(h.take().events).toEqual([{ type: 'unsubscribed', packetId: unsub.packetId }]);
    h.lose();
    h.connect();
    expect(h.sentOfType('subscribe').map((s) => s.subscriptions)).toEqual([[{ filter: 'b', qos: 0 }]]);
  });

  test('a SUBACK with the wrong number of codes is a protocol error', () => {
    const h = new Harness();
    h.connect();
    const { packetId } = h.session.subscribe([{ filter: 'a', qos: 0 }, { filter: 'b', qos: 0 }], h.now);
    h.deliver({ type: 'suback', packetId, returnCodes: [0] });
    expect(h.events).toContainEqual({ type: 'error', message: `SUBACK ${packetId} has 1 return codes for 2 topic filters` });
  });

  test('limits: subscriptions, pending requests, QoS 2 and invalid filters', () => {
    const h = new Harness({ maxSubscriptions: 2, maxPendingRequests: 2 });
    expect(() => h.session.subscribe([{ filter: 'a', qos: 2 as 1 }], h.now)).toThrow(/QoS 2 is not supported/);
    expect(() => h.session.subscribe([{ filter: 'a/#/b', qos: 0 }], h.now)).toThrow(MqttProtocolError);
    expect(() => h.session.subscribe([], h.now)).toThrow(MqttProtocolError);
    expect(() => h.session.subscribe([{ filter: 'a', qos: 0 }, { filter: 'b', qos: 0 }, { filter: 'c', qos: 0 }], h.now)).toThrow(expect.objectContaining({ code: 'limit-reached' }));
    h.session.subscribe([{ filter: 'a', qos: 0 }], h.now);
    h.session.subscribe([{ filter: 'a', qos: 1 }], h.now); // same filter: not a new subscription
    expect(() => h.session.unsubscribe(['a'], h.now)).toThrow(/2 SUBSCRIBE\/UNSUBSCRIBE requests already await acknowledgement/);
    expect([...h.session.subscriptions]).toEqual([['a', 1]]);
  });
});

describe('MqttSession: ending connections', () => {
  test('disconnect() sends DISCONNECT, closes, and keeps the QoS 1 queue', () => {
    const h = new Harness();
    h.connect();
    h.publish('t', 'keep', 1);
    h.take();
    h.apply(h.session.disconnect(h.now));
    expect(h.take()).toEqual({ sent: [{ type: 'disconnect' }], events: [{ type: 'disconnected', reason: 'client disconnect' }] });
    expect(h.closed).toBe(true);
    expect(h.session.queuedMessages).toBe(1);
    expect(h.session.disconnect(h.now)).toEqual({ send: [], events: [], closeSocket: false, nextDeadline: undefined });
  });

  test('exactly one "disconnected" per connection', () => {
    const h = new Harness({ keepAliveSeconds: 10 });
    h.connect();
    h.advance(20_000); // ping timeout
    h.lose('socket closed'); // the shell reports the close it was asked for
    h.lose('error');
    h.apply(h.session.disconnect(h.now));
    h.advance(100_000);
    expect(h.events.filter((e) => e.type === 'disconnected')).toEqual([{ type: 'disconnected', reason: 'ping timeout' }]);
  });

  test('outputs carry the next deadline', () => {
    const h = new Harness({ keepAliveSeconds: 10, connectTimeoutMs: 3_000 });
    expect(h.session.connect(h.now).nextDeadline).toBe(h.now + 3_000);
    const out = h.session.received(encodePacket({ type: 'connack', sessionPresent: false, returnCode: 0 }), h.now + 100);
    expect(out.nextDeadline).toBe(h.now + 10_000); // CONNECT was the last byte sent
  });

  test('invalid options are RangeErrors', () => {
    expect(() => new MqttSession({ clientId: 'a', keepAliveSeconds: 70_000 })).toThrow(RangeError);
    expect(() => new MqttSession({ clientId: 'a', maxInflight: 0 })).toThrow(RangeError);
    expect(() => new MqttSession({ clientId: 'a', connectTimeoutMs: 0 })).toThrow(RangeError);
  });
});

describe('MqttSession: validation and restoring details', () => {
  test('a bad client id, will or credentials fail at construction', () => {
    expect(() => new MqttSession({ clientId: '', cleanSession: false })).toThrow(MqttProtocolError);
    expect(() => new MqttSession({ clientId: 'a', will: { topic: 'a/+', payload: new Uint8Array(0), qos: 0, retain: false } })).toThrow(/will topic/);
    expect(() => new MqttSession({ clientId: 'a', password: utf8('p') })).toThrow(/password needs a user name/);
  });

  test('invalid new credentials leave the old ones in place', () => {
    const h = new Harness({ username: 'u', password: utf8('old') });
    expect(() => h.session.connect(h.now, { password: utf8('new') })).toThrow(MqttProtocolError);
    expect(h.session.state).toBe('disconnected');
    h.open();
    expect(h.take().sent).toEqual([expect.objectContaining({ username: 'u', password: utf8('old') })]);
  });

  test('an unacknowledged restoring SUBSCRIBE is replaced on the next connection, never piled up', () => {
    const h = new Harness();
    h.connect();
    const { packetId } = h.session.subscribe([{ filter: 'a', qos: 1 }], h.now);
    h.deliver({ type: 'suback', packetId, returnCodes: [1] });
    const restoreIds: number[] = [];
    for (let n = 0; n < 5; n++) {
      h.lose();
      h.take();
      h.connect();
      const subscribes = h.sentOfType('subscribe');
      expect(subscribes.map((s) => s.subscriptions)).toEqual([[{ filter: 'a', qos: 1 }]]);
      restoreIds.push(subscribes[0].packetId);
    }
    h.deliver({ type: 'suback', packetId: restoreIds[3], returnCodes: [1] }); // a stale id: ignored
    h.deliver({ type: 'suback', packetId: restoreIds[4], returnCodes: [1] });
    expect(h.events.filter((e) => e.type === 'subscribed')).toEqual([{ type: 'subscribed', packetId: restoreIds[4], granted: [1] }]);
  });
});

test('MqttSession: an unacknowledged restoring SUBSCRIBE is sent again when the broker kept the session', () => {
  const h = new Harness({ cleanSession: false });
  h.connect();
  const { packetId } = h.session.subscribe([{ filter: 'a', qos: 1 }], h.now);
  h.deliver({ type: 'suback', packetId, returnCodes: [1] });
  h.lose();
  h.connect(false); // broker lost the session: restoring SUBSCRIBE sent...
  const [restore] = h.sentOfType('subscribe').slice(-1);
  h.lose(); // ...and not acknowledged
  h.take();
  h.connect(true);
  expect(h.sentOfType('subscribe')).toEqual([restore]);
});

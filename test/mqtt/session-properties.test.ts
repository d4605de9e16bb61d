/**
 * Properties of the session under random schedules: nothing published with QoS 1 is lost
 * across reconnects, the in-flight window holds, and a dead connection is noticed within
 * 1.5 x keepalive of the last byte received, while a live one never is.
 */
import fc from 'fast-check';
import { MqttSessionError } from '../../firmware/iot/mqtt/errors';
import type { PublishPacket } from '../../firmware/iot/mqtt/packets';
import { Harness, text } from './harness';

type Step =
  | { kind: 'publish' }
  | { kind: 'ack'; pick: number }
  | { kind: 'drop' }
  | { kind: 'reconnect'; sessionPresent: boolean }
  | { kind: 'incoming'; qos: 0 | 1 };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'publish' as const }) },
  { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'ack' as const, pick })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 2, arbitrary: fc.boolean().map((sessionPresent) => ({ kind: 'reconnect' as const, sessionPresent })) },
  { weight: 1, arbitrary: fc.constantFrom<0 | 1>(0, 1).map((qos) => ({ kind: 'incoming' as const, qos })) },
);

describe('MqttSession properties', () => {
  test('at-least-once: every accepted QoS 1 message reaches the broker and is reported published exactly once', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(stepArb, { maxLength: 80 }),
        (cleanSession, maxInflight, maxPending, steps) => {
          const h = new Harness({ cleanSession, maxInflight, maxPending, keepAliveSeconds: 0 });
          const accepted = new Map<number, string>(); // packet id -> payload, until published
          const publishedPayloads: string[] = [];
          const brokerSaw = new Set<string>();
          const sentBefore = new Set<string>(); // payloads sent on an earlier connection
          let onThisConnection: PublishPacket[] = []; // unacknowledged, as the broker sees them
          let counter = 0;

          /** Checks what the session just sent and tracks it as the broker would. */
          const observe = () => {
            const { sent, events } = h.take();
            for (const packet of sent) {
              if (packet.type !== 'publish' || packet.qos !== 1) continue;
              const payload = text(packet.payload);
              expect(accepted.get(packet.packetId as number)).toBe(payload);
              expect(packet.dup).toBe(!cleanSession && sentBefore.has(payload));
              expect(onThisConnection.some((p) => p.packetId === packet.packetId)).toBe(false);
              brokerSaw.add(payload);
              onThisConnection.push(packet);
            }
            expect(onThisConnection.length).toBeLessThanOrEqual(maxInflight);
            for (const event of events) {
              if (event.type !== 'published') continue;
              const payload = accepted.get(event.packetId);
              expect(payload).toBeDefined();
              publishedPayloads.push(payload as string);
              accepted.delete(event.packetId);
            }
          };
          const endConnection = () => {
            for (const packet of onThisConnection) sentBefore.add(text(packet.payload));
            onThisConnection = [];
          };

          for (const step of steps) {
            const state = h.session.state;
            if (step.kind === 'publish') {
              const payload = `m${counter++}`;
              try {
                const id = h.publish('t', payload, 1) as number;
                accepted.set(id, payload);
              } catch (error) {
                expect(error).toBeInstanceOf(MqttSessionError);
                expect((error as MqttSessionError).code).toMatch(/queue-full|too-large/);
              }
            } else if (step.kind === 'ack' && state === 'connected' && onThisConnection.length > 0) {
              const [packet] = onThisConnection.splice(step.pick % onThisConnection.length, 1);
              h.deliver({ type: 'puback', packetId: packet.packetId as number });
            } else if (step.kind === 'drop' && state !== 'disconnected') {
              h.lose();
              endConnection();
            } else if (step.kind === 'reconnect' && state === 'disconnected') {
              h.connect(step.sessionPresent && !cleanSession);
            } else if (step.kind === 'incoming' && state === 'connected') {
              h.deliver({ type: 'publish', topic: 'in', payload: new Uint8Array(1), qos: step.qos, retain: false, dup: false, packetId: step.qos === 1 ? 7 : undefined });
            }
            observe();
          }

          // Finally a good connection that acknowledges everything.
          if (h.session.state !== 'disconnected') {
            h.lose();
            endConnection();
          }
          observe();
          h.connect(!cleanSession);
          observe();
          while (onThisConnection.length > 0) {
            const packet = onThisConnection.shift() as PublishPacket;
            h.deliver({ type: 'puback', packetId: packet.packetId as number });
            observe();
          }
          expect(accepted.size).toBe(0);
          expect(h.session.queuedMessages).toBe(0);
          expect(h.session.queuedBytes).toBe(0);
          expect(new Set(publishedPayloads).size).toBe(publishedPayloads.length);
          for (const payload of publishedPayloads) expect(brokerSaw.has(payload)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('keepalive: a live connection is never timed out; a dead one is within 1.5 x keepalive', () => {
    const STEP_MS = 50;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ waitMs: fc.integer({ min: 0, max: 25_000 }), clientSends: fc.boolean(), brokerSends: fc.boolean() }), { maxLength: 15 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (keepAliveSeconds, script, answerFraction) => {
          const keepAliveMs = keepAliveSeconds * 1000;
          // The broker answers pings in time: within the ping timeout, less the step resolution.
          const answerDelay = Math.floor(answerFraction * (keepAliveMs / 2 - 2 * STEP_MS));
          const h = new Harness({ keepAliveSeconds });
          h.connect();
          let lastReceivedAt = h.now;
          let pingAnswerAt: number | undefined;
          const runFor = (ms: number, brokerAlive: boolean) => {
            for (let elapsed = 0; elapsed < ms && h.session.state === 'connected'; elapsed += STEP_MS) {
              h.advance(STEP_MS);
              if (h.sentOfType('pingreq').length > 0 && brokerAlive) pingAnswerAt ??= h.now + answerDelay;
              h.sent = [];
              if (pingAnswerAt !== undefined && h.now >= pingAnswerAt && brokerAlive) {
                h.deliver({ type: 'pingresp' });
                lastReceivedAt = h.now;
                pingAnswerAt = undefined;
              }
            }
          };
          for (const { waitMs, clientSends, brokerSends } of script) {
            runFor(waitMs, true);
            expect(h.events.filter((e) => e.type === 'disconnected')).toEqual([]);
            if (clientSends) h.publish('t', 'x', 0);
            if (brokerSends) {
              h.deliver({ type: 'publish', topic: 'in', payload: new Uint8Array(0), qos: 0, retain: false, dup: false });
              lastReceivedAt = h.now;
            }
          }
          // The broker goes silent; the client keeps sending now and then.
          for (let t = 0; t < 3 * keepAliveMs && h.session.state === 'connected'; t += 700) {
            runFor(700, false);
            if (h.session.state === 'connected') h.publish('t', 'x', 0);
          }
          const disconnection = h.events.find((e) => e.type === 'disconnected');
          expect(disconnection).toEqual({ type: 'disconnected', reason: 'ping timeout' });
          expect(h.now - lastReceivedAt).toBeLessThanOrEqual(1.5 * keepAliveMs + STEP_MS);
        },
      ),
      { numRuns: 150 },
    );
  });
});

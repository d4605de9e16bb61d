/**
 * Store-and-forward: every message goes into the persistent outbox (flash partition
 * `outbox`) first and leaves it only when the broker has acknowledged it (QoS 1 PUBACK).
 * The drain is planned by the outbox's DrainPlanner: in order, rate-limited, after a
 * jittered delay when a connection comes back, live messages interleaved with the backlog.
 * Each message carries a stable id (`$.mid`) so the hub can drop duplicates.
 */
import type { Hal, TimerId } from '../../hal';
import { DrainPlanner, Outbox, type OutboxStats } from '../store/outbox';
import type { Uplink } from './uplink';

export type MessageKind = 'telemetry' | 'alert';

/** First payload byte on flash: which kind of message the rest is. */
const KIND_BYTE: { [kind in MessageKind]: number } = { telemetry: 0, alert: 1 };
const KIND_OF_BYTE: MessageKind[] = ['telemetry', 'alert'];
/** While the drain waits on something without a time (a connection), it looks again this often. */
const PLAN_EVERY_MS_WHEN_IDLE = 60_000;

export interface TelemetryQueueOptions {
  deviceId: string;
  bootCount: number;
  /** Publishes per second while draining (a fleet coming back must not storm the hub). */
  ratePerSecond: number;
  /** After a reconnection the drain starts within this random delay. */
  startJitterMs: number;
  /** QoS 1 messages in flight at once. */
  window: number;
  overflow: 'drop-oldest' | 'drop-newest';
  /** Properties each kind of message carries. */
  properties: (kind: MessageKind) => { [name: string]: string };
}

export class TelemetryQueue {
  private readonly outbox: Outbox;
  private readonly planner: DrainPlanner;
  private uplink: Uplink | undefined;
  private timer: TimerId | undefined;
  /** MQTT packet id → outbox sequence number, for the messages in flight (bounded by the window). */
  private readonly inFlight = new Map<number, number>();

  constructor(
    private readonly hal: Hal,
    private readonly options: TelemetryQueueOptions,
  ) {
    const random = () => {
      const bytes = hal.crypto.randomBytes(4);
      return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) / 2 ** 32;
    };
    this.outbox = Outbox.open(hal.flash.open('outbox'), { overflow: options.overflow, random });
    this.planner = new DrainPlanner(this.outbox, {
      deviceId: options.deviceId,
      ratePerSecond: options.ratePerSecond,
      startJitterMs: options.startJitterMs,
      random,
      window: options.window,
    });
  }

  /** Stores a message; returns its sequence number and how many old ones it pushed out. */
  add(kind: MessageKind, payload: Uint8Array): { seq: number; dropped: number } {
    const record = new Uint8Array(payload.length + 1);
    record[0] = KIND_BYTE[kind];
    record.set(payload, 1);
    const wallMs = this.hal.clock.wallTime();
    const result = this.outbox.append(record, { bootCount: this.options.bootCount, uptimeMs: this.hal.clock.now(), ...(wallMs === undefined ? {} : { wallMs }) });
    this.drain();
    return result;
  }

  attach(uplink: Uplink): void {
    this.uplink = uplink;
    if (uplink.connected) this.connected();
  }

  connected(): void {
    this.planner.connected(this.hal.clock.now());
    this.drain();
  }

  disconnected(): void {
    this.planner.disconnected();
  }

  /** The broker acknowledged a packet: release its record for good. */
  published(packetId: number): void {
    const seq = this.inFlight.get(packetId);
    if (seq === undefined) return;
    this.inFlight.delete(packetId);
    this.outbox.release(seq);
    this.planner.acknowledged(seq);
    this.drain();
  }

  stats(): OutboxStats {
    return this.outbox.stats();
  }

  /** Publishes what the planner allows now and sets the timer for the next step. */
  private drain(): void {
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
    const uplink = this.uplink;
    const now = this.hal.clock.now();
    const plan = this.planner.plan(now);
    for (const item of plan.publish) {
      const kind = KIND_OF_BYTE[item.record.payload[0]] ?? 'telemetry';
      try {
        if (!uplink) throw new Error('no uplink');
        const packetId = uplink.send(item.record.payload.subarray(1), this.options.properties(kind), item.messageId);
        this.inFlight.set(packetId, item.record.seq);
      } catch {
        this.planner.failed(item.record.seq); // the MQTT queue is full or we are offline: plan it again later
      }
    }
    const next = plan.nextPlanAtMs ?? (plan.waiting === 'empty' ? undefined : now + PLAN_EVERY_MS_WHEN_IDLE);
    if (next !== undefined) {
      this.timer = this.hal.timers.set(() => {
        this.timer = undefined;
        this.drain();
      }, Math.max(1, next - now));
    }
  }
}

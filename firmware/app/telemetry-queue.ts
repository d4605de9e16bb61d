/**
 * Store-and-forward: every message goes into the persistent outbox (flash partition
 * `outbox`) first and leaves it only when the broker has acknowledged it (QoS 1 PUBACK).
 * The drain is planned by the outbox's DrainPlanner: in order, rate-limited, after a
 * jittered delay when a connection comes back, live messages interleaved with the backlog.
 * Each message carries a stable id (`$.mid`) so the hub can drop duplicates, and the time its
 * reading was taken (`$.ctime`, ISO 8601 UTC) whenever the wall clock of that time is known.
 *
 * Times: a reading taken before the wall clock is known (no time sync yet) is stored with this
 * boot's number and uptime. Once the wall clock is known, the queue gives the outbox this
 * boot's offset (`timestampFix(bootCount, wall - uptime)`, once per boot, only if some record
 * needed it), so those records go out with a corrected `$.ctime` and the fix is on flash for
 * later boots too. Records of an earlier boot whose clock never became known before it ended
 * stay uptime-only: they go out without `$.ctime` (their payload carries `uptimeMs`).
 */
import type { Hal, TimerId } from '../../hal';
import { isoTimeUtc } from '../codec/iso-time';
import { DrainPlanner, messageId, Outbox, OutboxFullError, type OutboxRecord, type OutboxStats, type RecordTime } from '../store/outbox';
import type { Uplink, UplinkSystemProperties } from './uplink';
import { OutboxCounters } from './outbox-counters';

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
  /**
   * The outbox is empty again after a connection that found records queued (the backlog and
   * whatever came in meanwhile have all been acknowledged): once per such connection, so the
   * application can report its counters again.
   */
  onDrained?: () => void;
}

/**
 * The outbox as the twin's reported `outbox` property shows it: `queued` on flash now, `sent`
 * (acknowledged) and `dropped` over the device's life, `capacity` in record bytes. `oldestAgeMs` is null when
 * the queue is empty or the oldest record's age is unknown (stored with an earlier boot's
 * uptime and no wall clock for that boot): null also clears an earlier value in the twin.
 */
export type OutboxReport = { queued: number; sent: number; dropped: number; capacity: number; oldestAgeMs: number | null };

export class TelemetryQueue {
  private readonly outbox: Outbox;
  /** Sent and dropped over the device's life (the outbox counts per boot). */
  private readonly counters: OutboxCounters;
  private readonly planner: DrainPlanner;
  private uplink: Uplink | undefined;
  private timer: TimerId | undefined;
  /** MQTT packet id → outbox sequence number, for the messages in flight (bounded by the window). */
  private readonly inFlight = new Map<number, number>();
  /** A record of this boot was stored with uptime only (the wall clock was unknown then). */
  private uptimeOnly = false;
  /** This boot's wall-clock offset has been given to the outbox. */
  private timeFixed = false;
  /** The last connection found records queued, and the outbox has not been empty since. */
  private backlogPending = false;

  constructor(
    private readonly hal: Hal,
    private readonly options: TelemetryQueueOptions,
  ) {
    const random = () => {
      const bytes = hal.crypto.randomBytes(4);
      return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) / 2 ** 32;
    };
    this.outbox = Outbox.open(hal.flash.open('outbox'), { overflow: options.overflow, random });
    this.counters = new OutboxCounters(hal.kv);
    const corrupt = this.outbox.stats().dropped.corrupt;
    if (corrupt > 0) this.counters.dropped(this.outbox.logId, { corrupt });
    this.planner = new DrainPlanner(this.outbox, {
      deviceId: options.deviceId,
      ratePerSecond: options.ratePerSecond,
      startJitterMs: options.startJitterMs,
      random,
      window: options.window,
    });
  }

  /** Stores a message; returns its sequence number, its message id and how many old ones it pushed out. */
  add(kind: MessageKind, payload: Uint8Array): { seq: number; messageId: string; dropped: number } {
    const record = new Uint8Array(payload.length + 1);
    record[0] = KIND_BYTE[kind];
    record.set(payload, 1);
    this.fixTimes();
    const time = this.now();
    if (time.wallMs === undefined) this.uptimeOnly = true;
    let result;
    try {
      result = this.outbox.append(record, time);
    } catch (error) {
      if (error instanceof OutboxFullError) this.counters.dropped(this.outbox.logId, { refused: 1 });
      throw error;
    }
    if (result.dropped > 0) this.counters.dropped(this.outbox.logId, { erased: result.dropped });
    this.drain();
    return { ...result, messageId: messageId(this.options.deviceId, this.outbox.logId, result.seq) };
  }

  attach(uplink: Uplink): void {
    this.uplink = uplink;
    if (uplink.connected) this.connected();
  }

  connected(): void {
    this.backlogPending = this.outbox.queued > 0;
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
    if (this.backlogPending && this.outbox.queued === 0) {
      this.backlogPending = false;
      this.options.onDrained?.();
    }
  }

  stats(): OutboxStats {
    return this.outbox.stats();
  }

  /** Age of the oldest queued record now, in ms; undefined when the queue is empty or the age is unknown. */
  oldestAgeMs(): number | undefined {
    this.fixTimes();
    try {
      return this.outbox.oldestAgeMs(this.now());
    } catch {
      return undefined; // the outbox is unusable after a flash failure: the age is unknown
    }
  }

  /** The counters for the twin's reported `outbox` property. */
  report(): OutboxReport {
    const stats = this.outbox.stats();
    const { sent, dropped } = this.counters.totals(this.outbox.logId, stats.nextSeq, stats.queued);
    return { queued: stats.queued, sent, dropped, capacity: stats.capacity, oldestAgeMs: this.oldestAgeMs() ?? null };
  }

  /** This boot's number, its uptime and the wall clock when it is known. */
  private now(): RecordTime {
    const uptimeMs = this.hal.clock.now();
    const wallMs = this.hal.clock.wallTime();
    return wallMs === undefined ? { bootCount: this.options.bootCount, uptimeMs } : { bootCount: this.options.bootCount, uptimeMs, wallMs };
  }

  /**
   * The wall clock is known now and was not when a record of this boot was stored: give the
   * outbox this boot's offset (wall - uptime), once. A flash failure leaves it to the next try.
   */
  private fixTimes(): void {
    if (!this.uptimeOnly || this.timeFixed) return;
    const wallMs = this.hal.clock.wallTime();
    if (wallMs === undefined) return;
    try {
      this.outbox.timestampFix(this.options.bootCount, wallMs - this.hal.clock.now());
      this.timeFixed = true;
    } catch {
      // the outbox is unusable until reopened; appends and reads fail and say so
    }
  }

  /** The system properties a record goes out with: its message id, and its creation time when known. */
  private systemProperties(record: OutboxRecord, messageId: string): UplinkSystemProperties {
    if (record.wallMs === undefined) return { messageId };
    try {
      return { messageId, creationTimeUtc: isoTimeUtc(record.wallMs) };
    } catch {
      return { messageId }; // a time no date can name (a wild clock): leave it out
    }
  }

  /** Publishes what the planner allows now and sets the timer for the next step. */
  private drain(): void {
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
    this.fixTimes();
    const uplink = this.uplink;
    const now = this.hal.clock.now();
    const plan = this.planner.plan(now);
    for (const item of plan.publish) {
      const kind = KIND_OF_BYTE[item.record.payload[0]] ?? 'telemetry';
      try {
        if (!uplink) throw new Error('no uplink');
        const packetId = uplink.send(item.record.payload.subarray(1), this.options.properties(kind), this.systemProperties(item.record, item.messageId));
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

/**
 * The drain planner: decides which outbox records to publish now, and when to be asked
 * again. Sans-I/O: the caller tells it about the connection, acknowledgements and the time,
 * and publishes what `plan` returns (QoS 1, with the message id as the message's
 * `$.mid`/message-id property, so the cloud can drop duplicates).
 *
 * - Jittered start: after each connection nothing is sent for
 *   `minStartDelayMs + random * startJitterMs`, so a fleet that comes back together (broker
 *   restart, network outage) spreads its backlog out instead of storming the hub.
 * - Rate limit: a token bucket of `burst` tokens refilled at `ratePerSecond`; one token per
 *   publish. The bucket is full when sending starts. With the default burst of 1, publishes
 *   are at least 1/ratePerSecond apart, so N devices never deliver more than N x rate
 *   messages in any one second, however their drains line up.
 * - Window: at most `window` records published and not yet acknowledged.
 * - Live and backlog: records appended before the connection came up are the backlog, the
 *   rest are live. Each stream is sent oldest first; between them the planner interleaves
 *   `interleave.live` live records for every `interleave.backlog` backlog records (1:4 by
 *   default), taking from the other stream when one is empty, so fresh readings are not
 *   stuck behind hours of backlog. `{ live: 0, backlog: 1 }` sends strictly in order.
 *
 * Message ids: `${deviceId}-${logId as 8 hex digits}-${seq}`. The sequence number is
 * persistent and never reused for another record of the same log (an append cut by power
 * loss returned no number, so nothing was published under it), and a log started afresh (an
 * erased or unreadable partition) gets a new random log id; so an id names one record,
 * across restarts, and a record keeps its id however often it is resent. A boot counter is
 * not needed for that: the seq does not restart at boot.
 *
 * Bounds: the in-flight set holds at most `window` (at most 64) sequence numbers.
 */
import type { OutboxRecord } from './outbox';

/** What the planner needs of the outbox (`Outbox` has it). */
export interface DrainSource {
  readonly logId: number;
  readonly nextSeq: number;
  read(fromSeq: number, max: number, beforeSeq?: number): OutboxRecord[];
  release(seq: number): boolean;
}

export const MAX_WINDOW = 64;

export interface DrainPlannerOptions {
  deviceId: string;
  /** Token refill rate: publishes per second (> 0). */
  ratePerSecond: number;
  /** Token bucket size: the largest burst. Default 1: publishes evenly spaced at 1/ratePerSecond. */
  burst?: number;
  /** The start delay after a connection is `minStartDelayMs + random() * startJitterMs`. */
  startJitterMs: number;
  minStartDelayMs?: number;
  /** Uniform random numbers in [0, 1) (the HAL's crypto random on a device; seeded in tests). */
  random: () => number;
  /** Records published and not acknowledged, at most: 1 to 64. */
  window: number;
  /** Live : backlog publishes when both have records; default 1 : 4. */
  interleave?: { live: number; backlog: number };
  /**
   * Whether unacknowledged publishes stay in flight across a reconnect, because the MQTT
   * session resends them itself (firmware/iot/mqtt's session does): default true. With
   * false, they are planned again after the next connection.
   */
  keepInFlightOnReconnect?: boolean;
}

export interface PlannedPublish {
  messageId: string;
  /** Appended after the connection came up. */
  live: boolean;
  record: OutboxRecord;
}

/** Why `plan` stopped: nothing more may or can be sent now. */
export type DrainWait = 'disconnected' | 'start-delay' | 'rate' | 'window' | 'empty';

export interface DrainPlan {
  /** Publish these now, in this order (they count as in flight). */
  publish: PlannedPublish[];
  /** Call `plan` again at this time; undefined: on the next event (append, acknowledgement, connection). */
  nextPlanAtMs: number | undefined;
  waiting: DrainWait;
}

/** The stable message id of record `seq` of log `logId`. */
export function messageId(deviceId: string, logId: number, seq: number): string {
  return `${deviceId}-${(logId >>> 0).toString(16).padStart(8, '0')}-${seq}`;
}

type Candidate = { record: OutboxRecord; live: boolean };

export class DrainPlanner {
  private readonly deviceId: string;
  private readonly rate: number;
  private readonly burst: number;
  private readonly minStartDelayMs: number;
  private readonly startJitterMs: number;
  private readonly random: () => number;
  private readonly window: number;
  private readonly liveShare: number;
  private readonly backlogShare: number;
  private readonly keepInFlight: boolean;

  private startAt: number | undefined;
  private tokens = 0;
  private refilledAt = 0;
  private readonly inFlightSeqs = new Set<number>();
  /** First live sequence number: the outbox's next one when the connection came up. */
  private liveFrom = 1;
  private backlogCursor = 1;
  private liveCursor = 1;
  /** Publishes since the connection came up, for the interleave pattern. */
  private cycle = 0;

  constructor(
    private readonly source: DrainSource,
    options: DrainPlannerOptions,
  ) {
    const interleave = options.interleave ?? { live: 1, backlog: 4 };
    this.deviceId = options.deviceId;
    this.rate = options.ratePerSecond;
    this.burst = options.burst ?? 1;
    this.minStartDelayMs = options.minStartDelayMs ?? 0;
    this.startJitterMs = options.startJitterMs;
    this.random = options.random;
    this.window = options.window;
    this.liveShare = interleave.live;
    this.backlogShare = interleave.backlog;
    this.keepInFlight = options.keepInFlightOnReconnect ?? true;
    if (typeof this.deviceId !== 'string' || this.deviceId.length === 0) throw new RangeError('DrainPlanner needs a deviceId');
    if (!(this.rate > 0) || !Number.isFinite(this.rate)) throw new RangeError('DrainPlanner: ratePerSecond must be a positive number');
    if (!(this.burst >= 1) || !Number.isFinite(this.burst)) throw new RangeError('DrainPlanner: burst must be at least 1');
    if (!(this.minStartDelayMs >= 0) || !(this.startJitterMs >= 0)) throw new RangeError('DrainPlanner: start delays must not be negative');
    if (!Number.isInteger(this.window) || this.window < 1 || this.window > MAX_WINDOW) throw new RangeError(`DrainPlanner: window must be 1 to ${MAX_WINDOW}`);
    const shares = [this.liveShare, this.backlogShare];
    if (!shares.every((share) => Number.isInteger(share) && share >= 0) || this.liveShare + this.backlogShare < 1) {
      throw new RangeError('DrainPlanner: interleave shares are whole numbers, not both 0');
    }
  }

  /** Records published and not acknowledged. */
  get inFlight(): number {
    return this.inFlightSeqs.size;
  }

  /** The connection (MQTT CONNACK) came up at `nowMs`: sending starts after a jittered delay. */
  connected(nowMs: number): void {
    const draw = this.random();
    const unit = draw >= 0 && draw < 1 ? draw : 0;
    this.startAt = nowMs + this.minStartDelayMs + Math.floor(unit * this.startJitterMs);
    this.tokens = this.burst;
    this.refilledAt = this.startAt;
    this.liveFrom = this.source.nextSeq;
    this.backlogCursor = 1;
    this.liveCursor = this.liveFrom;
    this.cycle = 0;
    if (!this.keepInFlight) this.inFlightSeqs.clear();
  }

  /** The connection went down. */
  disconnected(): void {
    this.startAt = undefined;
    if (!this.keepInFlight) this.inFlightSeqs.clear();
  }

  /** PUBACK for record `seq`: releases it in the outbox. Returns whether the outbox still held it unreleased. */
  acknowledged(seq: number): boolean {
    this.inFlightSeqs.delete(seq);
    return this.source.release(seq);
  }

  /** Publishing record `seq` failed locally (the MQTT session refused it): it is planned again. */
  failed(seq: number): void {
    if (!this.inFlightSeqs.delete(seq)) return;
    if (seq < this.liveFrom) this.backlogCursor = Math.min(this.backlogCursor, seq);
    else this.liveCursor = Math.min(this.liveCursor, seq);
  }

  /** What to publish at `nowMs`, and when to ask again. */
  plan(nowMs: number): DrainPlan {
    const publish: PlannedPublish[] = [];
    if (this.startAt === undefined) return { publish, nextPlanAtMs: undefined, waiting: 'disconnected' };
    if (nowMs < this.startAt) return { publish, nextPlanAtMs: this.startAt, waiting: 'start-delay' };
    if (nowMs > this.refilledAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.refilledAt) * this.rate) / 1000);
      this.refilledAt = nowMs;
    }
    for (;;) {
      if (this.inFlightSeqs.size >= this.window) return { publish, nextPlanAtMs: undefined, waiting: 'window' };
      const candidate = this.candidate();
      if (candidate === undefined) return { publish, nextPlanAtMs: undefined, waiting: 'empty' };
      if (this.tokens < 1) {
        return { publish, nextPlanAtMs: nowMs + Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate)), waiting: 'rate' };
      }
      this.tokens -= 1;
      const seq = candidate.record.seq;
      if (candidate.live) this.liveCursor = seq + 1;
      else this.backlogCursor = seq + 1;
      this.cycle = (this.cycle + 1) % (this.liveShare + this.backlogShare);
      this.inFlightSeqs.add(seq);
      publish.push({ messageId: messageId(this.deviceId, this.source.logId, seq), live: candidate.live, record: candidate.record });
    }
  }

  /** The next record by the interleave pattern, not yet in flight; cursors skip in-flight records. */
  private candidate(): Candidate | undefined {
    const wantLive = this.cycle < this.liveShare;
    const first = wantLive ? this.nextLive() : this.nextBacklog();
    if (first !== undefined) return first;
    return wantLive ? this.nextBacklog() : this.nextLive();
  }

  private nextBacklog(): Candidate | undefined {
    for (;;) {
      const record = this.source.read(this.backlogCursor, 1, this.liveFrom)[0];
      if (record === undefined) return undefined;
      if (!this.inFlightSeqs.has(record.seq)) return { record, live: false };
      this.backlogCursor = record.seq + 1;
    }
  }

  private nextLive(): Candidate | undefined {
    for (;;) {
      const record = this.source.read(Math.max(this.liveCursor, this.liveFrom), 1)[0];
      if (record === undefined) return undefined;
      if (!this.inFlightSeqs.has(record.seq)) return { record, live: true };
      this.liveCursor = record.seq + 1;
    }
  }
}

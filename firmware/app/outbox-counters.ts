/**
 * The outbox's counters over the device's life, for the twin: the outbox itself counts only
 * since it was opened (one boot). Drops are rare (an overflow erases a sector of records at a
 * time; a full drop-newest outbox refuses a reading; flash damage is found at open), so their
 * totals go to settings as they happen. What was sent follows from the log: every record that
 * was ever appended took the next sequence number, so
 *
 *   appended (nextSeq - 1) = sent + queued + erased by overflow + lost to corruption.
 *
 * The totals belong to one log: a log started afresh (a new log id, after the partition was
 * erased or found unreadable) starts them at 0 again.
 */
import type { KeyValue } from '../../hal/kv';

const DOMAIN = 'outbox';

export interface OutboxTotals {
  sent: number;
  dropped: number;
}

export class OutboxCounters {
  private logId: number;
  private erased: number;
  private refused: number;
  private corrupt: number;

  constructor(private readonly kv: KeyValue) {
    const log = kv.get(DOMAIN, 'log');
    // A u32 as hex: NVS integers are 32-bit signed.
    this.logId = typeof log === 'string' && /^[0-9a-f]{1,8}$/.test(log) ? parseInt(log, 16) : -1;
    this.erased = this.number('erased');
    this.refused = this.number('full');
    this.corrupt = this.number('corrupt');
  }

  /** The outbox dropped records: `erased` unsent ones for room, one `refused` append, `corrupt` found at open. */
  dropped(logId: number, counts: { erased?: number; refused?: number; corrupt?: number }): void {
    this.follow(logId);
    this.erased += counts.erased ?? 0;
    this.refused += counts.refused ?? 0;
    this.corrupt += counts.corrupt ?? 0;
    this.save();
  }

  /** Sent and dropped over the log's life, given what the outbox holds now. */
  totals(logId: number, nextSeq: number, queued: number): OutboxTotals {
    this.follow(logId);
    return {
      sent: Math.max(0, nextSeq - 1 - queued - this.erased - this.corrupt),
      dropped: this.erased + this.refused + this.corrupt,
    };
  }

  /** A different log than the totals were kept for: start them again. */
  private follow(logId: number): void {
    if (logId === this.logId) return;
    this.logId = logId;
    this.erased = 0;
    this.refused = 0;
    this.corrupt = 0;
    this.save();
  }

  private save(): void {
    try {
      this.kv.set(DOMAIN, 'log', (this.logId >>> 0).toString(16));
      this.kv.set(DOMAIN, 'erased', this.erased);
      this.kv.set(DOMAIN, 'full', this.refused);
      this.kv.set(DOMAIN, 'corrupt', this.corrupt);
    } catch {
      // Settings full or failing: the totals stay right until the next restart.
    }
  }

  private number(key: string): number {
    const value = this.kv.get(DOMAIN, key);
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
  }
}

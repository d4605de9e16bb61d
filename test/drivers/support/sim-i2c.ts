/**
 * Test bench for drivers against chip models: a manual virtual clock that is also the HAL
 * `Timers`, and a HAL `I2CBus` over a list of `I2CTarget` models on that clock. Nothing
 * happens until a test moves time: `advance` fires due timers in order, `run` drives an
 * async driver call to completion by alternating microtask flushes and timer firings.
 */
import { I2CError } from '../../../hal/i2c';
import type { I2CBus, I2CDevice, I2COptions } from '../../../hal/i2c';
import type { TimerId, Timers } from '../../../hal/timer';
import type { I2CTarget } from '../../../host-sim/chips/i2c-target';

interface PendingTimer {
  dueMs: number;
  /** Ties on `dueMs` fire in the order the timers were (re)scheduled. */
  order: number;
  periodMs: number | undefined;
  callback: () => void;
}

export class ManualClock implements Timers {
  /** Virtual milliseconds since the bench started. */
  now = 0;
  readonly #timers = new Map<TimerId, PendingTimer>();
  #nextId = 1;
  #nextOrder = 0;

  set(callback: () => void, ms: number): TimerId {
    return this.#schedule(callback, ms, undefined);
  }

  repeat(callback: () => void, ms: number): TimerId {
    return this.#schedule(callback, ms, Math.max(ms, 1)); // a 0 ms repeat would never let time move
  }

  clear(id: TimerId): void {
    this.#timers.delete(id);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (let next = this.#earliest(); next && next[1].dueMs <= target; next = this.#earliest()) {
      this.#fire(next[0], next[1]);
    }
    this.now = target;
  }

  /**
   * Settles `promise` by letting microtasks run, then firing the next timer, until it is
   * settled. Fails if nothing is left to fire (a hang) or `limitMs` of virtual time passes.
   */
  async run<T>(promise: Promise<T>, limitMs = 60_000): Promise<T> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    const deadline = this.now + limitMs;
    for (;;) {
      await flushMicrotasks();
      if (settled) return promise;
      const next = this.#earliest();
      if (!next) throw new Error(`promise still pending at ${this.now} ms with no timer left to fire`);
      if (next[1].dueMs > deadline) throw new Error(`promise still pending after ${limitMs} ms of virtual time`);
      this.#fire(next[0], next[1]);
    }
  }

  #schedule(callback: () => void, ms: number, periodMs: number | undefined): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { dueMs: this.now + Math.max(0, ms), order: this.#nextOrder++, periodMs, callback });
    return id;
  }

  #earliest(): [TimerId, PendingTimer] | undefined {
    let best: [TimerId, PendingTimer] | undefined;
    for (const entry of this.#timers) {
      const timer = entry[1];
      if (!best || timer.dueMs < best[1].dueMs || (timer.dueMs === best[1].dueMs && timer.order < best[1].order)) {
        best = entry;
      }
    }
    return best;
  }

  #fire(id: TimerId, timer: PendingTimer): void {
    this.now = Math.max(this.now, timer.dueMs);
    if (timer.periodMs === undefined) {
      this.#timers.delete(id);
    } else {
      timer.dueMs += timer.periodMs;
      timer.order = this.#nextOrder++;
    }
    timer.callback();
  }
}

/** setImmediate runs after every queued promise reaction, however long the chain. */
function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One transfer as the bus saw it, for assertions about what a driver did and when. */
export interface Transfer {
  atMs: number;
  address: number;
  kind: 'write' | 'read';
  /** Bytes written, or bytes read when acknowledged. */
  bytes: Uint8Array | undefined;
  acknowledged: boolean;
}

export class SimI2CBus implements I2CBus {
  readonly transfers: Transfer[] = [];
  readonly #targets: I2CTarget[];

  constructor(
    readonly clock: ManualClock,
    targets: I2CTarget[] = [],
  ) {
    this.#targets = targets.slice();
  }

  attach(target: I2CTarget): void {
    this.#targets.push(target);
  }

  open(options: I2COptions): I2CDevice {
    const { address } = options;
    let closed = false;
    const use = (): I2CTarget | undefined => {
      if (closed) throw new Error(`I2C device 0x${address.toString(16)} is closed`);
      return this.#targets.find((target) => target.address === address);
    };
    const nack = (what: string) => new I2CError('nack', address, `no ACK from 0x${address.toString(16)} on ${what}`);
    const write = (bytes: Uint8Array): void => {
      const target = use();
      const copy = bytes.slice();
      const acknowledged = target !== undefined && target.write(copy, this.clock.now);
      this.transfers.push({ atMs: this.clock.now, address, kind: 'write', bytes: copy, acknowledged });
      if (!acknowledged) throw nack('write');
    };
    const read = (count: number): Uint8Array => {
      const target = use();
      const reply = target ? target.read(count, this.clock.now) : null;
      this.transfers.push({ atMs: this.clock.now, address, kind: 'read', bytes: reply?.slice(), acknowledged: reply !== null });
      if (reply === null) throw nack('read');
      if (reply.length !== count) throw new Error(`model at 0x${address.toString(16)} returned ${reply.length} of ${count} bytes`);
      return reply;
    };
    return {
      write: (bytes) => write(bytes),
      read: (count) => read(count),
      writeRead: (bytes, count) => {
        write(bytes);
        return read(count);
      },
      close: () => {
        closed = true;
      },
    };
  }

  /** Transfers to `address`, optionally only writes or reads. */
  transfersTo(address: number, kind?: 'write' | 'read'): Transfer[] {
    return this.transfers.filter((t) => t.address === address && (kind === undefined || t.kind === kind));
  }
}

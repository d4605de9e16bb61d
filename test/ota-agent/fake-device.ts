/**
 * A fake device for the OTA agent tests: KV with NVS's limits, two app slots of NOR flash
 * (writes only clear bits; a sector is erased when a write first reaches it, except the kept
 * prefix of a resumed download, as hal/moddable/ota.ts does), ESP-IDF's rollback states, and
 * a bootloader. Images are the simulator's (host-sim/ota/image.ts), checked at complete().
 * Plus the signing side (host-sim/ota) to make envelopes, and an HTTP-less image server that
 * drives the agent core's fetch events with scripted faults.
 */
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import { OtaAgent, type AgentPorts, type AgentWriter, type OtaAction, type OtaAgentOptions, type OtaOutput, type OtaStatus } from '../../firmware/ota/agent';
import { SectorMap, sectorsToErase } from '../../hal/moddable/ota-slot';
import { checkKvEntry, type KvValue } from '../../hal/kv';
import { OtaError, type AppState } from '../../hal/ota';
import { verifyP256 } from '../../host-sim/crypto/ecdsa-p256';
import { buildImage, parseImage } from '../../host-sim/ota/image';
import { generateKeyPair } from '../../host-sim/ota/keys';
import { signManifest, type SignedManifest, type UpdateManifest } from '../../host-sim/ota/manifest';

export const SECTOR = 4096;
export const BOARD = 'esp32-devkitc';

export class FakeKv {
  readonly values = new Map<string, KvValue>();
  sets = 0;
  get(domain: string, key: string): KvValue | undefined {
    return this.values.get(`${domain}/${key}`);
  }
  set(domain: string, key: string, value: KvValue): void {
    checkKvEntry(domain, key, value, (text) => Buffer.byteLength(text));
    if (typeof value === 'number' && (value > 0x7fffffff || value < -0x80000000)) throw new Error(`NVS stores int32; ${value} is out of range`);
    this.sets++;
    this.values.set(`${domain}/${key}`, value);
  }
  delete(domain: string, key: string): void {
    this.values.delete(`${domain}/${key}`);
  }
  keys(domain: string): string[] {
    return [...this.values.keys()].filter((key) => key.startsWith(`${domain}/`)).map((key) => key.slice(domain.length + 1));
  }
}

interface Slot {
  data: Uint8Array;
  version: string | undefined;
  state: AppState;
}

/** Two OTA slots, otadata and the bootloader, in memory. */
export class FakeDevice {
  readonly kv = new FakeKv();
  readonly slots: Slot[];
  running = 0;
  /** The slot the bootloader boots next, after complete(). */
  bootSlot = 0;
  /** What the writer did. */
  readonly stats = { opens: [] as boolean[], writes: 0, bytesWritten: 0, erases: 0, reads: 0, completes: 0, aborts: 0, markValid: 0, rollbacks: 0 };
  /** Make complete() throw (as esp_image_verify would). */
  refuseComplete: string | undefined;

  constructor(
    version = '1.0.0',
    readonly capacity = 512 * 1024,
  ) {
    // The inactive slot holds stale bytes of an older image: the writer must erase before writing.
    const stale = new Uint8Array(capacity);
    for (let i = 0; i < capacity; i++) stale[i] = (i * 131 + 7) & 0xff;
    this.slots = [
      { data: new Uint8Array(capacity).fill(0xff), version, state: 'valid' },
      { data: stale, version: undefined, state: 'undefined' },
    ];
  }

  get version(): string {
    return this.slots[this.running].version as string;
  }

  get state(): AppState {
    return this.slots[this.running].state;
  }

  get other(): Slot {
    return this.slots[1 - this.running];
  }

  openNext(resume: boolean): AgentWriter {
    if (this.state === 'pending-verify') throw new OtaError('the running image is pending verification');
    this.stats.opens.push(resume);
    const slot = this.other;
    const map = new SectorMap(this.capacity / SECTOR);
    let first = true;
    let open = true;
    const device = this;
    const check = () => {
      if (!open) throw new OtaError('writer closed');
    };
    return {
      capacity: this.capacity,
      write(bytes: Uint8Array, offset: number) {
        check();
        if (offset + bytes.length > device.capacity) throw new OtaError('past the end of the slot');
        const keepBefore = first && resume ? offset : undefined;
        first = false;
        for (const index of sectorsToErase(map, SECTOR, offset, bytes.length, keepBefore)) {
          slot.data.fill(0xff, index * SECTOR, (index + 1) * SECTOR);
          device.stats.erases++;
        }
        for (let i = 0; i < bytes.length; i++) slot.data[offset + i] &= bytes[i]; // NOR: only clears bits
        device.stats.writes++;
        device.stats.bytesWritten += bytes.length;
      },
      read(length: number, offset: number) {
        check();
        device.stats.reads++;
        return slot.data.slice(offset, offset + length);
      },
      complete(byteLength: number) {
        check();
        device.stats.completes++;
        if (device.refuseComplete) throw new OtaError(device.refuseComplete);
        let version: string;
        try {
          version = parseImage(slot.data.subarray(0, byteLength), 'update slot').version;
        } catch (error) {
          throw new OtaError((error as Error).message);
        }
        slot.version = version;
        slot.state = 'new';
        device.bootSlot = device.slots.indexOf(slot);
        open = false;
      },
      abort() {
        device.stats.aborts++;
        open = false;
      },
    };
  }

  markValid(): void {
    this.stats.markValid++;
    this.slots[this.running].state = 'valid';
  }

  /** esp_ota_mark_app_invalid_rollback_and_reboot: back to the other (valid) slot. */
  rollback(): void {
    this.stats.rollbacks++;
    this.slots[this.running].state = 'invalid';
    this.running = 1 - this.running;
    this.bootSlot = this.running;
  }

  /** A restart: the bootloader's choice (ESP-IDF rollback rules). */
  restart(): void {
    const current = this.slots[this.running];
    if (current.state === 'pending-verify') {
      // Restarted before confirming: the bootloader marks it aborted and goes back.
      current.state = 'aborted';
      this.running = 1 - this.running;
      this.bootSlot = this.running;
      return;
    }
    if (this.bootSlot !== this.running && this.slots[this.bootSlot].state === 'new') {
      this.running = this.bootSlot;
      this.slots[this.running].state = 'pending-verify';
    }
  }
}

/** A SHA-256 that the test can count. */
export function portsFor(device: FakeDevice, seed = 1): AgentPorts & { random: { draws: number } } {
  let state = seed;
  const random = { draws: 0 };
  return {
    random,
    kv: device.kv,
    ota: {
      runningState: () => device.state,
      openNext: (resume) => device.openNext(resume),
      markValid: () => device.markValid(),
    },
    crypto: {
      sha256() {
        const hash = createHash('sha256');
        return {
          update: (bytes: Uint8Array) => void hash.update(bytes),
          finish: () => new Uint8Array(hash.digest()),
        };
      },
      ecdsaP256Verify: (publicKey, digest, signature) => verifyP256(publicKey, digest, signature),
      randomBytes(count: number) {
        random.draws++;
        const out = new Uint8Array(count);
        for (let i = 0; i < count; i++) {
          state = (state * 1103515245 + 12345) >>> 0;
          out[i] = state >>> 24;
        }
        return out;
      },
    },
    text: {
      encode: (text) => new Uint8Array(Buffer.from(text, 'utf8')),
      decode: (bytes) => Buffer.from(bytes).toString('utf8'),
      fromBase64: (text) => {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error('not base64');
        return new Uint8Array(Buffer.from(text, 'base64'));
      },
      toHex: (bytes) => Buffer.from(bytes).toString('hex'),
    },
    wallTime: () => 1_700_000_000_000,
  };
}

// ---- updates ----

export const KEYS = generateKeyPair();
export const OTHER_KEYS = generateKeyPair();

export interface Update {
  image: Uint8Array;
  manifest: UpdateManifest;
  envelope: SignedManifest;
}

/** A signed update: an image of about `payloadBytes` for `version`. */
export function makeUpdate(version: string, options: { payloadBytes?: number; board?: string; securityVersion?: number; url?: string; keys?: typeof KEYS } = {}): Update {
  const payload = nodeRandomBytes(options.payloadBytes ?? 200_000);
  const image = buildImage({ version, board: options.board ?? BOARD, bundle: new Uint8Array(payload), securityVersion: options.securityVersion ?? 0 });
  const manifest: UpdateManifest = {
    version,
    board: options.board ?? BOARD,
    size: image.length,
    sha256: createHash('sha256').update(image).digest('hex'),
    url: options.url ?? `https://updates.example/fw-${version}.bin?sig=SECRET`,
    securityVersion: options.securityVersion ?? 0,
  };
  return { image, manifest, envelope: signManifest(manifest, (options.keys ?? KEYS).privateKeyPem) };
}

// ---- the core, driven like the shell would, with a scripted server ----

export interface ServePlan {
  /** Answer with this HTTP error status instead (fetchFailed, retryable when 5xx/408/429). */
  status?: number;
  /** Break the connection after this many body bytes. */
  dropAfter?: number;
  /** Answer a ranged request with 200 and the whole image. */
  ignoreRange?: boolean;
  /** Stop delivering (power loss): the harness returns with the fetch in flight. */
  powerLossAfter?: number;
}

export class AgentHarness {
  now = 1_000;
  agent!: OtaAgent;
  readonly statuses: OtaStatus[] = [];
  readonly actions: OtaAction[] = [];
  readonly fetches: { fetchId: number; rangeStart: number; at: number }[] = [];
  /** Body bytes the server sent. */
  served = 0;
  plans: ServePlan[] = [];
  /** What the server holds (may differ from the signed image). */
  served_image: Uint8Array | undefined;
  chunkSize = 1460;
  restartRequested = false;
  rollbackRequested = false;
  selfTests = 0;
  poweredOff = false;
  private queue: { fetchId: number; url: string; rangeStart: number }[] = [];
  private readonly cancelled = new Set<number>();
  private deadline: number | undefined;

  constructor(
    readonly device: FakeDevice,
    readonly options: Partial<OtaAgentOptions> = {},
  ) {
    this.powerOn();
  }

  /** A (re)boot: a fresh agent on the same device, then boot(). */
  powerOn(): OtaOutput {
    this.queue = [];
    this.deadline = undefined;
    this.restartRequested = false;
    this.rollbackRequested = false;
    this.poweredOff = false;
    this.agent = new OtaAgent(portsFor(this.device), {
      board: BOARD,
      runningVersion: this.device.version,
      publicKey: KEYS.publicKeyRaw,
      resumeDelayMs: 5_000,
      ...this.options,
    });
    return this.apply(this.agent.boot(this.now));
  }

  /** The restart the agent asked for (or a power cycle): the bootloader picks, then boot. */
  restart(): OtaOutput {
    this.device.restart();
    return this.powerOn();
  }

  request(envelope: unknown, force = false) {
    const result = this.agent.request(envelope, this.now, { force });
    this.apply(result);
    return result;
  }

  get status(): OtaStatus {
    return this.agent.status;
  }

  get last(): OtaStatus | undefined {
    return this.statuses[this.statuses.length - 1];
  }

  apply(out: OtaOutput): OtaOutput {
    for (const action of out.actions) {
      this.actions.push(action);
      switch (action.type) {
        case 'status':
          this.statuses.push(action.status);
          break;
        case 'fetch':
          this.queue.push(action);
          this.fetches.push({ fetchId: action.fetchId, rangeStart: action.rangeStart, at: this.now });
          break;
        case 'cancel-fetch':
          this.cancelled.add(action.fetchId);
          break;
        case 'restart':
          this.restartRequested = true;
          break;
        case 'rollback':
          this.rollbackRequested = true;
          break;
        case 'self-test':
          this.selfTests++;
          break;
      }
    }
    this.deadline = out.nextDeadline;
    expect(out.nextDeadline).toBe(this.agent.nextDeadline());
    return out;
  }

  /** Serves fetches and runs timers until nothing is left within `maxMs` (or the power goes). */
  run(image: Uint8Array, maxMs = 3_600_000): void {
    const limit = this.now + maxMs;
    for (let steps = 0; steps < 100_000 && !this.poweredOff; steps++) {
      const fetch = this.queue.shift();
      if (fetch) {
        this.serve(fetch, this.served_image ?? image);
        continue;
      }
      if (this.deadline !== undefined && this.deadline <= limit) {
        this.now = Math.max(this.now, this.deadline);
        this.apply(this.agent.tick(this.now));
        continue;
      }
      return;
    }
  }

  private serve(fetch: { fetchId: number; rangeStart: number }, image: Uint8Array): void {
    const id = fetch.fetchId;
    const plan = this.plans.shift() ?? {};
    this.now += 20;
    if (plan.status !== undefined) {
      const retryable = plan.status >= 500 || plan.status === 408 || plan.status === 429;
      this.apply(this.agent.fetchFailed(id, { message: `updates.example answered ${plan.status}`, retryable }, this.now));
      return;
    }
    const offset = plan.ignoreRange ? 0 : fetch.rangeStart;
    this.apply(this.agent.response(id, { status: offset === 0 ? 200 : 206, offset, total: image.length }, this.now));
    let sent = 0;
    for (let at = offset; at < image.length; at += this.chunkSize) {
      if (this.cancelled.has(id)) return;
      if (plan.powerLossAfter !== undefined && sent >= plan.powerLossAfter) {
        this.poweredOff = true;
        return;
      }
      if (plan.dropAfter !== undefined && sent >= plan.dropAfter) {
        this.apply(this.agent.fetchFailed(id, { message: 'reset: the connection broke', retryable: true }, this.now));
        return;
      }
      const piece = image.subarray(at, Math.min(image.length, at + this.chunkSize));
      this.now += 1;
      this.served += piece.length;
      sent += piece.length;
      this.apply(this.agent.chunk(id, piece.slice(), at, this.now));
    }
    if (this.cancelled.has(id)) return;
    this.apply(this.agent.done(id, this.now));
  }
}

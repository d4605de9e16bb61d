/**
 * The OTA agent as a sans-I/O core. It takes events (an update request, HTTP response
 * pieces, the self-test's result, timer expiries) with the current time, and returns actions
 * (status reports, fetches to start or cancel, the self-test to run, restart or roll back)
 * and the time of its next timer. The shell (ota-service.ts) performs the actions with the
 * HAL. The synchronous storage services (the OTA slot writer, KV, SHA-256 and ECDSA, text
 * codecs) are handed in as ports shaped like the HAL's, so tests use fakes.
 *
 * One update, from request to outcome:
 *  1. request(envelope): parse; verify the signature over the canonical manifest with the
 *     built-in key; check board, version (newer than the running one: no downgrade) and
 *     securityVersion (not below the stored anti-rollback counter). Refusals say why.
 *  2. Download: ranged GETs (`Range: bytes=N-`) into the inactive slot, a sector (4 KB) at a
 *     time, hashing what is written. The job (manifest) and a checkpoint of the bytes
 *     written (every `checkpointBytes`) are in KV, so an interrupted download resumes where
 *     it stopped, after a restart too: the written prefix is read back and hashed again
 *     (in slices, between event-loop turns), then the download continues from there.
 *     Failed requests are retried with exponential backoff and jitter; `maxAttempts` failures
 *     in a row without progress, or a non-retryable failure (4xx, a size mismatch), end it.
 *  3. Verify: size and SHA-256 equal the manifest's; then `writer.complete(size)` (the HAL
 *     checks the image header and makes the slot the next boot slot); 'rebooting'; restart.
 *  4. The new image boots in state pending-verify: boot() asks for the app's self-test with a
 *     deadline. Passed: markValid(), the anti-rollback counter rises to the image's
 *     securityVersion, 'succeeded'. Failed or late: the outcome is stored, then roll back;
 *     the previous image reports 'rolled-back' with the reason at its next boot. If the new
 *     image restarts before its self-test ends, the bootloader goes back by itself and the
 *     previous image reports that too.
 *
 * Memory: one sector buffer (4 KB) during a download, the manifest, a digest; the image is
 * never held. KV: domain "ota", keys listed in OTA_KV_KEYS.
 */
import {
  canonicalJson,
  ManifestError,
  parseEnvelope,
  publicKeyProblem,
  validateManifest,
  verifyEnvelopeSignature,
  MAX_MANIFEST_INTEGER,
  type ManifestCrypto,
  type ManifestText,
  type UpdateManifest,
} from './manifest';
import { DEFAULT_RETRY_POLICY, retryDelay, unitFromBytes, type RetryPolicy } from './retry';
import { compareSemVer, parseSemVer } from './semver';

export type OtaState = 'idle' | 'downloading' | 'verifying' | 'applying' | 'rebooting' | 'succeeded' | 'failed' | 'rolled-back';

/** What the twin's reported properties show about updates. */
export interface OtaStatus {
  state: OtaState;
  /** Download progress, 0 to 100 (downloading, verifying, applying, rebooting). */
  percent?: number;
  /** The running firmware's version. */
  version: string;
  /** The version being installed, or the one the outcome is about. */
  targetVersion?: string;
  /** Why it failed, rolled back, or is retrying. */
  reason?: string;
  /** Wall-clock Unix ms of the last change, when the device's clock is set. */
  updatedAt?: number;
}

export type OtaAction =
  | { type: 'status'; status: OtaStatus }
  /** GET `url` from byte `rangeStart`; report through response/chunk/done/fetchFailed with this `fetchId`. */
  | { type: 'fetch'; fetchId: number; url: string; rangeStart: number }
  | { type: 'cancel-fetch'; fetchId: number }
  /** Run the app's self-test; report with selfTestPassed / selfTestFailed (the deadline is the agent's). */
  | { type: 'self-test' }
  /** Restart into the new image (after reporting, once the report had a chance to go out). */
  | { type: 'restart'; reason: string }
  /** Call hal.ota.rollback(): mark the running image invalid and restart into the previous one. */
  | { type: 'rollback'; reason: string };

export interface OtaOutput {
  actions: OtaAction[];
  /** When to call tick(), on the caller's monotonic ms timeline; undefined: no timer needed. */
  nextDeadline: number | undefined;
}

export interface OtaRequestResult extends OtaOutput {
  /** true when the request started an update (or is the update already in progress). */
  accepted: boolean;
  /** Why it was not accepted. */
  reason?: string;
}

/** The fetch's response head, as the HTTP shell reports it. */
export interface FetchResponse {
  /** HTTP status (200 or 206). */
  status: number;
  /** Resource offset of the body's first byte. */
  offset: number;
  /** Length of the whole resource, when the server said it. */
  total?: number;
}

export interface FetchFailure {
  message: string;
  /** false for failures that another try will not fix (404, 403, a bad URL). */
  retryable: boolean;
}

// ---- ports: the HAL's synchronous services, structurally (firmware/ota imports no HAL module) ----

export interface AgentWriter {
  readonly capacity: number;
  write(bytes: Uint8Array, offset: number): void;
  read(length: number, offset: number): Uint8Array;
  complete(byteLength: number): void;
  abort(): void;
}

export interface AgentPorts {
  kv: {
    get(domain: string, key: string): boolean | number | string | Uint8Array | undefined;
    set(domain: string, key: string, value: boolean | number | string | Uint8Array): void;
    delete(domain: string, key: string): void;
  };
  ota: {
    runningState(): string;
    openNext(resume: boolean): AgentWriter;
    markValid(): void;
  };
  crypto: ManifestCrypto & { randomBytes(count: number): Uint8Array };
  text: ManifestText & { decode(bytes: Uint8Array): string };
  /** Wall-clock Unix ms, or undefined until the clock is set (for `updatedAt`). */
  wallTime(): number | undefined;
}

export interface OtaAgentOptions {
  /** This device's board name (hal.board.name): manifests for other boards are refused. */
  board: string;
  /** The running firmware's semantic version (hal.system.firmwareVersion()). */
  runningVersion: string;
  /** 65-byte uncompressed P-256 key that signs manifests (firmware/ota/public-key.ts). */
  publicKey: Uint8Array;
  /** The running build's own security version; the stored counter is raised to it at boot. Default 0. */
  securityVersion?: number;
  /** Flash sector size: the unit of writes; default 4096. */
  sectorSize?: number;
  /** Progress is persisted every this many bytes (a multiple of sectorSize); default 65 536. */
  checkpointBytes?: number;
  /** Failed fetches in a row, without progress, before the update fails; default 8. */
  maxAttempts?: number;
  retry?: Partial<RetryPolicy>;
  /** Time the app's self-test has after a restart into a new image; default 120 000 ms. */
  selfTestTimeoutMs?: number;
  /** A progress report at most every this many percent; default 5. */
  progressStepPercent?: number;
  /** Bytes read back and hashed per event-loop turn when resuming after a restart; default 65 536. */
  rehashSliceBytes?: number;
  /** Wait after boot before an interrupted download continues (lets the app connect first); default 10 000 ms. */
  resumeDelayMs?: number;
}

/** KV domain and keys (all within NVS's 15 characters). */
export const OTA_KV_DOMAIN = 'ota';
export const OTA_KV_KEYS = {
  /** JSON: the manifest being downloaded and its id. */
  job: 'job',
  /** Integer: bytes of the job's image written and hashed, at the last checkpoint. */
  written: 'written',
  /** JSON: an image activated and restarted into, awaiting its self-test: {id, version, from, securityVersion}. */
  applied: 'applied',
  /** Integer: the anti-rollback counter (highest securityVersion accepted). */
  securityVersion: 'secver',
  /** JSON: the last outcome (succeeded, failed, rolled-back), reported again after restarts. */
  last: 'last',
} as const;

const MAX_REASON_LENGTH = 240;

interface StoredJob {
  id: string;
  manifest: UpdateManifest;
}

interface StoredApplied {
  id: string;
  version: string;
  from: string;
  securityVersion: number;
}

interface StoredOutcome {
  state: 'succeeded' | 'failed' | 'rolled-back';
  /** The manifest id the outcome is about, when there was one. */
  id?: string;
  targetVersion?: string;
  reason?: string;
  updatedAt?: number;
}

type Phase =
  /** Nothing to do. */
  | 'idle'
  /** A download waits for its (re)try time or for the resume delay. */
  | 'waiting'
  /** Reading back and hashing the prefix written before a restart. */
  | 'rehashing'
  | 'fetching'
  /** Restart requested: nothing more happens in this image. */
  | 'rebooting'
  /** Running a new image's self-test. */
  | 'self-test'
  | 'rolling-back';

interface Job {
  id: string;
  manifest: UpdateManifest;
  writer: AgentWriter | undefined;
  /** Whether the writer must be opened with resume (bytes from before a restart are kept). */
  resume: boolean;
  digest: { update(bytes: Uint8Array): void; finish(): Uint8Array } | undefined;
  /** Bytes written to the slot and hashed. */
  flushed: number;
  /** Bytes waiting in `buffer` for a whole sector. */
  buffered: number;
  buffer: Uint8Array | undefined;
  /** Next offset to read back while rehashing. */
  rehashed: number;
  /** Failed fetches in a row without progress. */
  failures: number;
  /** `flushed` when the current fetch started, to see whether it made progress. */
  flushedAtFetch: number;
  fetchId: number | undefined;
  /** Resource offset of the next body byte of the current response. */
  position: number | undefined;
  lastPercent: number;
  retryAt: number | undefined;
}

function truncate(reason: string): string {
  return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 3)}...` : reason;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export class OtaAgent {
  private readonly sectorSize: number;
  private readonly checkpointBytes: number;
  private readonly maxAttempts: number;
  private readonly retry: RetryPolicy;
  private readonly selfTestTimeoutMs: number;
  private readonly progressStep: number;
  private readonly rehashSlice: number;
  private readonly resumeDelayMs: number;

  private phase: Phase = 'idle';
  private job: Job | undefined;
  private fetchCounter = 0;
  private selfTestDeadline: number | undefined;
  /** The update the running image is verifying, when known. */
  private verifying: StoredApplied | undefined;
  private current: OtaStatus;
  private out: OtaAction[] = [];
  private logs: string[] = [];

  constructor(
    private readonly ports: AgentPorts,
    private readonly options: OtaAgentOptions,
  ) {
    this.sectorSize = positiveInteger(options.sectorSize ?? 4096, 'sectorSize');
    this.checkpointBytes = positiveInteger(options.checkpointBytes ?? 65_536, 'checkpointBytes');
    if (this.checkpointBytes % this.sectorSize !== 0) throw new RangeError('checkpointBytes must be a multiple of sectorSize');
    this.maxAttempts = positiveInteger(options.maxAttempts ?? 8, 'maxAttempts');
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    if (!(this.retry.baseMs > 0) || !(this.retry.capMs >= this.retry.baseMs)) throw new RangeError('retry needs 0 < baseMs <= capMs');
    this.selfTestTimeoutMs = positiveInteger(options.selfTestTimeoutMs ?? 120_000, 'selfTestTimeoutMs');
    this.progressStep = positiveInteger(options.progressStepPercent ?? 5, 'progressStepPercent');
    this.rehashSlice = positiveInteger(options.rehashSliceBytes ?? 65_536, 'rehashSliceBytes');
    this.resumeDelayMs = options.resumeDelayMs ?? 10_000;
    if (!(this.resumeDelayMs >= 0)) throw new RangeError('resumeDelayMs must be >= 0');
    const securityVersion = options.securityVersion ?? 0;
    if (!Number.isInteger(securityVersion) || securityVersion < 0 || securityVersion > MAX_MANIFEST_INTEGER) {
      throw new RangeError(`securityVersion must be an integer from 0 to ${MAX_MANIFEST_INTEGER}`);
    }
    this.current = { state: 'idle', version: options.runningVersion };
  }

  /** The latest status (what the twin's reported property should hold). */
  get status(): OtaStatus {
    return { ...this.current };
  }

  /** The anti-rollback counter: updates with a lower securityVersion are refused. */
  get securityFloor(): number {
    const stored = this.storedCounter();
    const own = this.options.securityVersion ?? 0;
    return stored !== undefined && stored > own ? stored : own;
  }

  /** The stored counter: an integer, or a decimal string above NVS's int32 range (it is a u32). */
  private storedCounter(): number | undefined {
    const stored = this.ports.kv.get(OTA_KV_DOMAIN, OTA_KV_KEYS.securityVersion);
    const value = typeof stored === 'string' && /^\d{1,10}$/.test(stored) ? Number(stored) : stored;
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
  }

  private storeCounter(value: number): void {
    this.store(OTA_KV_KEYS.securityVersion, value <= 0x7fffffff ? value : String(value));
  }

  /** When tick() must run next. */
  nextDeadline(): number | undefined {
    switch (this.phase) {
      case 'waiting':
        return this.job?.retryAt;
      case 'rehashing':
        return this.job?.retryAt;
      case 'self-test':
        return this.selfTestDeadline;
      default:
        return undefined;
    }
  }

  // ---- events ----

  /**
   * Call once at startup. Runs the self-test of a new image (running state pending-verify),
   * settles what happened to an image applied before the restart, reports the last outcome,
   * and continues an interrupted download after `resumeDelayMs`.
   */
  boot(now: number): OtaOutput {
    this.begin();
    const kv = this.ports.kv;
    const own = this.options.securityVersion ?? 0;
    const stored = this.storedCounter();
    if (stored === undefined || stored < own) this.storeCounter(own);

    const running = this.options.runningVersion;
    const applied = this.readApplied();
    const storedJob = this.readJob();
    const last = this.readOutcome();
    let state = 'undefined';
    try {
      state = this.ports.ota.runningState();
    } catch (error) {
      this.log(`reading the running image's state failed: ${(error as Error).message}`);
    }

    if (state === 'pending-verify' || state === 'new') {
      // A new image on trial: only its self-test matters now.
      // What this image is, if KV knows: the applied record, or (when the restart came before
      // that record was written) the job whose image it is.
      this.verifying =
        applied && applied.version === running
          ? applied
          : storedJob && storedJob.manifest.version === running
            ? { id: storedJob.id, version: running, from: applied?.from ?? '', securityVersion: storedJob.manifest.securityVersion }
            : undefined;
      this.phase = 'self-test';
      this.selfTestDeadline = now + this.selfTestTimeoutMs;
      this.report({ state: 'verifying', percent: 100, targetVersion: running });
      this.out.push({ type: 'self-test' });
      return this.end();
    }

    if (applied) {
      this.remove(OTA_KV_KEYS.applied);
      if (applied.version === running) {
        // Confirmed before the restart, but the outcome was not stored yet.
        this.settleSuccess(applied);
      } else {
        const reason = `version ${applied.version} restarted before its self-test passed; the bootloader went back to ${running}`;
        this.storeOutcome({ state: 'rolled-back', id: applied.id, targetVersion: applied.version, reason });
      }
    }

    if (storedJob && this.resumable(storedJob)) {
      const written = kv.get(OTA_KV_DOMAIN, OTA_KV_KEYS.written);
      const flushed = typeof written === 'number' && Number.isInteger(written) && written > 0 ? Math.min(written - (written % this.sectorSize), storedJob.manifest.size) : 0;
      this.job = this.newJob(storedJob, flushed > 0);
      this.job.flushed = flushed;
      this.job.retryAt = now + this.resumeDelayMs;
      this.phase = 'waiting';
      this.report({
        state: 'downloading',
        percent: this.percentOf(flushed, storedJob.manifest.size),
        targetVersion: storedJob.manifest.version,
        reason: 'resuming after a restart',
      });
      return this.end();
    }
    if (storedJob) this.clearJobRecords();
    if (!this.out.some((action) => action.type === 'status')) {
      const outcome = this.readOutcome() ?? last;
      if (outcome) this.current = this.statusFromOutcome(outcome);
      this.out.push({ type: 'status', status: this.status });
    }
    return this.end();
  }

  /**
   * An update request: the manifest envelope (JSON text or parsed object) from a twin
   * desired property or a direct method. `force` retries a manifest whose last attempt
   * failed or rolled back (a twin property delivered again must not restart a failed update
   * on every connection; an operator's explicit command may).
   */
  request(envelope: unknown, now: number, options: { force?: boolean } = {}): OtaRequestResult {
    this.begin();
    let id: string | undefined;
    const refuse = (reason: string, targetVersion?: string, report = true): OtaRequestResult => {
      // A refusal does not disturb an update in progress, nor a self-test.
      if (report && !this.job && this.phase === 'idle') {
        this.storeOutcome({ state: 'failed', id, targetVersion, reason });
        this.report(this.statusFromOutcome(this.readOutcome() ?? { state: 'failed', reason }));
      }
      return { ...this.end(), accepted: false, reason };
    };
    if (this.phase === 'self-test' || this.phase === 'rolling-back') return refuse('busy: the running image is still verifying itself', undefined, false);
    if (this.phase === 'rebooting') return refuse('busy: restarting into a new image', undefined, false);

    let parsed;
    try {
      parsed = parseEnvelope(envelope);
    } catch (error) {
      return refuse(`invalid update request: ${(error as Error).message}`);
    }
    const manifest = parsed.manifest;
    const target = parseSemVer(manifest.version) ? manifest.version : undefined;
    const keyProblem = publicKeyProblem(this.options.publicKey);
    if (keyProblem) return refuse(keyProblem, target);
    try {
      id = verifyEnvelopeSignature(parsed, this.options.publicKey, this.ports.crypto, this.ports.text);
    } catch (error) {
      return refuse(error instanceof ManifestError ? error.message : `signature check failed: ${(error as Error).message}`, target);
    }
    if (this.job && this.job.id === id) return { ...this.end(), accepted: true };

    const last = this.readOutcome();
    if (last && last.id === id && !options.force) {
      if (last.state === 'succeeded') return refuse(`version ${manifest.version} is already installed`, target, false);
      return refuse(`this update already ${last.state === 'failed' ? 'failed' : 'rolled back'}${last.reason ? ` (${last.reason})` : ''}; send it again with force to retry`, target, false);
    }
    if (manifest.board !== this.options.board) {
      return refuse(`the image is built for board "${manifest.board}"; this device is "${this.options.board}"`, target);
    }
    const running = parseSemVer(this.options.runningVersion);
    const wanted = parseSemVer(manifest.version);
    if (!wanted) return refuse(`manifest version "${manifest.version}" is not a semantic version`);
    if (!running) return refuse(`the running version "${this.options.runningVersion}" is not a semantic version, so no update can be ordered against it`, target);
    const order = compareSemVer(wanted, running);
    if (order === 0) return refuse(`version ${manifest.version} is already running`, target, false);
    if (order < 0) return refuse(`version ${manifest.version} is older than the running ${this.options.runningVersion}: downgrades are refused`, target);
    const floor = this.securityFloor;
    if (manifest.securityVersion < floor) {
      return refuse(`securityVersion ${manifest.securityVersion} is below this device's anti-rollback counter ${floor}`, target);
    }

    if (this.job) this.dropJob(`superseded by version ${manifest.version}`);
    const stored: StoredJob = { id, manifest };
    this.store(OTA_KV_KEYS.job, JSON.stringify(stored));
    this.store(OTA_KV_KEYS.written, 0);
    this.job = this.newJob(stored, false);
    this.report({ state: 'downloading', percent: 0, targetVersion: manifest.version });
    this.startDownload(now);
    // Opening the slot can fail at once (the image does not fit): that is a refusal too.
    if (!this.job) return { ...this.end(), accepted: false, reason: this.current.reason };
    return { ...this.end(), accepted: true };
  }

  /** The fetch's response head arrived. */
  response(fetchId: number, response: FetchResponse, now: number): OtaOutput {
    this.begin();
    const job = this.currentFetch(fetchId);
    if (!job) return this.end();
    const size = job.manifest.size;
    if (response.total !== undefined && response.total !== size) {
      this.failJob(`the server's file has ${response.total} bytes; the manifest says ${size}`, now);
      return this.end();
    }
    if (response.offset > job.flushed + job.buffered) {
      this.fetchError(fetchId, { message: `the server answered from byte ${response.offset}, after the ${job.flushed} bytes written`, retryable: true }, now);
      return this.end();
    }
    job.position = response.offset;
    return this.end();
  }

  /** A piece of the body at resource offset `offset`. `bytes` is only read during the call. */
  chunk(fetchId: number, bytes: Uint8Array, offset: number, now: number): OtaOutput {
    this.begin();
    const job = this.currentFetch(fetchId);
    if (!job) return this.end();
    const have = job.flushed + job.buffered;
    const size = job.manifest.size;
    if (offset + bytes.length > size) {
      this.failJob(`the server sent more than the manifest's ${size} bytes`, now);
      return this.end();
    }
    if (offset > have) {
      this.fetchError(fetchId, { message: `a gap in the download: byte ${offset} arrived after ${have}`, retryable: true }, now);
      return this.end();
    }
    let piece = offset + bytes.length <= have ? bytes.subarray(0, 0) : bytes.subarray(have - offset);
    job.position = offset + bytes.length;
    try {
      while (piece.length > 0) {
        const buffer = job.buffer as Uint8Array;
        const take = Math.min(piece.length, this.sectorSize - job.buffered);
        buffer.set(piece.subarray(0, take), job.buffered);
        job.buffered += take;
        piece = piece.subarray(take);
        if (job.buffered === this.sectorSize) this.flush(job);
      }
    } catch (error) {
      this.failJob(`writing the update slot failed: ${(error as Error).message}`, now);
      return this.end();
    }
    const percent = this.percentOf(job.flushed + job.buffered, size);
    if (percent >= job.lastPercent + this.progressStep && percent < 100) {
      job.lastPercent = percent - (percent % this.progressStep);
      this.report({ state: 'downloading', percent, targetVersion: job.manifest.version });
    }
    return this.end();
  }

  /** The body ended (the server closed or the length was reached). */
  done(fetchId: number, now: number): OtaOutput {
    this.begin();
    const job = this.currentFetch(fetchId);
    if (!job) return this.end();
    const received = job.flushed + job.buffered;
    if (received < job.manifest.size) {
      this.fetchError(fetchId, { message: `the download ended after ${received} of ${job.manifest.size} bytes`, retryable: true }, now);
      return this.end();
    }
    job.fetchId = undefined;
    this.finishDownload(job, now);
    return this.end();
  }

  /** The fetch failed (network, timeout, HTTP status, malformed response). */
  fetchFailed(fetchId: number, failure: FetchFailure, now: number): OtaOutput {
    this.begin();
    if (this.currentFetch(fetchId)) this.fetchError(fetchId, failure, now);
    return this.end();
  }

  /** The app's self-test passed. */
  selfTestPassed(now: number): OtaOutput {
    this.begin();
    if (this.phase !== 'self-test') return this.end();
    this.selfTestDeadline = undefined;
    try {
      this.ports.ota.markValid();
    } catch (error) {
      this.rollBack(`the self-test passed but marking the image valid failed: ${(error as Error).message}`);
      return this.end();
    }
    const verifying = this.verifying ?? { id: '', version: this.options.runningVersion, from: '', securityVersion: 0 };
    this.remove(OTA_KV_KEYS.applied);
    this.settleSuccess(verifying);
    this.phase = 'idle';
    this.verifying = undefined;
    const storedJob = this.readJob();
    if (storedJob && this.resumable(storedJob)) {
      // A newer download was interrupted by this update's restart: continue it.
      const written = this.ports.kv.get(OTA_KV_DOMAIN, OTA_KV_KEYS.written);
      const flushed = typeof written === 'number' && written > 0 ? Math.min(written - (written % this.sectorSize), storedJob.manifest.size) : 0;
      this.job = this.newJob(storedJob, flushed > 0);
      this.job.flushed = flushed;
      this.job.retryAt = now + this.resumeDelayMs;
      this.phase = 'waiting';
    } else if (storedJob) this.clearJobRecords();
    return this.end();
  }

  /** The app's self-test failed: roll back. */
  selfTestFailed(reason: string, now: number): OtaOutput {
    this.begin();
    void now;
    if (this.phase !== 'self-test') return this.end();
    this.selfTestDeadline = undefined;
    this.rollBack(`self-test failed: ${reason}`);
    return this.end();
  }

  /** Stops the update in progress (not a self-test): the slot is abandoned, the job forgotten. */
  cancel(reason: string, now: number): OtaOutput {
    this.begin();
    void now;
    if (this.job) {
      const target = this.job.manifest.version;
      const id = this.job.id;
      this.dropJob(reason);
      this.phase = 'idle';
      this.storeOutcome({ state: 'failed', id, targetVersion: target, reason: `cancelled: ${reason}` });
      this.report(this.statusFromOutcome(this.readOutcome() as StoredOutcome));
    }
    return this.end();
  }

  /** Timers: retries, the resume delay, rehash slices, the self-test deadline. */
  tick(now: number): OtaOutput {
    this.begin();
    if (this.phase === 'self-test') {
      if (this.selfTestDeadline !== undefined && now >= this.selfTestDeadline) {
        this.selfTestDeadline = undefined;
        this.rollBack(`self-test gave no result within ${this.selfTestTimeoutMs} ms`);
      }
      return this.end();
    }
    const job = this.job;
    if (!job || job.retryAt === undefined || now < job.retryAt) return this.end();
    job.retryAt = undefined;
    if (this.phase === 'waiting') this.startDownload(now);
    else if (this.phase === 'rehashing') this.rehash(job, now);
    return this.end();
  }

  // ---- the download ----

  private newJob(stored: StoredJob, resume: boolean): Job {
    return {
      id: stored.id,
      manifest: stored.manifest,
      writer: undefined,
      resume,
      digest: undefined,
      flushed: 0,
      buffered: 0,
      buffer: undefined,
      rehashed: 0,
      failures: 0,
      flushedAtFetch: 0,
      fetchId: undefined,
      position: undefined,
      lastPercent: 0,
      retryAt: undefined,
    };
  }

  /** Opens the slot if needed (and rehashes a resumed prefix), then fetches. */
  private startDownload(now: number): void {
    const job = this.job as Job;
    if (!job.writer) {
      let writer: AgentWriter;
      try {
        writer = this.ports.ota.openNext(job.resume);
      } catch (error) {
        this.failJob(`cannot open the update slot: ${(error as Error).message}`, now);
        return;
      }
      job.writer = writer;
      if (job.manifest.size > writer.capacity) {
        this.failJob(`the image has ${job.manifest.size} bytes; the update slot holds ${writer.capacity}`, now);
        return;
      }
      job.digest = this.ports.crypto.sha256();
      job.buffer = new Uint8Array(this.sectorSize);
      job.lastPercent = this.percentOf(job.flushed, job.manifest.size);
      if (job.resume && job.flushed > 0) {
        job.rehashed = 0;
        this.phase = 'rehashing';
        this.rehash(job, now);
        return;
      }
      job.flushed = 0;
    }
    this.startFetch(job);
  }

  /** Hashes up to rehashSliceBytes of the prefix already in the slot, a sector per read. */
  private rehash(job: Job, now: number): void {
    const writer = job.writer as AgentWriter;
    const digest = job.digest as { update(bytes: Uint8Array): void };
    const stop = Math.min(job.flushed, job.rehashed + this.rehashSlice);
    try {
      while (job.rehashed < stop) {
        const length = Math.min(this.sectorSize, stop - job.rehashed);
        const bytes = writer.read(length, job.rehashed);
        if (bytes.length !== length) throw new Error(`read ${bytes.length} bytes instead of ${length}`);
        digest.update(bytes);
        job.rehashed += length;
      }
    } catch (error) {
      // The prefix cannot be trusted: start over from byte 0 with a fresh slot.
      this.log(`re-reading the resumed download failed (${(error as Error).message}); starting over`);
      this.restartFromZero(job, now);
      return;
    }
    if (job.rehashed < job.flushed) {
      job.retryAt = now; // the next slice on the next turn of the event loop
      return;
    }
    this.startFetch(job);
  }

  private restartFromZero(job: Job, now: number): void {
    try {
      job.writer?.abort();
    } catch {
      // Abandoning the slot: nothing more to do.
    }
    job.writer = undefined;
    job.resume = false;
    job.flushed = 0;
    job.buffered = 0;
    this.store(OTA_KV_KEYS.written, 0);
    this.startDownload(now);
  }

  private startFetch(job: Job): void {
    job.fetchId = ++this.fetchCounter;
    job.flushedAtFetch = job.flushed;
    job.position = undefined;
    job.buffered = 0;
    this.phase = 'fetching';
    this.out.push({ type: 'fetch', fetchId: job.fetchId, url: job.manifest.url, rangeStart: job.flushed });
  }

  private currentFetch(fetchId: number): Job | undefined {
    const job = this.job;
    return job && this.phase === 'fetching' && job.fetchId === fetchId ? job : undefined;
  }

  /** Writes and hashes the buffered bytes; persists a checkpoint when one is crossed. */
  private flush(job: Job): void {
    if (job.buffered === 0) return;
    const bytes = (job.buffer as Uint8Array).subarray(0, job.buffered);
    (job.writer as AgentWriter).write(bytes, job.flushed);
    (job.digest as { update(bytes: Uint8Array): void }).update(bytes);
    const before = job.flushed;
    job.flushed += job.buffered;
    job.buffered = 0;
    const checkpoint = job.flushed - (job.flushed % this.checkpointBytes);
    if (checkpoint > before - (before % this.checkpointBytes)) this.store(OTA_KV_KEYS.written, checkpoint);
  }

  private fetchError(fetchId: number, failure: FetchFailure, now: number): void {
    const job = this.job as Job;
    if (job.fetchId === fetchId) {
      this.out.push({ type: 'cancel-fetch', fetchId });
      job.fetchId = undefined;
    }
    try {
      this.flush(job); // whole bytes received are good: keep them
    } catch (error) {
      this.failJob(`writing the update slot failed: ${(error as Error).message}`, now);
      return;
    }
    if (!failure.retryable) {
      this.failJob(`download failed: ${failure.message}`, now);
      return;
    }
    if (job.flushed > job.flushedAtFetch) job.failures = 0;
    job.failures++;
    if (job.failures >= this.maxAttempts) {
      this.failJob(`download failed ${job.failures} times in a row; last: ${failure.message}`, now);
      return;
    }
    const delay = retryDelay(this.retry, job.failures, unitFromBytes(this.ports.crypto.randomBytes(4)));
    job.retryAt = now + delay;
    this.phase = 'waiting';
    this.report({
      state: 'downloading',
      percent: this.percentOf(job.flushed, job.manifest.size),
      targetVersion: job.manifest.version,
      reason: `retry ${job.failures} of ${this.maxAttempts - 1} in ${Math.ceil(delay / 1000)} s: ${failure.message}`,
    });
  }

  private finishDownload(job: Job, now: number): void {
    const size = job.manifest.size;
    try {
      this.flush(job);
    } catch (error) {
      this.failJob(`writing the update slot failed: ${(error as Error).message}`, now);
      return;
    }
    this.report({ state: 'verifying', percent: 100, targetVersion: job.manifest.version });
    const digest = job.digest as { finish(): Uint8Array };
    job.digest = undefined;
    const actual = this.ports.text.toHex(digest.finish()).toLowerCase();
    if (job.flushed !== size) {
      this.failJob(`the image has ${job.flushed} bytes; the manifest says ${size}`, now);
      return;
    }
    if (actual !== job.manifest.sha256) {
      this.failJob(`the image's SHA-256 is ${actual}; the manifest says ${job.manifest.sha256}`, now);
      return;
    }
    this.report({ state: 'applying', percent: 100, targetVersion: job.manifest.version });
    try {
      (job.writer as AgentWriter).complete(size);
    } catch (error) {
      this.failJob(`the image was refused: ${(error as Error).message}`, now);
      return;
    }
    const applied: StoredApplied = { id: job.id, version: job.manifest.version, from: this.options.runningVersion, securityVersion: job.manifest.securityVersion };
    this.store(OTA_KV_KEYS.applied, JSON.stringify(applied));
    this.clearJobRecords();
    this.job = undefined;
    this.phase = 'rebooting';
    this.report({ state: 'rebooting', percent: 100, targetVersion: applied.version });
    this.out.push({ type: 'restart', reason: `restarting into version ${applied.version}` });
  }

  /** Ends the job as failed: abandons the slot, forgets the job, stores and reports the outcome. */
  private failJob(reason: string, now: number): void {
    void now;
    const job = this.job;
    if (!job) return;
    this.dropJob(reason);
    this.phase = 'idle';
    this.storeOutcome({ state: 'failed', id: job.id, targetVersion: job.manifest.version, reason });
    this.report(this.statusFromOutcome(this.readOutcome() as StoredOutcome));
  }

  /** Stops the job's fetch and writer and deletes its KV records. */
  private dropJob(reason: string): void {
    const job = this.job;
    if (!job) return;
    if (job.fetchId !== undefined) this.out.push({ type: 'cancel-fetch', fetchId: job.fetchId });
    try {
      job.writer?.abort();
    } catch (error) {
      this.log(`abandoning the update slot failed: ${(error as Error).message}`);
    }
    this.log(`update to ${job.manifest.version} stopped: ${reason}`);
    this.job = undefined;
    this.clearJobRecords();
  }

  // ---- after the restart ----

  private settleSuccess(applied: StoredApplied): void {
    if (applied.securityVersion > this.securityFloor) this.storeCounter(applied.securityVersion);
    this.storeOutcome({ state: 'succeeded', id: applied.id || undefined, targetVersion: applied.version });
    this.report(this.statusFromOutcome(this.readOutcome() as StoredOutcome));
  }

  private rollBack(reason: string): void {
    const verifying = this.verifying;
    this.storeOutcome({ state: 'rolled-back', id: verifying?.id || undefined, targetVersion: this.options.runningVersion, reason });
    this.remove(OTA_KV_KEYS.applied);
    this.clearJobRecords();
    this.phase = 'rolling-back';
    this.report(this.statusFromOutcome(this.readOutcome() as StoredOutcome));
    this.out.push({ type: 'rollback', reason });
  }

  // ---- KV records ----

  private resumable(job: StoredJob): boolean {
    const running = parseSemVer(this.options.runningVersion);
    const wanted = parseSemVer(job.manifest.version);
    return (
      running !== undefined &&
      wanted !== undefined &&
      compareSemVer(wanted, running) > 0 &&
      job.manifest.board === this.options.board &&
      job.manifest.securityVersion >= this.securityFloor
    );
  }

  private readJson(key: string): { [name: string]: unknown } | undefined {
    const value = this.ports.kv.get(OTA_KV_DOMAIN, key);
    if (typeof value !== 'string') return undefined;
    try {
      const parsed = JSON.parse(value) as unknown;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as { [name: string]: unknown }) : undefined;
    } catch {
      return undefined;
    }
  }

  private readJob(): StoredJob | undefined {
    const record = this.readJson(OTA_KV_KEYS.job);
    if (!record || typeof record.id !== 'string') return undefined;
    try {
      // The stored manifest was verified before it was stored; this only checks its shape.
      return { id: record.id, manifest: validateManifest(record.manifest) };
    } catch {
      return undefined;
    }
  }

  private readApplied(): StoredApplied | undefined {
    const record = this.readJson(OTA_KV_KEYS.applied);
    if (!record || typeof record.version !== 'string' || typeof record.from !== 'string') return undefined;
    return {
      id: typeof record.id === 'string' ? record.id : '',
      version: record.version,
      from: record.from,
      securityVersion: typeof record.securityVersion === 'number' ? record.securityVersion : 0,
    };
  }

  private readOutcome(): StoredOutcome | undefined {
    const record = this.readJson(OTA_KV_KEYS.last);
    if (!record || (record.state !== 'succeeded' && record.state !== 'failed' && record.state !== 'rolled-back')) return undefined;
    const outcome: StoredOutcome = { state: record.state };
    if (typeof record.id === 'string') outcome.id = record.id;
    if (typeof record.targetVersion === 'string') outcome.targetVersion = record.targetVersion;
    if (typeof record.reason === 'string') outcome.reason = record.reason;
    if (typeof record.updatedAt === 'number') outcome.updatedAt = record.updatedAt;
    return outcome;
  }

  /** Stores the outcome, unless the same one (time aside) is stored already: repeated refusals do not wear the flash. */
  private storeOutcome(outcome: StoredOutcome): void {
    const record: StoredOutcome = { ...outcome };
    if (record.reason !== undefined) record.reason = truncate(record.reason);
    const existing = this.readOutcome();
    if (
      existing &&
      existing.state === record.state &&
      existing.id === record.id &&
      existing.targetVersion === record.targetVersion &&
      existing.reason === record.reason
    ) {
      return;
    }
    const wall = this.ports.wallTime();
    if (wall !== undefined) record.updatedAt = wall;
    for (const key of Object.keys(record) as (keyof StoredOutcome)[]) if (record[key] === undefined) delete record[key];
    this.store(OTA_KV_KEYS.last, canonicalJson(record));
  }

  private statusFromOutcome(outcome: StoredOutcome): OtaStatus {
    const status: OtaStatus = { state: outcome.state, version: this.options.runningVersion };
    if (outcome.targetVersion !== undefined) status.targetVersion = outcome.targetVersion;
    if (outcome.reason !== undefined) status.reason = outcome.reason;
    if (outcome.updatedAt !== undefined) status.updatedAt = outcome.updatedAt;
    return status;
  }

  private clearJobRecords(): void {
    this.remove(OTA_KV_KEYS.job);
    this.remove(OTA_KV_KEYS.written);
  }

  private store(key: string, value: number | string): void {
    try {
      this.ports.kv.set(OTA_KV_DOMAIN, key, value);
    } catch (error) {
      this.log(`storing ota/${key} failed: ${(error as Error).message}`);
    }
  }

  private remove(key: string): void {
    try {
      this.ports.kv.delete(OTA_KV_DOMAIN, key);
    } catch (error) {
      this.log(`deleting ota/${key} failed: ${(error as Error).message}`);
    }
  }

  // ---- output ----

  private percentOf(bytes: number, size: number): number {
    return size > 0 ? Math.min(100, Math.floor((bytes * 100) / size)) : 0;
  }

  private report(fields: Omit<OtaStatus, 'version'>): void {
    const status: OtaStatus = { ...fields, version: this.options.runningVersion };
    if (status.reason !== undefined) status.reason = truncate(status.reason);
    if (status.updatedAt === undefined) {
      const wall = this.ports.wallTime();
      if (wall !== undefined) status.updatedAt = wall;
    }
    for (const key of Object.keys(status) as (keyof OtaStatus)[]) if (status[key] === undefined) delete status[key];
    this.current = status;
    this.out.push({ type: 'status', status: { ...status } });
  }

  /** A diagnostic for the shell to log (takeLogs). */
  private log(message: string): void {
    if (this.logs.length < 16) this.logs.push(message);
  }

  /** Diagnostics since the last call (at most 16 kept): the shell writes them to hal.log. */
  takeLogs(): string[] {
    const logs = this.logs;
    this.logs = [];
    return logs;
  }

  private begin(): void {
    this.out = [];
  }

  private end(): OtaOutput {
    const out = { actions: this.out, nextDeadline: this.nextDeadline() };
    this.out = [];
    return out;
  }
}

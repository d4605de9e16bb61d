/**
 * The OTA agent's shell: connects the sans-I/O `OtaAgent` to the HAL. It downloads with the
 * HTTP client (`firmware/iot/http`), keeps the agent's one timer, runs the app's self-test,
 * hands every status to the app (which puts it in the twin's reported properties), and
 * performs the restart or the rollback, after giving the last status report a moment
 * (`reportGraceMs`) to leave the device.
 *
 * The app's part:
 *   const ota = new OtaService(hal, { selfTest, onStatus, securityVersion, tls });
 *   ota.start();                          // once, early at boot
 *   ota.request(envelope);                // on a desired property or a direct method
 *   ota.status;                           // to report after (re)connecting
 */
import type { Hal } from '../../hal';
import type { TlsOptions } from '../../hal/net';
import { OtaError } from '../../hal/ota';
import { httpGet, type HttpRequest } from '../iot/http/client';
import { OtaAgent, type OtaAgentOptions, type OtaOutput, type OtaStatus } from './agent';
import { OTA_PUBLIC_KEY } from './public-key';

export interface OtaServiceOptions {
  /** The update signing key; default the built-in OTA_PUBLIC_KEY. */
  publicKey?: Uint8Array;
  /** Default hal.board.name. */
  board?: string;
  /** The running build's security version (raises the stored anti-rollback counter); default 0. */
  securityVersion?: number;
  /** TLS for https downloads (CA certificates, client certificate); SNI is the URL's host. */
  tls?: TlsOptions;
  /**
   * Proves a new image works, after the restart into it: for example "connected to the hub,
   * received the twin, reported". Resolving passes (unless it resolves to `false`);
   * rejecting, resolving `false` or not settling within the agent's selfTestTimeoutMs
   * (default 120 s) rolls back. Without one, a new image passes at once (logged).
   */
  selfTest?: () => Promise<unknown>;
  /**
   * Every status change, for the twin's reported properties. A returned promise (the
   * reported-property patch's acknowledgement) is waited for, at most reportGraceMs, before a
   * restart or rollback.
   */
  onStatus?: (status: OtaStatus) => void | Promise<unknown>;
  /** Agent tuning: timeouts, retries, checkpoints (see OtaAgentOptions). */
  agent?: Partial<Omit<OtaAgentOptions, 'board' | 'runningVersion' | 'publicKey' | 'securityVersion'>>;
  /** HTTP: idle timeout (default 30 000 ms), redirects (default 3), extra headers. */
  http?: { timeoutMs?: number; maxRedirects?: number; headers?: ReadonlyArray<readonly [string, string]> };
  /** Longest wait for the last status report before restarting or rolling back; default 3000 ms. */
  reportGraceMs?: number;
}

export class OtaService {
  private readonly agent: OtaAgent;
  private fetch: { id: number; request: HttpRequest } | undefined;
  private tickTimer: number | undefined;
  private finalTimer: number | undefined;
  private lastReport: Promise<unknown> | undefined;
  private started = false;
  private stopped = false;
  private leaving = false;

  constructor(
    private readonly hal: Hal,
    private readonly options: OtaServiceOptions = {},
  ) {
    this.agent = new OtaAgent(
      {
        kv: hal.kv,
        ota: hal.ota,
        crypto: hal.crypto,
        text: hal.text,
        wallTime: () => hal.clock.wallTime(),
      },
      {
        ...options.agent,
        board: options.board ?? hal.board.name,
        runningVersion: hal.system.firmwareVersion(),
        publicKey: options.publicKey ?? OTA_PUBLIC_KEY,
        securityVersion: options.securityVersion,
      },
    );
  }

  /** The latest status, for reporting after a (re)connection. */
  get status(): OtaStatus {
    return this.agent.status;
  }

  /** Settles the last update (self-test, outcome) and resumes an interrupted download. Call once, early at boot. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.apply(this.agent.boot(this.hal.clock.now()));
  }

  /**
   * An update request (the manifest envelope, JSON text or object). `force` retries a
   * manifest that already failed or rolled back (for an operator's explicit command; a
   * re-delivered twin property should not pass it).
   */
  request(envelope: unknown, options: { force?: boolean } = {}): { accepted: boolean; reason?: string } {
    if (!this.started) this.start();
    const result = this.agent.request(envelope, this.hal.clock.now(), options);
    this.apply(result);
    if (!result.accepted && result.reason) this.hal.log.write('warn', `OTA request not accepted: ${result.reason}`);
    return result.reason === undefined ? { accepted: result.accepted } : { accepted: result.accepted, reason: result.reason };
  }

  /** Stops the update in progress and forgets it. */
  cancel(reason = 'cancelled by the application'): void {
    this.apply(this.agent.cancel(reason, this.hal.clock.now()));
  }

  /**
   * Stops all activity (timers, the download) for good, without forgetting anything: the
   * download resumes from its KV checkpoint at the next boot (or in a new OtaService).
   */
  stop(): void {
    this.stopped = true;
    this.fetch?.request.abort();
    this.fetch = undefined;
    for (const timer of [this.tickTimer, this.finalTimer]) if (timer !== undefined) this.hal.timers.clear(timer);
    this.tickTimer = this.finalTimer = undefined;
  }

  private apply(out: OtaOutput): void {
    for (const line of this.agent.takeLogs()) this.hal.log.write('warn', `OTA: ${line}`);
    if (this.stopped) return;
    for (const action of out.actions) {
      switch (action.type) {
        case 'status':
          this.report(action.status);
          break;
        case 'fetch':
          this.startFetch(action.fetchId, action.url, action.rangeStart);
          break;
        case 'cancel-fetch':
          if (this.fetch?.id === action.fetchId) {
            const request = this.fetch.request;
            this.fetch = undefined;
            request.abort();
          }
          break;
        case 'self-test':
          this.runSelfTest();
          break;
        case 'restart':
        case 'rollback':
          this.leave(action.type, action.reason);
          break;
      }
    }
    this.armTick(out.nextDeadline);
  }

  private report(status: OtaStatus): void {
    const fields: { [key: string]: string | number } = { state: status.state, version: status.version };
    if (status.percent !== undefined) fields.percent = status.percent;
    if (status.targetVersion !== undefined) fields.targetVersion = status.targetVersion;
    if (status.reason !== undefined) fields.reason = status.reason;
    this.hal.log.event('ota', fields);
    const onStatus = this.options.onStatus;
    if (!onStatus) return;
    try {
      const result = onStatus({ ...status });
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        const report = result as Promise<unknown>;
        report.then(undefined, (error: unknown) => {
          this.hal.log.write('warn', `OTA status report failed: ${error instanceof Error ? error.message : String(error)}`);
        });
        this.lastReport = report;
      } else this.lastReport = undefined;
    } catch (error) {
      this.hal.log.write('error', `OTA status callback failed: ${(error as Error).message}`);
      this.lastReport = undefined;
    }
  }

  private startFetch(id: number, url: string, rangeStart: number): void {
    const agent = this.agent;
    const now = () => this.hal.clock.now();
    const current = () => this.fetch?.id === id;
    const http = this.options.http ?? {};
    const request = httpGet(this.hal, {
      url,
      tls: this.options.tls,
      rangeStart,
      timeoutMs: http.timeoutMs,
      maxRedirects: http.maxRedirects,
      headers: http.headers,
      onResponse: (info) => {
        if (current()) this.apply(agent.response(id, { status: info.status, offset: info.offset, total: info.total }, now()));
      },
      onChunk: (bytes, offset) => {
        if (current()) this.apply(agent.chunk(id, bytes, offset, now()));
      },
      onDone: () => {
        if (!current()) return;
        this.fetch = undefined;
        this.apply(agent.done(id, now()));
      },
      onError: (error) => {
        if (!current()) return;
        this.fetch = undefined;
        this.apply(agent.fetchFailed(id, { message: error.message, retryable: error.retryable }, now()));
      },
    });
    this.fetch = { id, request };
  }

  private runSelfTest(): void {
    const selfTest = this.options.selfTest;
    const passed = () => this.apply(this.agent.selfTestPassed(this.hal.clock.now()));
    const failed = (reason: string) => this.apply(this.agent.selfTestFailed(reason, this.hal.clock.now()));
    if (!selfTest) {
      this.hal.log.write('warn', 'OTA: no self-test supplied; the new image is marked valid without one');
      this.defer(passed);
      return;
    }
    let promise: Promise<unknown>;
    try {
      promise = Promise.resolve(selfTest());
    } catch (error) {
      const reason = (error as Error).message;
      this.defer(() => failed(reason));
      return;
    }
    // Settle through a timer, so a restart or rollback that follows runs from the event loop.
    promise.then(
      (result) => this.defer(() => (result === false ? failed('the self-test returned false') : passed())),
      (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        this.defer(() => failed(reason));
      },
    );
  }

  private defer(callback: () => void): void {
    if (this.stopped) return;
    this.hal.timers.set(() => {
      if (!this.stopped) callback();
    }, 0);
  }

  /** Restart or roll back once the last report went out (or reportGraceMs passed), from a timer. */
  private leave(kind: 'restart' | 'rollback', reason: string): void {
    if (this.leaving) return;
    this.leaving = true;
    this.hal.log.write('warn', `OTA: ${reason}`);
    const go = () => {
      if (this.finalTimer !== undefined) this.hal.timers.clear(this.finalTimer);
      this.finalTimer = undefined;
      if (this.stopped) return;
      this.stopped = true;
      this.fetch?.request.abort();
      if (kind === 'restart') {
        this.hal.system.restart();
        return;
      }
      try {
        this.hal.ota.rollback();
      } catch (error) {
        // ESP-IDF found no image to go back to (or rollback is not enabled). Anything else
        // (the simulator's restart signal) goes on to the event loop.
        if (!(error instanceof OtaError)) throw error;
        this.hal.log.write('error', `OTA: rolling back failed: ${error.message}; the image stays, unconfirmed`);
        this.report({ ...this.agent.status, state: 'failed', reason: `rollback failed: ${error.message}` });
      }
    };
    const grace = this.options.reportGraceMs ?? 3000;
    this.finalTimer = this.hal.timers.set(go, grace);
    const pending = this.lastReport;
    if (pending) {
      const early = () => {
        if (this.finalTimer === undefined || this.stopped) return;
        this.hal.timers.clear(this.finalTimer);
        this.finalTimer = this.hal.timers.set(go, 0);
      };
      pending.then(early, early);
    }
  }

  private armTick(deadline: number | undefined): void {
    if (this.tickTimer !== undefined) this.hal.timers.clear(this.tickTimer);
    this.tickTimer = undefined;
    if (deadline === undefined || this.stopped) return;
    this.tickTimer = this.hal.timers.set(
      () => {
        this.tickTimer = undefined;
        this.apply(this.agent.tick(this.hal.clock.now()));
      },
      Math.max(0, deadline - this.hal.clock.now()),
    );
  }
}

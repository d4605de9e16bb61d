/**
 * Drives one xsnap-worker process directly: netstrings over file descriptors 3 (to the
 * worker) and 4 (from it). Driving the binary, rather than @agoric/xsnap's API, keeps SES
 * lockdown out of the host process. Protocol (xsnap-worker.c): we send `e<script>` or
 * `?<bytes>` (delivered to the global `handleCommand`); while it runs the worker may send
 * `?<bytes>` (its `issueCommand`), which we answer with `/<bytes>`; it finishes with
 * `.<meters JSON>\x01<reply>` or `!<error>`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { encodeNetstring, NetstringReader } from './netstring';
import { xsnapWorkerPath } from './xsnap-binary';

export interface XsMeters {
  currentHeapCount: number;
  compute: number;
  allocate: number;
}

export interface XsResult {
  meters: XsMeters;
  reply: Uint8Array;
}

export class XsExitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XsExitError';
  }
}

const EXIT_REASONS: Record<number, string> = {
  1: 'bad argument usage',
  2: 'I/O error',
  11: 'not enough memory',
  12: 'stack overflow',
  15: 'unhandled exception',
  16: 'property (key) name space exhausted',
  17: 'too much computation',
};

const text = new TextEncoder();

export class XsWorker {
  private readonly child: ChildProcess;
  private readonly toWorker: Writable;
  private readonly reader = new NetstringReader();
  private pending: { resolve: (r: XsResult) => void; reject: (e: Error) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private exited: Error | undefined;
  private stderr = '';

  /** `onQuery` answers the firmware's synchronous `issueCommand` calls. */
  constructor(
    name: string,
    private readonly onQuery: (message: Uint8Array) => Uint8Array,
  ) {
    this.child = spawn(xsnapWorkerPath(), [name], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    this.toWorker = this.child.stdio[3] as Writable;
    const fromWorker = this.child.stdio[4] as Readable;
    this.toWorker.on('error', () => {}); // reported through 'exit'
    (this.child.stdio[2] as Readable).on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    fromWorker.on('data', (chunk: Buffer) => this.received(new Uint8Array(chunk)));
    this.child.on('error', (error) => this.fail(new XsExitError(`cannot start the XS engine: ${error.message}`)));
    this.child.on('exit', (code, signal) => {
      const reason = signal ? `signal ${signal}` : `${EXIT_REASONS[code ?? -1] ?? 'exit code ' + code}`;
      const detail = this.stderr.trim() ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
      this.fail(new XsExitError(`the XS engine exited (${reason})${detail}`));
    });
  }

  /** Evaluates a script in the worker's global scope. */
  evaluate(source: string): Promise<XsResult> {
    return this.send(text.encode('e'), text.encode(source));
  }

  /** Calls the worker's `handleCommand` with `message`. */
  command(message: Uint8Array): Promise<XsResult> {
    return this.send(text.encode('?'), message);
  }

  /** Writes a heap snapshot to `path`; resolves to its size in bytes. */
  async snapshot(path: string): Promise<number> {
    const result = await this.send(text.encode('w'), text.encode(path));
    return Number(new TextDecoder().decode(result.reply));
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await gone;
  }

  private send(prefix: Uint8Array, body: Uint8Array): Promise<XsResult> {
    const run = this.queue.then(
      () =>
        new Promise<XsResult>((resolve, reject) => {
          if (this.exited) return reject(this.exited);
          this.pending = { resolve, reject };
          this.toWorker.write(encodeNetstring(prefix, body));
        }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private received(chunk: Uint8Array): void {
    let messages: Uint8Array[];
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      this.fail(new XsExitError(`XS engine protocol error: ${(error as Error).message}`));
      this.child.kill('SIGKILL');
      return;
    }
    for (const message of messages) {
      const kind = message[0];
      if (kind === 0x3f /* ? */) {
        let answer: Uint8Array;
        try {
          answer = this.onQuery(message.subarray(1));
        } catch (error) {
          this.fail(new XsExitError(`host failed to answer the firmware: ${(error as Error).message}`));
          this.child.kill('SIGKILL');
          return;
        }
        this.toWorker.write(encodeNetstring(text.encode('/'), answer));
      } else if (kind === 0x2e /* . */) {
        const separator = message.indexOf(1);
        const meters = JSON.parse(new TextDecoder().decode(message.subarray(1, separator < 0 ? message.length : separator)));
        const reply = separator < 0 ? new Uint8Array(0) : message.slice(separator + 1);
        this.settle()?.resolve({ meters, reply });
      } else if (kind === 0x21 /* ! */) {
        this.settle()?.reject(new Error(new TextDecoder().decode(message.subarray(1)) || 'uncaught exception'));
      } else {
        this.fail(new XsExitError(`XS engine protocol error: unexpected message "${String.fromCharCode(kind)}"`));
        this.child.kill('SIGKILL');
      }
    }
  }

  private settle() {
    const pending = this.pending;
    this.pending = undefined;
    return pending;
  }

  private fail(error: Error): void {
    this.exited ??= error;
    this.settle()?.reject(error);
  }
}

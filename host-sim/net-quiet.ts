/**
 * When is the real network quiet enough for the virtual clock to jump? The broker runs on
 * real sockets, so a reply to what a device just sent may still be on its way. Rules:
 * - a socket that is still connecting (TCP or TLS handshake) holds the clock, up to a limit;
 * - after bytes arrive, wait `afterReadMs` of silence (more may follow);
 * - after bytes are sent with no reply yet, wait up to `replyWaitMs` for one (a QoS 0
 *   publish never gets one; a CONNECT, SUBSCRIBE or PINGREQ does).
 * - a server run in this process (the embedded broker, the local hub) that read a request and
 *   has not written since is still working on it: wait up to `replyWaitMs` for its answer
 *   (the hub may touch its database first).
 * Loopback replies take well under a millisecond; the margins absorb a loaded machine. Almost
 * everything the device sends is answered (PUBLISH QoS 1, PINGREQ, CONNECT, SUBSCRIBE), so the
 * long reply wait is paid only for what never gets an answer.
 */
import type { Quiescent } from './scheduler';

export interface NetQuietOptions {
  afterReadMs: number;
  replyWaitMs: number;
  connectWaitMs: number;
}

export const DEFAULT_NET_QUIET: NetQuietOptions = { afterReadMs: 5, replyWaitMs: 250, connectWaitMs: 5000 };

export class NetQuiet implements Quiescent {
  private lastRead = 0;
  private lastWrite = 0;
  private serverLastRead = 0;
  private serverLastWrite = 0;
  private connecting = new Map<number, number>();
  private nextToken = 1;
  /** Ends the current wait early: bytes arrived, so the rules are looked at again. */
  private wake: (() => void) | undefined;

  constructor(private readonly options: NetQuietOptions = DEFAULT_NET_QUIET) {}

  read(): void {
    this.lastRead = performance.now();
    this.wake?.();
  }

  wrote(): void {
    this.lastWrite = performance.now();
  }

  /** Watches a connection accepted by an in-process server. */
  observeServerSocket(socket: import('node:net').Socket): void {
    socket.on('data', () => (this.serverLastRead = performance.now()));
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      this.serverLastWrite = performance.now();
      this.wake?.();
      return write(...args);
    }) as typeof socket.write;
  }

  /** Marks a connection attempt; call the returned function when it resolves either way. */
  connectStarted(): () => void {
    const token = this.nextToken++;
    this.connecting.set(token, performance.now());
    return () => {
      this.connecting.delete(token);
      this.read();
    };
  }

  async settle(): Promise<void> {
    for (;;) {
      const wait = this.waitNeeded(performance.now());
      if (wait <= 0) return;
      // A reply usually comes within a millisecond: wake for it rather than sleep the whole step.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = undefined;
          resolve();
        }, Math.min(wait, 20));
        this.wake = () => {
          this.wake = undefined;
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private waitNeeded(now: number): number {
    let wait = 0;
    for (const started of this.connecting.values()) wait = Math.max(wait, started + this.options.connectWaitMs - now);
    wait = Math.max(wait, this.lastRead + this.options.afterReadMs - now);
    if (this.lastWrite > this.lastRead) wait = Math.max(wait, this.lastWrite + this.options.replyWaitMs - now);
    if (this.serverLastRead > this.serverLastWrite) wait = Math.max(wait, this.serverLastRead + this.options.replyWaitMs - now);
    return wait;
  }
}

/**
 * The HTTP client's shell: one GET over the HAL's socket (TCP, or TLS for https), the
 * response parsed by the sans-I/O `HttpResponseParser`, the body handed over as it arrives.
 * Redirects (301, 302, 303, 307, 308) are followed up to `maxRedirects` times, the Range
 * kept. Nothing arriving for `timeoutMs` (connection, TLS handshake and every gap between
 * bytes) fails the request with 'timeout'.
 *
 * Ranges: with `rangeStart` > 0 the request carries `Range: bytes=N-`. A 206 must start at
 * N ('range' error otherwise); a 200 means the server ignored the range and sends the whole
 * resource from 0, which `onResponse` and `onChunk` say through their offsets, so the caller
 * can skip what it already has. Every other final status is an error ('status').
 *
 * Callbacks never run synchronously inside `httpGet()`; after `abort()`, after `onDone` or
 * after `onError`, none runs again. A callback that throws closes the connection and the
 * exception propagates to the event loop (it is not turned into `onError`).
 */
import type { Clock } from '../../../hal/clock';
import type { Log } from '../../../hal/log';
import type { Net, Socket, TlsOptions } from '../../../hal/net';
import type { TimerId, Timers } from '../../../hal/timer';
import { HttpError } from './errors';
import { buildGetRequest } from './request';
import { HttpResponseParser, headerValue, type HttpParserOptions, type HttpResponseHead } from './response';
import { parseHttpUrl, resolveLocation, type HttpUrl } from './url';

/** What the client needs of the HAL. */
export interface HttpHal {
  readonly net: Net;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly log: Log;
}

export interface HttpResponseInfo {
  status: number;
  head: HttpResponseHead;
  /** Where the body starts in the resource: the range start for 206, 0 for 200. */
  offset: number;
  /** Length of the whole resource when the response says it (Content-Range total, or a 200's Content-Length). */
  total?: number;
  /** The URL that answered (after redirects), query included: do not log it (a signed URL's query is a secret). */
  url: string;
}

export interface HttpGetOptions {
  /** http:// or https:// */
  url: string;
  /** TLS settings for https URLs (CA, client certificate, verify); SNI defaults to the URL's host. */
  tls?: TlsOptions;
  /** First byte wanted (`Range: bytes=N-`); default 0 (no Range header). */
  rangeStart?: number;
  /** Extra request headers; at most 8. */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** No byte for this long fails the request; default 30 000 ms. */
  timeoutMs?: number;
  /** Default 3. */
  maxRedirects?: number;
  parser?: HttpParserOptions;
  /** The final response's head arrived (2xx): before any onChunk. */
  onResponse?(info: HttpResponseInfo): void;
  /**
   * A piece of the body, at `offset` in the resource. `bytes` is a view of the socket's
   * buffer, valid during the call only: copy what you keep.
   */
  onChunk(bytes: Uint8Array, offset: number): void;
  /** The body is complete. */
  onDone(info: HttpResponseInfo): void;
  onError(error: HttpError): void;
}

export interface HttpRequest {
  /** Closes the connection; no callback runs afterwards. Aborting twice does nothing. */
  abort(): void;
}

const REDIRECTS = [301, 302, 303, 307, 308];

function urlText(url: HttpUrl): string {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  return `${url.secure ? 'https' : 'http'}://${host}:${url.port}${url.target}`;
}

/** The URL without its query, for messages: a signed URL's query is a secret (a SAS token). */
function shownUrl(url: HttpUrl): string {
  return urlText(url).replace(/\?.*$/, '');
}

class GetRequest implements HttpRequest {
  private socket: Socket | undefined;
  private parser: HttpResponseParser | undefined;
  private timer: TimerId | undefined;
  private lastActivity = 0;
  private finished = false;
  private redirects = 0;
  private info: HttpResponseInfo | undefined;
  /** Offset in the resource of the next body byte. */
  private position = 0;
  private readonly rangeStart: number;
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;

  constructor(
    private readonly hal: HttpHal,
    private readonly options: HttpGetOptions,
  ) {
    this.rangeStart = options.rangeStart ?? 0;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRedirects = options.maxRedirects ?? 3;
    if (!Number.isSafeInteger(this.rangeStart) || this.rangeStart < 0) throw new RangeError(`rangeStart must be a non-negative integer, got ${this.rangeStart}`);
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${this.timeoutMs}`);
    // Start on the next turn of the event loop: no callback inside httpGet().
    this.timer = hal.timers.set(() => {
      this.timer = undefined;
      let url: HttpUrl;
      try {
        url = parseHttpUrl(options.url);
      } catch (error) {
        this.fail(error as HttpError);
        return;
      }
      this.open(url);
    }, 0);
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
  }

  private open(url: HttpUrl): void {
    if (this.finished) return;
    let request: Uint8Array;
    try {
      request = buildGetRequest(url, { rangeStart: this.rangeStart, headers: this.options.headers });
    } catch (error) {
      this.fail(error instanceof HttpError ? error : new HttpError('url', (error as Error).message));
      return;
    }
    if (!url.secure) this.hal.log.write('warn', `HTTP download from ${url.host}:${url.port} without TLS: use it on a development network only`);
    const tls = url.secure ? { ...this.options.tls, serverName: this.options.tls?.serverName ?? url.host } : undefined;
    this.parser = new HttpResponseParser(this.options.parser);
    this.info = undefined;
    this.position = 0;
    this.touch();
    this.armTimer();
    const connection = {
      socket: undefined as Socket | undefined,
    };
    try {
      connection.socket = this.socket = this.hal.net.connect(
        { host: url.host, port: url.port, tls },
        {
          onConnect: () => {
            if (this.socket !== connection.socket || this.finished) return;
            this.touch();
            try {
              connection.socket?.write(request);
            } catch (error) {
              this.fail(new HttpError('network', `sending the request failed: ${(error as Error).message}`));
            }
          },
          onData: (bytes) => {
            if (this.socket !== connection.socket || this.finished) return;
            this.touch();
            this.received(url, bytes);
          },
          onClose: () => {
            if (this.socket !== connection.socket || this.finished) return;
            this.socket = undefined;
            this.closed(url);
          },
          onError: (error) => {
            if (this.socket !== connection.socket || this.finished) return;
            this.socket = undefined;
            this.fail(new HttpError(error.code === 'timeout' ? 'timeout' : 'network', `${url.host}:${url.port}: ${error.code}: ${error.message}`));
          },
        },
      );
    } catch (error) {
      this.socket = undefined;
      this.fail(new HttpError('network', `cannot connect to ${url.host}:${url.port}: ${(error as Error).message}`));
    }
  }

  private received(url: HttpUrl, bytes: Uint8Array): void {
    const parser = this.parser;
    if (!parser) return;
    let events;
    try {
      events = parser.push(bytes);
    } catch (error) {
      this.fail(error as HttpError);
      return;
    }
    this.handle(url, events);
  }

  private closed(url: HttpUrl): void {
    const parser = this.parser;
    if (!parser) return;
    let events;
    try {
      events = parser.finish();
    } catch (error) {
      this.fail(error as HttpError);
      return;
    }
    this.handle(url, events);
  }

  private handle(url: HttpUrl, events: ReturnType<HttpResponseParser['push']>): void {
    for (const event of events) {
      if (this.finished) return;
      switch (event.type) {
        case 'head':
          if (!this.head(url, event.head)) return;
          break;
        case 'body':
          if (!this.info) break; // the body of a redirect: ignored
          this.call(() => this.options.onChunk(event.bytes, this.position));
          this.position += event.bytes.length;
          break;
        case 'end': {
          const info = this.info;
          if (!info) break;
          this.finished = true;
          this.cleanup();
          this.options.onDone(info);
          return;
        }
      }
    }
  }

  /** Returns false when the request moved on (redirect) or failed. */
  private head(url: HttpUrl, head: HttpResponseHead): boolean {
    const status = head.status;
    if (REDIRECTS.includes(status)) {
      const location = headerValue(head, 'location');
      if (location === undefined) {
        this.fail(new HttpError('status', `${status} ${head.reason} without a Location header`, status));
        return false;
      }
      if (++this.redirects > this.maxRedirects) {
        this.fail(new HttpError('status', `more than ${this.maxRedirects} redirects (last to ${location.replace(/[?#].*$/, '')})`, status));
        return false;
      }
      let next: HttpUrl;
      try {
        next = resolveLocation(url, location);
      } catch (error) {
        this.fail(error as HttpError);
        return false;
      }
      this.closeSocket();
      this.open(next);
      return false;
    }
    let offset: number;
    let total: number | undefined;
    if (status === 206) {
      const range = head.contentRange;
      if (!range || range.start !== this.rangeStart) {
        this.fail(new HttpError('range', `asked for bytes from ${this.rangeStart}, the server sent ${range ? `${range.start}-${range.end}` : 'no Content-Range'}`, status));
        return false;
      }
      offset = range.start;
      total = range.total;
    } else if (status === 200) {
      offset = 0;
      total = head.chunked ? undefined : head.contentLength;
    } else {
      const reason = head.reason ? ` ${head.reason}` : '';
      this.fail(new HttpError('status', `${shownUrl(url)} answered ${status}${reason}`, status));
      return false;
    }
    this.position = offset;
    this.info = { status, head, offset, total, url: urlText(url) };
    const info = this.info;
    const onResponse = this.options.onResponse;
    if (onResponse) this.call(() => onResponse(info));
    return !this.finished;
  }

  /** Runs a caller's callback; if it throws, the connection closes and the exception goes on. */
  private call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.finished = true;
      this.cleanup();
      throw error;
    }
  }

  private fail(error: HttpError): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
    this.options.onError(error);
  }

  private touch(): void {
    this.lastActivity = this.hal.clock.now();
  }

  /** One timer at a time, checking the time of the last byte when it fires (no re-arming per byte). */
  private armTimer(): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.lastActivity + this.timeoutMs - this.hal.clock.now());
    this.timer = this.hal.timers.set(() => {
      this.timer = undefined;
      if (this.finished) return;
      if (this.hal.clock.now() - this.lastActivity >= this.timeoutMs) {
        this.fail(new HttpError('timeout', `nothing received for ${this.timeoutMs} ms from ${this.options.url.replace(/[?#].*$/, '')}`));
      } else this.armTimer();
    }, wait);
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close();
    } catch {
      // Closing a broken socket: nothing more to do.
    }
  }

  private cleanup(): void {
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
    this.parser = undefined;
    this.closeSocket();
  }
}

/** Starts a GET; the result aborts it. */
export function httpGet(hal: HttpHal, options: HttpGetOptions): HttpRequest {
  return new GetRequest(hal, options);
}

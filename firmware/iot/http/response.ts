/**
 * The HTTP/1.1 response parser, sans-I/O: it takes the bytes the socket delivers, in any
 * split, and returns events: the head (status line and headers), the body in pieces, the
 * end. It never buffers the body: every body event is a view of the bytes just pushed
 * (`subarray`), valid until the caller lets go of them; a consumer that keeps a piece copies it.
 *
 * Framing (RFC 9112 §6): 204 and 304 have no body; `Transfer-Encoding: chunked` (the only
 * transfer coding accepted) takes precedence over Content-Length; then Content-Length; else
 * the body runs until the connection closes (`finish()`). Interim 1xx responses (100, 103)
 * are skipped; 101 is an error. A 206 must carry a single `Content-Range: bytes a-b/n`.
 *
 * Limits: the status line and headers together (line ends included) take at most
 * `maxHeaderBytes` bytes and `maxHeaders` fields; chunked trailers get the same budget again
 * and are discarded; a chunk-size line takes at most 256 bytes. Beyond them: 'too-large'.
 * The parser's own memory is one line buffer that grows to the longest line seen, never past
 * `maxHeaderBytes`, plus the header strings it returns.
 *
 * Bytes after the end of the response are ignored (the request said `Connection: close`).
 */
import { HttpError } from './errors';

export interface HttpParserOptions {
  /** Status line and header lines together, CRLFs included; default 8192. */
  maxHeaderBytes?: number;
  /** Header fields; default 64. */
  maxHeaders?: number;
}

export const DEFAULT_MAX_HEADER_BYTES = 8192;
export const DEFAULT_MAX_HEADERS = 64;
/** A chunk-size line: the size in hex, and extensions that are ignored. */
export const MAX_CHUNK_LINE_BYTES = 256;
/** Largest body or chunk accepted: 2^48 bytes, far beyond any flash, and exact in a double. */
const MAX_LENGTH = 2 ** 48;

/** `Content-Range: bytes start-end/total` (end inclusive; total undefined when the server wrote "*"). */
export interface ContentRange {
  start: number;
  end: number;
  total?: number;
}

export interface HttpResponseHead {
  status: number;
  reason: string;
  /** The x of HTTP/1.x. */
  minorVersion: number;
  /** Header fields in arrival order, names lower-cased, values trimmed. */
  headers: [string, string][];
  /** Content-Length, when the body is framed by it (not for chunked bodies). */
  contentLength?: number;
  chunked: boolean;
  /** For 206 responses. */
  contentRange?: ContentRange;
}

export type HttpParseEvent =
  | { type: 'head'; head: HttpResponseHead }
  /** A piece of the body: a view of the pushed bytes. */
  | { type: 'body'; bytes: Uint8Array }
  | { type: 'end' };

/** The value of header `name` (lower-case): repeated fields joined with ", " (RFC 9110 §5.3). */
export function headerValue(head: HttpResponseHead, name: string): string | undefined {
  let value: string | undefined;
  for (const [field, text] of head.headers) if (field === name) value = value === undefined ? text : `${value}, ${text}`;
  return value;
}

/** Parses a Content-Range value; undefined when it is not `bytes a-b/n` or `bytes a-b/*` with a <= b < n. */
export function parseContentRange(value: string): ContentRange | undefined {
  const match = /^bytes[ \t]+(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/i.exec(value.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? undefined : Number(match[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return total === undefined ? { start, end } : { start, end, total };
}

type State =
  | 'status'
  | 'headers'
  | 'body-length'
  | 'body-close'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-cr'
  | 'chunk-lf'
  | 'trailers'
  | 'done'
  | 'failed';

const LF = 0x0a;
const CR = 0x0d;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Latin-1 text of a byte range, built in small pieces (XS's stack is small, so no huge apply). */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let at = start; at < end; at += 64) {
    text += String.fromCharCode.apply(null, bytes.subarray(at, Math.min(end, at + 64)) as unknown as number[]);
  }
  return text;
}

export class HttpResponseParser {
  private readonly maxHeaderBytes: number;
  private readonly maxHeaders: number;
  private state: State = 'status';
  private failure: HttpError | undefined;
  private line = new Uint8Array(128);
  private lineLength = 0;
  /** Bytes of head (or trailer) lines consumed so far, against maxHeaderBytes. */
  private headBytes = 0;
  private fieldCount = 0;
  private status = 0;
  private reason = '';
  private minorVersion = 1;
  private headers: [string, string][] = [];
  /** Body bytes still expected: of the whole body (body-length) or of the current chunk. */
  private remaining = 0;
  private bodyReceived = 0;
  private anyBytes = false;
  private out: HttpParseEvent[] = [];

  constructor(options: HttpParserOptions = {}) {
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HEADERS;
    if (!Number.isInteger(this.maxHeaderBytes) || this.maxHeaderBytes < 64) throw new RangeError('maxHeaderBytes must be an integer >= 64');
    if (!Number.isInteger(this.maxHeaders) || this.maxHeaders < 1) throw new RangeError('maxHeaders must be an integer >= 1');
  }

  /** The response is complete. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** Body bytes delivered so far. */
  get bodyBytes(): number {
    return this.bodyReceived;
  }

  /** Feeds bytes from the socket. Throws HttpError on a malformed or oversize response (and on every call after). */
  push(bytes: Uint8Array): HttpParseEvent[] {
    if (this.failure) throw this.failure;
    this.out = [];
    if (bytes.length > 0) this.anyBytes = true;
    try {
      let at = 0;
      while (at < bytes.length && this.state !== 'done') at = this.step(bytes, at);
    } catch (error) {
      this.state = 'failed';
      this.failure = error instanceof HttpError ? error : new HttpError('malformed', (error as Error).message);
      throw this.failure;
    }
    return this.out;
  }

  /** The connection closed. Ends a body that runs until close; otherwise throws 'truncated'. */
  finish(): HttpParseEvent[] {
    if (this.failure) throw this.failure;
    this.out = [];
    switch (this.state) {
      case 'done':
        return this.out;
      case 'body-close':
        this.state = 'done';
        this.out.push({ type: 'end' });
        return this.out;
      default:
        this.failure = new HttpError('truncated', this.truncation(), this.status || undefined);
        this.state = 'failed';
        throw this.failure;
    }
  }

  private truncation(): string {
    switch (this.state) {
      case 'status':
        return this.anyBytes ? 'the connection closed in the middle of the status line' : 'the connection closed before any response';
      case 'headers':
        return 'the connection closed in the middle of the headers';
      case 'body-length':
        return `the connection closed after ${this.bodyReceived} of ${this.bodyReceived + this.remaining} body bytes`;
      default:
        return `the connection closed in the middle of the chunked body, after ${this.bodyReceived} bytes`;
    }
  }

  /** Consumes what it can from `bytes` at `at`; returns the new position. */
  private step(bytes: Uint8Array, at: number): number {
    switch (this.state) {
      case 'status':
      case 'headers': {
        const next = this.collectLine(bytes, at, this.maxHeaderBytes - this.headBytes, 'the status line and headers');
        if (next < 0) return bytes.length;
        this.headBytes += this.lineLength + 1;
        const text = this.lineText();
        this.lineLength = 0;
        if (this.state === 'status') this.statusLine(text);
        else if (text === '') this.endOfHead();
        else this.headerLine(text, false);
        return next;
      }
      case 'trailers': {
        const next = this.collectLine(bytes, at, this.maxHeaderBytes - this.headBytes, 'the chunked trailers');
        if (next < 0) return bytes.length;
        this.headBytes += this.lineLength + 1;
        const text = this.lineText();
        this.lineLength = 0;
        if (text === '') this.finishBody();
        else this.headerLine(text, true);
        return next;
      }
      case 'chunk-size': {
        const next = this.collectLine(bytes, at, MAX_CHUNK_LINE_BYTES, 'a chunk-size line');
        if (next < 0) return bytes.length;
        const text = this.lineText();
        this.lineLength = 0;
        this.chunkSizeLine(text);
        return next;
      }
      case 'body-length':
      case 'chunk-data':
      case 'body-close': {
        const available = bytes.length - at;
        const take = this.state === 'body-close' ? available : Math.min(available, this.remaining);
        if (take > 0) {
          this.out.push({ type: 'body', bytes: bytes.subarray(at, at + take) });
          this.bodyReceived += take;
        }
        if (this.state !== 'body-close') {
          this.remaining -= take;
          if (this.remaining === 0) {
            if (this.state === 'body-length') this.finishBody();
            else this.state = 'chunk-cr';
          }
        }
        return at + take;
      }
      case 'chunk-cr': {
        const byte = bytes[at];
        if (byte === CR) this.state = 'chunk-lf';
        else if (byte === LF) this.state = 'chunk-size';
        else throw new HttpError('malformed', 'chunk data is not followed by CRLF: the chunk size does not match the data', this.status);
        return at + 1;
      }
      case 'chunk-lf':
        if (bytes[at] !== LF) throw new HttpError('malformed', 'chunk data is followed by CR without LF', this.status);
        this.state = 'chunk-size';
        return at + 1;
      default:
        return bytes.length;
    }
  }

  /**
   * Appends bytes up to the next LF to the line buffer. Returns the position after the LF,
   * or -1 when the line continues in a later push. Throws when the line would pass `limit`.
   */
  private collectLine(bytes: Uint8Array, at: number, limit: number, what: string): number {
    const lf = bytes.indexOf(LF, at);
    const end = lf < 0 ? bytes.length : lf;
    const length = this.lineLength + (end - at);
    // The LF itself counts too.
    if (length + (lf < 0 ? 0 : 1) > limit) {
      throw new HttpError('too-large', `${what} exceed ${what === 'a chunk-size line' ? MAX_CHUNK_LINE_BYTES : this.maxHeaderBytes} bytes`, this.status || undefined);
    }
    if (length > this.line.length) {
      let capacity = this.line.length;
      while (capacity < length) capacity *= 2;
      const grown = new Uint8Array(Math.min(capacity, Math.max(limit, length)));
      grown.set(this.line.subarray(0, this.lineLength));
      this.line = grown;
    }
    this.line.set(bytes.subarray(at, end), this.lineLength);
    this.lineLength = length;
    return lf < 0 ? -1 : lf + 1;
  }

  /** The collected line without its CR (a bare LF ends a line too, RFC 9112 §2.2). */
  private lineText(): string {
    let end = this.lineLength;
    if (end > 0 && this.line[end - 1] === CR) end--;
    for (let i = 0; i < end; i++) {
      const byte = this.line[i];
      if (byte === CR || byte === 0) throw new HttpError('malformed', 'a bare CR or NUL inside a line', this.status || undefined);
    }
    return latin1(this.line, 0, end);
  }

  private statusLine(text: string): void {
    const match = /^HTTP\/1\.(\d) (\d{3})(?: (.*))?$/.exec(text);
    if (!match) {
      const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
      throw new HttpError('malformed', `not an HTTP/1.x status line: "${shown}"`);
    }
    this.minorVersion = Number(match[1]);
    this.status = Number(match[2]);
    this.reason = match[3] ?? '';
    if (this.status < 100 || this.status > 599) throw new HttpError('malformed', `status code ${this.status} is outside 100-599`, this.status);
    this.state = 'headers';
  }

  private headerLine(text: string, trailer: boolean): void {
    if (text.charCodeAt(0) === 0x20 || text.charCodeAt(0) === 0x09) {
      throw new HttpError('malformed', 'obsolete header line folding (a line starting with whitespace)', this.status);
    }
    const colon = text.indexOf(':');
    if (colon <= 0) throw new HttpError('malformed', `a header line without a name and colon: "${text.slice(0, 40)}"`, this.status);
    const name = text.slice(0, colon);
    if (!TOKEN.test(name)) throw new HttpError('malformed', `"${name.slice(0, 40)}" is not a valid header name`, this.status);
    const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if ((code < 0x20 && code !== 0x09) || code === 0x7f) throw new HttpError('malformed', `the ${name} header contains a control character`, this.status);
    }
    if (++this.fieldCount > this.maxHeaders) {
      throw new HttpError('too-large', `more than ${this.maxHeaders} header fields`, this.status);
    }
    if (!trailer) this.headers.push([name.toLowerCase(), value]);
  }

  private endOfHead(): void {
    const status = this.status;
    if (status >= 100 && status < 200) {
      if (status === 101) throw new HttpError('status', 'unexpected 101 Switching Protocols', status);
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      this.resetHead();
      return;
    }
    const head: HttpResponseHead = { status, reason: this.reason, minorVersion: this.minorVersion, headers: this.headers, chunked: false };
    const transferEncoding = headerValue(head, 'transfer-encoding');
    if (transferEncoding !== undefined) {
      const codings = transferEncoding
        .split(',')
        .map((coding) => coding.trim().toLowerCase())
        .filter((coding) => coding !== '');
      const unsupported = codings.filter((coding) => coding !== 'chunked');
      if (unsupported.length > 0) throw new HttpError('unsupported', `transfer coding "${unsupported.join(', ')}" is not supported (only chunked)`, status);
      if (codings.length !== 1) throw new HttpError('malformed', `Transfer-Encoding "${transferEncoding}" is not a single chunked coding`, status);
      head.chunked = true;
    }
    const contentLength = headerValue(head, 'content-length');
    if (contentLength !== undefined && !head.chunked) {
      let length: number | undefined;
      for (const part of contentLength.split(',')) {
        const text = part.trim();
        if (!/^\d{1,15}$/.test(text)) throw new HttpError('malformed', `Content-Length "${contentLength}" is not a number`, status);
        const value = Number(text);
        if (length !== undefined && value !== length) throw new HttpError('malformed', `conflicting Content-Length values "${contentLength}"`, status);
        length = value;
      }
      if (length !== undefined && length > MAX_LENGTH) throw new HttpError('too-large', `Content-Length ${length} is too large`, status);
      head.contentLength = length;
    }
    const contentRange = headerValue(head, 'content-range');
    if (status === 206) {
      const contentType = headerValue(head, 'content-type') ?? '';
      if (/^multipart\/byteranges/i.test(contentType)) throw new HttpError('unsupported', 'multipart/byteranges responses are not supported (one range only)', status);
      if (contentRange === undefined) throw new HttpError('malformed', '206 Partial Content without Content-Range', status);
      const range = parseContentRange(contentRange);
      if (!range) throw new HttpError('malformed', `Content-Range "${contentRange}" is not "bytes first-last/length"`, status);
      if (head.contentLength !== undefined && head.contentLength !== range.end - range.start + 1) {
        throw new HttpError('malformed', `Content-Length ${head.contentLength} does not match Content-Range "${contentRange}"`, status);
      }
      head.contentRange = range;
    } else if (contentRange !== undefined) {
      const range = parseContentRange(contentRange);
      if (range) head.contentRange = range;
    }
    this.out.push({ type: 'head', head });
    this.headBytes = 0;
    this.fieldCount = 0;
    if (status === 204 || status === 304) this.finishBody();
    else if (head.chunked) this.state = 'chunk-size';
    else if (head.contentLength !== undefined) {
      this.remaining = head.contentLength;
      if (this.remaining === 0) this.finishBody();
      else this.state = 'body-length';
    } else this.state = 'body-close';
  }

  private resetHead(): void {
    this.state = 'status';
    this.headers = [];
    this.fieldCount = 0;
    this.status = 0;
    this.reason = '';
  }

  private chunkSizeLine(text: string): void {
    const match = /^([0-9A-Fa-f]+)[ \t]*(?:;.*)?$/.exec(text);
    if (!match) throw new HttpError('malformed', `"${text.slice(0, 40)}" is not a chunk-size line`, this.status);
    const digits = match[1].replace(/^0+(?=.)/, '');
    if (digits.length > 12) throw new HttpError('too-large', `chunk size ${match[1]} is too large`, this.status);
    const size = parseInt(digits, 16);
    if (size > MAX_LENGTH) throw new HttpError('too-large', `chunk size ${match[1]} is too large`, this.status);
    if (size === 0) {
      this.state = 'trailers';
      this.headBytes = 0;
      this.fieldCount = 0;
      return;
    }
    this.remaining = size;
    this.state = 'chunk-data';
  }

  private finishBody(): void {
    this.state = 'done';
    this.out.push({ type: 'end' });
  }
}

/**
 * The one request this client sends: `GET` with Host, an optional `Range: bytes=N-`,
 * `Accept-Encoding: identity` (the body must arrive as the bytes that were hashed and
 * signed, never gzip-encoded) and `Connection: close` (one request per connection, so the
 * end of the connection is a valid end of the body). The request is ASCII; header values
 * containing CR, LF or other control characters are refused, so no caller-supplied value
 * can inject a header.
 */
import { HttpError } from './errors';
import { hostHeader, type HttpUrl } from './url';

export interface GetRequestOptions {
  /** First byte wanted; 0 or absent sends no Range header. */
  rangeStart?: number;
  /** Extra headers, in order (for example an Authorization header). At most 8. */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** Default "thingkit". */
  userAgent?: string;
}

export const MAX_EXTRA_HEADERS = 8;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const CONTROLLED_HEADERS = ['host', 'range', 'connection', 'accept-encoding', 'content-length', 'transfer-encoding'];

function checkValue(name: string, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code >= 0x7f) {
      throw new HttpError('url', `the ${name} header value contains a control or non-ASCII character`);
    }
  }
}

/** The request as text (ASCII only). */
export function getRequestText(url: HttpUrl, options: GetRequestOptions = {}): string {
  const rangeStart = options.rangeStart ?? 0;
  if (!Number.isSafeInteger(rangeStart) || rangeStart < 0) throw new RangeError(`rangeStart must be a non-negative integer, got ${rangeStart}`);
  const userAgent = options.userAgent ?? 'thingkit';
  checkValue('User-Agent', userAgent);
  let text = `GET ${url.target} HTTP/1.1\r\nHost: ${hostHeader(url)}\r\nUser-Agent: ${userAgent}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n`;
  if (rangeStart > 0) text += `Range: bytes=${rangeStart}-\r\n`;
  const extra = options.headers ?? [];
  if (extra.length > MAX_EXTRA_HEADERS) throw new RangeError(`at most ${MAX_EXTRA_HEADERS} extra headers, got ${extra.length}`);
  for (const [name, value] of extra) {
    if (!TOKEN.test(name)) throw new HttpError('url', `"${name}" is not a valid header name`);
    if (CONTROLLED_HEADERS.includes(name.toLowerCase())) throw new HttpError('url', `the ${name} header is set by the client itself`);
    checkValue(name, value);
    text += `${name}: ${value}\r\n`;
  }
  return `${text}Connection: close\r\n\r\n`;
}

/** The request as bytes: every character of the text is ASCII, so one byte each. */
export function buildGetRequest(url: HttpUrl, options: GetRequestOptions = {}): Uint8Array {
  const text = getRequestText(url, options);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7e) throw new HttpError('url', 'the request contains a non-ASCII character');
    bytes[i] = code;
  }
  return bytes;
}

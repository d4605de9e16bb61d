/**
 * Absolute http:// and https:// URLs, split into what a request needs. ESP32 has no `URL`
 * global, so this is a small parser of its own: scheme, host (a name, an IPv4 address or a
 * bracketed IPv6 address), optional port, and the request target (path and query; the
 * fragment is dropped). User information (`user:pass@`) is refused: credentials do not
 * belong in a download URL, and a signed URL carries its token in the query.
 */
import { HttpError } from './errors';

export interface HttpUrl {
  /** true for https. */
  secure: boolean;
  /** The host as written, without brackets for IPv6, lower-cased. */
  host: string;
  port: number;
  /** Path and query, always starting with "/": the request target of the request line. */
  target: string;
}

/** Longest URL accepted: signed storage URLs are a few hundred characters. */
export const MAX_URL_LENGTH = 2048;

/** For messages: a signed URL's query (a SAS token) is a secret. */
export function withoutQuery(url: string): string {
  return url.replace(/[?#].*$/, '');
}

function visibleAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) return false;
  }
  return true;
}

export function parseHttpUrl(url: string): HttpUrl {
  if (typeof url !== 'string' || url.length === 0) throw new HttpError('url', 'the URL is empty');
  if (url.length > MAX_URL_LENGTH) throw new HttpError('url', `the URL has ${url.length} characters; at most ${MAX_URL_LENGTH} are accepted`);
  if (!visibleAscii(url)) throw new HttpError('url', 'the URL contains spaces, control or non-ASCII characters: percent-encode them');
  const match = /^(https?):\/\/([^/?#]*)([^#]*)/i.exec(url);
  if (!match) throw new HttpError('url', `"${withoutQuery(url)}" is not an http:// or https:// URL`);
  const secure = match[1].toLowerCase() === 'https';
  const authority = match[2];
  if (authority.includes('@')) throw new HttpError('url', 'URLs with user information (user:password@) are not accepted');
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new HttpError('url', `unterminated IPv6 address in "${authority}"`);
    host = authority.slice(1, close);
    const rest = authority.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new HttpError('url', `unexpected "${rest}" after the IPv6 address`);
    if (!/^[0-9a-fA-F:.]+$/.test(host)) throw new HttpError('url', `"${host}" is not an IPv6 address`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (!/^[A-Za-z0-9._~%!$&'()*+,;=-]+$/.test(host)) throw new HttpError('url', `"${host}" is not a valid host name`);
  }
  if (host === '') throw new HttpError('url', `the URL "${withoutQuery(url)}" has no host`);
  let port = secure ? 443 : 80;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new HttpError('url', `port "${portText}" is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  let target = match[3];
  if (target === '') target = '/';
  else if (target.startsWith('?')) target = `/${target}`;
  return { secure, host: host.toLowerCase(), port, target };
}

/** The Host header value: the host, bracketed if IPv6, with the port when it is not the scheme's default. */
export function hostHeader(url: HttpUrl): string {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  return url.port === (url.secure ? 443 : 80) ? host : `${host}:${url.port}`;
}

/**
 * Resolves a redirect's Location against the URL that was requested: an absolute
 * http(s) URL, a scheme-relative "//host/path", or a path-absolute "/path". Other relative
 * forms are refused (no server this client talks to sends them).
 */
export function resolveLocation(base: HttpUrl, location: string): HttpUrl {
  const value = location.trim();
  if (/^https?:\/\//i.test(value)) return parseHttpUrl(value);
  if (value.startsWith('//')) return parseHttpUrl(`${base.secure ? 'https' : 'http'}:${value}`);
  if (value.startsWith('/')) {
    if (!visibleAscii(value)) throw new HttpError('url', 'the redirect location contains spaces, control or non-ASCII characters');
    const hash = value.indexOf('#');
    return { ...base, target: hash < 0 ? value : value.slice(0, hash) };
  }
  throw new HttpError('url', `cannot follow the relative redirect "${withoutQuery(value)}"`);
}

/**
 * URL encoding as IoT Hub uses it in topics and SAS tokens, and property bags
 * (`name=value&name2=value2`, the query-string form of message properties).
 *
 * Encoding: every character but RFC 3986's unreserved ones (`A-Z a-z 0-9 - . _ ~`) becomes
 * `%XX` per UTF-8 byte, with upper-case hex, as azure-sdk-for-c's `_az_span_copy_url_encode`
 * and the Node SDK's `encodeUriComponentStrict` do (so `$` is `%24`, `/` is `%2F`).
 * Decoding: `%XX` sequences must form valid UTF-8; `+` stays `+` (IoT Hub encodes a space
 * as `%20`, and both Azure SDKs decode with decodeURIComponent semantics).
 * Plain string code: no HAL needed, so topics can be built and parsed anywhere.
 */
import { malformed, parsedOk, type Parsed } from './types';

const HEX_DIGITS = '0123456789ABCDEF';

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

function percentByte(byte: number): string {
  return '%' + HEX_DIGITS[byte >> 4] + HEX_DIGITS[byte & 0x0f];
}

/** `text` URL-encoded (UTF-8, upper-case hex; lone surrogates encode as U+FFFD). */
export function percentEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      out += isUnreserved(code) ? text[i] : percentByte(code);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    if (code < 0x800) {
      out += percentByte(0xc0 | (code >> 6)) + percentByte(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += percentByte(0xe0 | (code >> 12)) + percentByte(0x80 | ((code >> 6) & 0x3f)) + percentByte(0x80 | (code & 0x3f));
    } else {
      out +=
        percentByte(0xf0 | (code >> 18)) +
        percentByte(0x80 | ((code >> 12) & 0x3f)) +
        percentByte(0x80 | ((code >> 6) & 0x3f)) +
        percentByte(0x80 | (code & 0x3f));
    }
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** Strict UTF-8 of a short run of bytes, or undefined when it is not valid UTF-8. */
function decodeUtf8Run(bytes: number[]): string | undefined {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const first = bytes[i];
    let size: number;
    let code: number;
    if (first < 0x80) {
      size = 1;
      code = first;
    } else if (first >= 0xc2 && first < 0xe0) {
      size = 2;
      code = first & 0x1f;
    } else if (first >= 0xe0 && first < 0xf0) {
      size = 3;
      code = first & 0x0f;
    } else if (first >= 0xf0 && first < 0xf5) {
      size = 4;
      code = first & 0x07;
    } else return undefined;
    if (i + size > bytes.length) return undefined;
    for (let k = 1; k < size; k++) {
      const next = bytes[i + k];
      if ((next & 0xc0) !== 0x80) return undefined;
      code = (code << 6) | (next & 0x3f);
    }
    const minimum = size === 1 ? 0 : size === 2 ? 0x80 : size === 3 ? 0x800 : 0x10000;
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
    out += String.fromCodePoint(code);
    i += size;
  }
  return out;
}

/** `text` URL-decoded, or undefined when a `%` escape is broken or the bytes are not UTF-8. */
export function percentDecode(text: string): string | undefined {
  if (text.indexOf('%') < 0) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) !== 0x25) {
      out += text[i++];
      continue;
    }
    const bytes: number[] = [];
    while (i < text.length && text.charCodeAt(i) === 0x25) {
      if (i + 2 >= text.length) return undefined;
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high < 0 || low < 0) return undefined;
      bytes.push((high << 4) | low);
      i += 3;
    }
    const decoded = decodeUtf8Run(bytes);
    if (decoded === undefined) return undefined;
    out += decoded;
  }
  return out;
}

/** One message property. `value` null is a property without a value (`name` alone in the bag). */
export interface PropertyEntry {
  name: string;
  value: string | null;
}

/** Most properties parsed from one bag; IoT Hub itself allows far fewer per message. */
export const MAX_PROPERTY_BAG_ENTRIES = 64;

/**
 * A property bag in IoT Hub's form: URL-encoded `name=value` pairs joined by `&`; a null
 * value is written as the bare name and an empty one as `name=` (the representation the
 * "Communicate with an IoT hub using the MQTT protocol" article gives for C2D messages).
 * Names must not be empty.
 */
export function encodePropertyBag(entries: readonly PropertyEntry[]): string {
  const parts: string[] = [];
  for (const { name, value } of entries) {
    if (name.length === 0) throw new RangeError('a message property needs a non-empty name');
    parts.push(value === null ? percentEncode(name) : `${percentEncode(name)}=${percentEncode(value)}`);
  }
  return parts.join('&');
}

/**
 * Parses a property bag (an optional leading `?` is skipped; empty segments are ignored).
 * Names and values are URL-decoded.
 */
export function parsePropertyBag(bag: string): Parsed<PropertyEntry[]> {
  const text = bag.startsWith('?') ? bag.slice(1) : bag;
  const entries: PropertyEntry[] = [];
  if (text.length === 0) return parsedOk(entries);
  for (const segment of text.split('&')) {
    if (segment.length === 0) continue;
    if (entries.length >= MAX_PROPERTY_BAG_ENTRIES) {
      return malformed(`the property bag has more than ${MAX_PROPERTY_BAG_ENTRIES} properties`);
    }
    const equals = segment.indexOf('=');
    const rawName = equals < 0 ? segment : segment.slice(0, equals);
    const name = percentDecode(rawName);
    if (name === undefined) return malformed(`property name "${rawName}" has a broken %-escape or is not UTF-8`);
    if (name.length === 0) return malformed(`property "${segment}" has an empty name`);
    if (equals < 0) {
      entries.push({ name, value: null });
      continue;
    }
    const rawValue = segment.slice(equals + 1);
    const value = percentDecode(rawValue);
    if (value === undefined) return malformed(`the value of property "${name}" ("${rawValue}") has a broken %-escape or is not UTF-8`);
    entries.push({ name, value });
  }
  return parsedOk(entries);
}

/** A query parameter as it appears in a topic: name decoded, value both raw and decoded. */
export interface QueryParameter {
  name: string;
  /** Exactly as in the topic, for echoing (request ids must go back unchanged). */
  raw: string | null;
  value: string | null;
}

/** Splits the query of a `$iothub/...` or `$dps/...` topic (the part after `?`). */
export function parseQuery(query: string): Parsed<QueryParameter[]> {
  const parameters: QueryParameter[] = [];
  for (const segment of query.split('&')) {
    if (segment.length === 0) continue;
    if (parameters.length >= MAX_PROPERTY_BAG_ENTRIES) return malformed(`the topic has more than ${MAX_PROPERTY_BAG_ENTRIES} query parameters`);
    const equals = segment.indexOf('=');
    const name = percentDecode(equals < 0 ? segment : segment.slice(0, equals));
    if (name === undefined || name.length === 0) return malformed(`query parameter "${segment}" has no valid name`);
    const raw = equals < 0 ? null : segment.slice(equals + 1);
    const value = raw === null ? null : percentDecode(raw);
    if (value === undefined) return malformed(`query parameter "${name}" has a broken %-escape ("${raw}")`);
    parameters.push({ name, raw, value });
  }
  return parsedOk(parameters);
}

export function findParameter(parameters: readonly QueryParameter[], name: string): QueryParameter | undefined {
  for (const parameter of parameters) if (parameter.name === name) return parameter;
  return undefined;
}

/** A non-negative safe integer written in decimal digits only, or undefined. */
export function parseDecimal(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined || !/^[0-9]{1,15}$/.test(text)) return undefined;
  return Number(text);
}

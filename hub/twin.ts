/**
 * Device twin semantics as IoT Hub has them ("Understand and use device twins in IoT Hub", "Communicate with
 * an IoT hub using the MQTT protocol"). Pure functions: no I/O, the time is an argument.
 *
 * - Patches merge into a section; a member set to `null` deletes it; nested objects merge recursively.
 * - Each accepted patch bumps the section's `$version` (desired and reported count separately) and stamps
 *   `$metadata.$lastUpdated` at every level it touched (and `$lastUpdatedVersion` in desired).
 * - Keys: at most 1 KB of UTF-8, no control characters, no `.`, `$` or space. Strings: at most 4 KB.
 *   Integers: -4503599627370496 to 4503599627370495. Objects nest at most 10 deep. A malformed or
 *   non-object patch, or one breaking these rules, is refused with 400 (the documented "400 Bad Request.
 *   Malformed JSON").
 * - Size: desired and reported at most 32 KB each, tags 8 KB, counted IoT Hub's way (key and string
 *   characters, 8 per number, 4 per boolean). A patch that would grow a section past its limit is refused
 *   with 403 and error code 403100 — what IoT Hub answers ("'Properties.Reported' size should be less than
 *   32768 bytes.", errorCode 403100), not 413.
 */
import { badRequest, ErrorCodes, HubError } from './errors';
import { desiredPatchTopic, twinResponseTopic } from './topics';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** `$metadata`: a `$lastUpdated` at every level, mirroring the properties. */
export interface Metadata {
  $lastUpdated: string;
  $lastUpdatedVersion?: number;
  [key: string]: Metadata | string | number | undefined;
}

export interface TwinSection {
  properties: JsonObject;
  metadata: Metadata;
  version: number;
}

export type SectionName = 'desired' | 'reported' | 'tags';

export const TWIN_LIMITS = {
  maxDepth: 10,
  maxKeyBytes: 1024,
  maxStringBytes: 4096,
  maxPropertiesBytes: 32 * 1024,
  maxTagsBytes: 8 * 1024,
  minInteger: -4503599627370496,
  maxInteger: 4503599627370495,
} as const;

const LABEL: { [name in SectionName]: string } = { desired: 'Properties.Desired', reported: 'Properties.Reported', tags: 'Tags' };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a patch body: UTF-8 JSON holding an object, or a 400 saying what is wrong. */
export function parsePatch(body: Uint8Array | string, section: SectionName): JsonObject {
  let text: string;
  try {
    text = typeof body === 'string' ? body : utf8.decode(body);
  } catch {
    throw badRequest(`the ${section} patch is not UTF-8 text`, 'send the patch as a UTF-8 encoded JSON object');
  }
  if (!text.trim()) throw badRequest(`the ${section} patch is empty`, 'send a JSON object, e.g. {"interval": 30}');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`Malformed JSON in the ${section} patch: ${(error as Error).message}`, 'send a JSON object, e.g. {"interval": 30}');
  }
  if (!isJsonObject(value)) {
    throw badRequest(`the ${section} patch must be a JSON object, not ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`, 'send a JSON object whose members are the properties to set (null deletes one)');
  }
  validatePatch(value, section);
  return value;
}

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkKey(key: string, path: string, section: SectionName): void {
  const where = path ? `${path}.${key}` : key;
  if (!key) throw badRequest(`an empty property name in the ${section} patch${path ? ` (under ${path})` : ''}`, 'give every property a name');
  if (utf8Length(key) > TWIN_LIMITS.maxKeyBytes) throw badRequest(`property name "${key.slice(0, 20)}..." in the ${section} patch is longer than 1 KB`, 'use shorter property names');
  const bad = CONTROL.test(key) ? 'a control character' : key.includes('.') ? '"."' : key.includes('$') ? '"$"' : key.includes(' ') ? 'a space' : undefined;
  if (bad) {
    throw badRequest(`property name "${where}" in the ${section} patch contains ${bad}`, 'IoT Hub property names may not contain control characters, ".", "$" or spaces ($version and $metadata are the hub\'s own)');
  }
}

function checkValue(value: Json, where: string, section: SectionName, depth: number, inArray: boolean): void {
  if (value === null) {
    if (inArray) throw badRequest(`the array at ${where} in the ${section} patch contains null`, 'IoT Hub arrays may not contain null');
    return;
  }
  if (typeof value === 'number') {
    // JSON.parse cannot tell 1e300 from an integer literal; past 2^63 a number cannot be an integer for IoT Hub anyway.
    if (Number.isInteger(value) && Math.abs(value) < 2 ** 63 && (value < TWIN_LIMITS.minInteger || value > TWIN_LIMITS.maxInteger)) {
      throw badRequest(`${where} in the ${section} patch is ${value}, outside IoT Hub's integer range ${TWIN_LIMITS.minInteger} to ${TWIN_LIMITS.maxInteger}`, 'send large numbers as strings');
    }
    return;
  }
  if (typeof value === 'string') {
    if (utf8Length(value) > TWIN_LIMITS.maxStringBytes) throw badRequest(`the string at ${where} in the ${section} patch is longer than 4 KB`, 'keep each string value within 4096 bytes');
    return;
  }
  if (typeof value === 'boolean') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, `${where}[${i}]`, section, depth, true));
    return;
  }
  // An object: nested one level deeper than its holder.
  if (depth > TWIN_LIMITS.maxDepth) {
    throw badRequest(`${where} in the ${section} patch nests objects deeper than ${TWIN_LIMITS.maxDepth} levels`, 'flatten the document: IoT Hub allows objects 10 levels deep');
  }
  for (const [key, child] of Object.entries(value)) {
    checkKey(key, where, section);
    checkValue(child, `${where}.${key}`, section, depth + 1, false);
  }
}

/** Checks IoT Hub's rules on names, values and depth; throws a 400 HubError naming the offending property. */
export function validatePatch(patch: JsonObject, section: SectionName): void {
  for (const [key, value] of Object.entries(patch)) {
    checkKey(key, '', section);
    checkValue(value, key, section, 1, false);
  }
}

function chars(text: string): number {
  let n = 0;
  for (const c of text) if (!CONTROL.test(c)) n++;
  return n;
}

function valueSize(value: Json): number {
  if (value === null) return 0;
  if (typeof value === 'string') return chars(value);
  if (typeof value === 'number') return 8;
  if (typeof value === 'boolean') return 4;
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + valueSize(item), 0);
  return twinSize(value);
}

/** A section's size as IoT Hub computes it: key characters plus value sizes (strings by characters, numbers 8, booleans 4), recursively. */
export function twinSize(doc: JsonObject): number {
  let size = 0;
  for (const [key, value] of Object.entries(doc)) size += chars(key) + valueSize(value);
  return size;
}

function clone<T extends Json>(value: T): T {
  return value === null || typeof value !== 'object' ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** JSON merge: members of `patch` replace those of `target`, objects merge recursively, null deletes. Returns a new object. */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isJsonObject(value)) out[key] = mergePatch(isJsonObject(out[key]) ? (out[key] as JsonObject) : {}, value);
    else out[key] = clone(value);
  }
  return out;
}

function stampMetadata(before: JsonObject | undefined, meta: Metadata | undefined, patch: JsonObject, stamp: string, version: number | undefined): Metadata {
  const out: Metadata = { ...(meta ?? {}), $lastUpdated: stamp };
  if (version !== undefined) out.$lastUpdatedVersion = version;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else if (isJsonObject(value)) {
      const previous = before?.[key];
      const keep = isJsonObject(previous) && typeof out[key] === 'object';
      out[key] = stampMetadata(keep ? (previous as JsonObject) : undefined, keep ? (out[key] as Metadata) : undefined, value, stamp, version);
    } else {
      out[key] = version === undefined ? { $lastUpdated: stamp } : { $lastUpdated: stamp, $lastUpdatedVersion: version };
    }
  }
  return out;
}

/** A fresh section: no properties, `$version` 1. */
export function newSection(now: Date, withVersionInMetadata = false): TwinSection {
  const metadata: Metadata = { $lastUpdated: now.toISOString() };
  if (withVersionInMetadata) metadata.$lastUpdatedVersion = 1;
  return { properties: {}, metadata, version: 1 };
}

function sizeError(section: SectionName, size: number, limit: number): HubError {
  return new HubError(
    403,
    ErrorCodes.TwinSizeExceeded,
    `'${LABEL[section]}' size should be less than ${limit} bytes. (this patch would make it ${size})`,
    section === 'tags' ? 'keep tags within 8 KB: delete tags you no longer need (set them to null)' : `keep ${section} properties within 32 KB: delete properties you no longer need (set them to null)`,
  );
}

/**
 * Applies a validated patch to a desired or reported section: merge, new `$version`, metadata stamped.
 * Throws 403/403100 if the result would exceed 32 KB.
 */
export function applySectionPatch(section: TwinSection, patch: JsonObject, name: 'desired' | 'reported', now: Date): TwinSection {
  validatePatch(patch, name);
  const properties = mergePatch(section.properties, patch);
  const size = twinSize(properties);
  if (size > TWIN_LIMITS.maxPropertiesBytes && size > twinSize(section.properties)) throw sizeError(name, size, TWIN_LIMITS.maxPropertiesBytes);
  const version = section.version + 1;
  const metadata = stampMetadata(section.properties, section.metadata, patch, now.toISOString(), name === 'desired' ? version : undefined);
  return { properties, metadata, version };
}

/** Applies a tags patch (service side only; devices never see tags). Throws 403/403100 past 8 KB. */
export function applyTagsPatch(tags: JsonObject, patch: JsonObject): JsonObject {
  validatePatch(patch, 'tags');
  const merged = mergePatch(tags, patch);
  const size = twinSize(merged);
  if (size > TWIN_LIMITS.maxTagsBytes && size > twinSize(tags)) throw sizeError('tags', size, TWIN_LIMITS.maxTagsBytes);
  return merged;
}

/** The section as the service API shows it: properties, `$metadata`, `$version`. */
export function serviceView(section: TwinSection): JsonObject {
  return { ...section.properties, $metadata: section.metadata as unknown as JsonObject, $version: section.version };
}

/** The twin document a device receives for GET: `{ desired: {..., $version}, reported: {..., $version} }`. */
export function deviceTwinDocument(desired: TwinSection, reported: TwinSection): { desired: JsonObject; reported: JsonObject } {
  return { desired: { ...desired.properties, $version: desired.version }, reported: { ...reported.properties, $version: reported.version } };
}

// ---- the MQTT exchanges ----

export interface OutgoingMessage {
  topic: string;
  payload: Buffer;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** `$iothub/twin/res/{status}/?$rid={rid}` with IoT Hub's error body `{ errorCode, message }`. */
export function twinErrorResponse(rid: string | undefined, error: HubError): OutgoingMessage {
  return { topic: twinResponseTopic(error.status, rid ?? ''), payload: json({ errorCode: error.errorCode, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }) };
}

/** Answer to `$iothub/twin/GET/?$rid={rid}`: 200 and the twin document. */
export function twinGetResponse(rid: string | undefined, desired: TwinSection, reported: TwinSection): OutgoingMessage {
  if (!rid) return twinErrorResponse(rid, badRequest('the twin GET has no request id', 'publish to $iothub/twin/GET/?$rid={request id}'));
  return { topic: twinResponseTopic(200, rid), payload: json(deviceTwinDocument(desired, reported)) };
}

/**
 * A reported-properties patch from the device (`$iothub/twin/PATCH/properties/reported/?$rid={rid}`):
 * the new section and `$iothub/twin/res/204/?$rid={rid}&$version={v}`, or an error response and no change.
 */
export function reportedPatchExchange(reported: TwinSection, body: Uint8Array, rid: string | undefined, now: Date): { reported?: TwinSection; patch?: JsonObject; response: OutgoingMessage } {
  try {
    if (!rid) throw badRequest('the reported properties patch has no request id', 'publish to $iothub/twin/PATCH/properties/reported/?$rid={request id}');
    const patch = parsePatch(body, 'reported');
    const next = applySectionPatch(reported, patch, 'reported', now);
    return { reported: next, patch, response: { topic: twinResponseTopic(204, rid, next.version), payload: Buffer.alloc(0) } };
  } catch (error) {
    if (error instanceof HubError) return { response: twinErrorResponse(rid, error) };
    throw error;
  }
}

/**
 * A desired-properties patch from the service: the new section and the notification the connected device
 * gets on `$iothub/twin/PATCH/properties/desired/?$version={v}`: the patch as sent (nulls included) plus `$version`.
 */
export function desiredPatchExchange(desired: TwinSection, patch: JsonObject, now: Date): { desired: TwinSection; notification: OutgoingMessage } {
  const next = applySectionPatch(desired, patch, 'desired', now);
  return { desired: next, notification: { topic: desiredPatchTopic(next.version), payload: json({ ...patch, $version: next.version }) } };
}

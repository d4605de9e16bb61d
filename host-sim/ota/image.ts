/**
 * The simulator's app image: what an OTA slot holds and what an update downloads. On the
 * device an app image is ESP-IDF's binary (magic 0xE9, segments, appended SHA-256); in the
 * simulator it is this fixed 128-byte header followed by the firmware bundle, the JavaScript
 * that esbuild makes per board (host-sim/engines/firmware-bundle.ts).
 *
 * Header, integers little-endian (docs/OTA.md has the table):
 *
 *   0    4  magic            "TKAI" (54 4B 41 49)
 *   4    2  format version   1
 *   6    2  header length    128
 *   8    4  payload length   bytes of bundle after the header
 *   12   4  security version anti-rollback counter (u32)
 *   16  32  payload SHA-256
 *   48  32  firmware version semver, UTF-8, NUL-padded (as esp_app_desc_t.version: 32 bytes)
 *   80  32  board name       UTF-8, NUL-padded
 *   112 12  reserved         zero
 *   124  4  header CRC-32    of bytes 0-123 (the usual CRC-32: zlib's, esp_rom_crc32_le(0, …))
 *
 * In a slot the image starts at offset 0; the flash after it is erased (or holds stale bytes
 * of an older, longer image: the header's payload length says where the image ends).
 */
import { createHash } from 'node:crypto';
import type { FlashPartition } from '../../hal/flash';
import { crc32 } from '../../firmware/codec/crc32';

export const IMAGE_MAGIC = new Uint8Array([0x54, 0x4b, 0x41, 0x49]); // "TKAI"
export const IMAGE_FORMAT_VERSION = 1;
export const IMAGE_HEADER_SIZE = 128;
export const IMAGE_VERSION_FIELD_SIZE = 32;
export const IMAGE_BOARD_FIELD_SIZE = 32;
const HEADER_CRC_OFFSET = 124;
/** ESP-IDF's app image magic byte (ESP_IMAGE_HEADER_MAGIC), recognised only to say so. */
const ESP_IMAGE_MAGIC = 0xe9;

export type ImageErrorCode =
  | 'empty'
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-format'
  | 'header-corrupt'
  | 'bad-field'
  | 'hash-mismatch'
  | 'trailing-bytes'
  | 'too-large'
  | 'wrong-board';

export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

export interface ImageHeader {
  formatVersion: number;
  headerLength: number;
  payloadLength: number;
  securityVersion: number;
  /** SHA-256 of the payload, as stored. */
  payloadSha256: Uint8Array;
  version: string;
  board: string;
}

export interface AppImage extends ImageHeader {
  /** The firmware bundle (UTF-8 JavaScript). */
  payload: Uint8Array;
  /** Header plus payload. */
  byteLength: number;
}

export interface BuildImageOptions {
  /** Semantic version of the firmware in the bundle, e.g. "1.2.0". */
  version: string;
  /** Board name the bundle was built for (boards/<name>.ts). */
  board: string;
  /** The bundle: JavaScript source, or its bytes. */
  bundle: string | Uint8Array;
  /** Anti-rollback counter; 0 when absent. */
  securityVersion?: number;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// ---------------------------------------------------------------- semantic versions

/** The grammar of semver.org 2.0.0 (its recommended regular expression). */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export interface Semver {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers: numbers for numeric ones. Empty for a release. */
  prerelease: (string | number)[];
  /** Build metadata identifiers (ignored by precedence). */
  build: string[];
}

export function isSemver(text: unknown): text is string {
  return typeof text === 'string' && SEMVER.test(text) && parseSemverUnchecked(text) !== undefined;
}

function parseSemverUnchecked(text: string): Semver | undefined {
  const match = SEMVER.exec(text);
  if (!match) return undefined;
  const [major, minor, patch] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return {
    major,
    minor,
    patch,
    prerelease: match[4] ? match[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [],
    build: match[5] ? match[5].split('.') : [],
  };
}

/** Parses "MAJOR.MINOR.PATCH[-prerelease][+build]"; throws RangeError naming the problem. */
export function parseSemver(text: string): Semver {
  const parsed = typeof text === 'string' ? parseSemverUnchecked(text) : undefined;
  if (!parsed) throw new RangeError(`"${String(text)}" is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1)`);
  return parsed;
}

/** Semver precedence (semver.org §11): -1, 0 or 1. Build metadata does not count. */
export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  const x = parseSemver(a);
  const y = parseSemver(b);
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (x[key] !== y[key]) return x[key] < y[key] ? -1 : 1;
  }
  if (x.prerelease.length === 0 || y.prerelease.length === 0) {
    if (x.prerelease.length === y.prerelease.length) return 0;
    return x.prerelease.length === 0 ? 1 : -1; // a release outranks its pre-releases
  }
  for (let i = 0; i < Math.min(x.prerelease.length, y.prerelease.length); i++) {
    const p = x.prerelease[i]!;
    const q = y.prerelease[i]!;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p < q ? -1 : 1;
    if (typeof p === 'number') return -1; // numeric identifiers rank below alphanumeric ones
    if (typeof q === 'number') return 1;
    return p < q ? -1 : 1; // ASCII order
  }
  if (x.prerelease.length === y.prerelease.length) return 0;
  return x.prerelease.length < y.prerelease.length ? -1 : 1;
}

// ---------------------------------------------------------------- update policy

/** What the device knows of itself when an update is offered. */
export interface RunningFirmware {
  board: string;
  version: string;
  securityVersion: number;
}

/** What an update claims to be (its signed manifest, or its image header). */
export interface UpdateCandidate {
  board: string;
  version: string;
  securityVersion: number;
}

export type UpdateRefusalCode = 'wrong-board' | 'not-newer' | 'security-version' | 'bad-field';

export type UpdateDecision = { allowed: true } | { allowed: false; code: UpdateRefusalCode; reason: string };

/**
 * The device's policy for an offered update:
 * - the board must be the device's own;
 * - no downgrade: the version must be strictly newer by semver precedence (the same version
 *   is refused too: it is already running);
 * - anti-rollback: the security version must be at least the device's floor, which is the
 *   larger of the running image's security version and `minSecurityVersion` (a floor the
 *   device keeps, e.g. the highest security version it has ever marked valid). This is what
 *   ESP-IDF does with eFuses under CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK; thingkit does not
 *   burn eFuses, so the OTA agent enforces it. Raising the security version is how a
 *   release makes every older release (with a known flaw) uninstallable, whatever its semver.
 */
export function checkUpdateAllowed(running: RunningFirmware, candidate: UpdateCandidate, options: { minSecurityVersion?: number } = {}): UpdateDecision {
  if (!isSemver(candidate.version)) {
    return { allowed: false, code: 'bad-field', reason: `update version "${String(candidate.version)}" is not a semantic version` };
  }
  if (!isSecurityVersion(candidate.securityVersion)) {
    return { allowed: false, code: 'bad-field', reason: `update security version ${String(candidate.securityVersion)} is not a u32` };
  }
  if (candidate.board !== running.board) {
    return { allowed: false, code: 'wrong-board', reason: `update is for board "${candidate.board}", this device is "${running.board}"` };
  }
  const order = compareSemver(candidate.version, running.version);
  if (order <= 0) {
    return {
      allowed: false,
      code: 'not-newer',
      reason:
        order === 0
          ? `update version ${candidate.version} is the running version`
          : `update version ${candidate.version} is older than the running ${running.version}: no downgrades`,
    };
  }
  const floor = Math.max(running.securityVersion, options.minSecurityVersion ?? 0);
  if (candidate.securityVersion < floor) {
    return {
      allowed: false,
      code: 'security-version',
      reason: `update security version ${candidate.securityVersion} is below this device's ${floor} (anti-rollback)`,
    };
  }
  return { allowed: true };
}

function isSecurityVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

// ---------------------------------------------------------------- building and parsing

function checkTextField(name: string, value: string, size: number): Uint8Array {
  if (typeof value !== 'string' || value.length === 0) throw new ImageError('bad-field', `Image ${name} must be a non-empty string`);
  if (value.includes('\0')) throw new ImageError('bad-field', `Image ${name} "${value}" contains a NUL`);
  const bytes = utf8.encode(value);
  if (bytes.length > size) throw new ImageError('bad-field', `Image ${name} "${value}" is ${bytes.length} bytes of UTF-8; the header holds ${size}`);
  return bytes;
}

/** Header and bundle, ready to download or to write at offset 0 of a slot. */
export function buildImage(options: BuildImageOptions): Uint8Array {
  const { version, board } = options;
  const securityVersion = options.securityVersion ?? 0;
  if (!isSemver(version)) throw new ImageError('bad-field', `Image version "${String(version)}" is not a semantic version (e.g. 1.4.0)`);
  const versionBytes = checkTextField('version', version, IMAGE_VERSION_FIELD_SIZE);
  const boardBytes = checkTextField('board', board, IMAGE_BOARD_FIELD_SIZE);
  if (!isSecurityVersion(securityVersion)) {
    throw new ImageError('bad-field', `Image security version ${String(securityVersion)} is not an integer from 0 to 4294967295`);
  }
  const payload = typeof options.bundle === 'string' ? utf8.encode(options.bundle) : options.bundle;
  if (!(payload instanceof Uint8Array)) throw new ImageError('bad-field', 'Image bundle must be a string or a Uint8Array');
  if (payload.length > 0xffffffff - IMAGE_HEADER_SIZE) throw new ImageError('too-large', `Bundle of ${payload.length} bytes is too large`);
  const image = new Uint8Array(IMAGE_HEADER_SIZE + payload.length);
  const view = new DataView(image.buffer);
  image.set(IMAGE_MAGIC, 0);
  view.setUint16(4, IMAGE_FORMAT_VERSION, true);
  view.setUint16(6, IMAGE_HEADER_SIZE, true);
  view.setUint32(8, payload.length, true);
  view.setUint32(12, securityVersion, true);
  image.set(sha256(payload), 16);
  image.set(versionBytes, 48);
  image.set(boardBytes, 80);
  // bytes 112-123 reserved: zero
  view.setUint32(HEADER_CRC_OFFSET, crc32(image.subarray(0, HEADER_CRC_OFFSET)), true);
  image.set(payload, IMAGE_HEADER_SIZE);
  return image;
}

function decodeTextField(bytes: Uint8Array, name: string, where: string): string {
  const nul = bytes.indexOf(0);
  const field = nul === -1 ? bytes : bytes.subarray(0, nul);
  let text: string;
  try {
    text = strictUtf8.decode(field);
  } catch {
    throw new ImageError('header-corrupt', `${where}: the ${name} field is not UTF-8`);
  }
  if (text.length === 0) throw new ImageError('bad-field', `${where}: the ${name} field is empty`);
  return text;
}

function isErased(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0xff);
}

/**
 * Decodes and checks the header at the start of `bytes` (at least IMAGE_HEADER_SIZE of
 * them): magic, format, header CRC, fields. Does not look at the payload.
 * `where` names the bytes in messages ("image", "slot ota_1").
 */
export function parseImageHeader(bytes: Uint8Array, where = 'image'): ImageHeader {
  if (bytes.length >= IMAGE_MAGIC.length && isErased(bytes.subarray(0, Math.min(bytes.length, IMAGE_HEADER_SIZE)))) {
    throw new ImageError('empty', `${where} is all 0xFF (erased flash): there is no image`);
  }
  if (bytes.length < IMAGE_MAGIC.length) {
    throw new ImageError('truncated', `${where} is truncated: ${bytes.length} bytes, less than the ${IMAGE_HEADER_SIZE}-byte header`);
  }
  if (!sameBytes(bytes.subarray(0, IMAGE_MAGIC.length), IMAGE_MAGIC)) {
    const found = toHex(bytes.subarray(0, IMAGE_MAGIC.length));
    const hint = bytes[0] === ESP_IMAGE_MAGIC ? ' (0xE9 starts an ESP-IDF app binary: the simulator runs thingkit images, built by `buildImage`)' : '';
    throw new ImageError('bad-magic', `${where} has bad magic ${found}, expected ${toHex(IMAGE_MAGIC)} ("TKAI"): not a thingkit app image${hint}`);
  }
  if (bytes.length < IMAGE_HEADER_SIZE) {
    throw new ImageError('truncated', `${where} is truncated: ${bytes.length} bytes, less than the ${IMAGE_HEADER_SIZE}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, IMAGE_HEADER_SIZE);
  const formatVersion = view.getUint16(4, true);
  const headerLength = view.getUint16(6, true);
  if (formatVersion !== IMAGE_FORMAT_VERSION) {
    throw new ImageError('unsupported-format', `${where} has image format version ${formatVersion}; this simulator reads version ${IMAGE_FORMAT_VERSION}`);
  }
  const storedCrc = view.getUint32(HEADER_CRC_OFFSET, true);
  const computedCrc = crc32(bytes.subarray(0, HEADER_CRC_OFFSET));
  if (storedCrc !== computedCrc) {
    throw new ImageError(
      'header-corrupt',
      `${where} header CRC mismatch: stored 0x${storedCrc.toString(16).padStart(8, '0')}, computed 0x${computedCrc.toString(16).padStart(8, '0')}; the header is corrupt`,
    );
  }
  if (headerLength !== IMAGE_HEADER_SIZE) {
    throw new ImageError('unsupported-format', `${where} declares a ${headerLength}-byte header; format ${IMAGE_FORMAT_VERSION} has ${IMAGE_HEADER_SIZE}`);
  }
  const version = decodeTextField(bytes.subarray(48, 48 + IMAGE_VERSION_FIELD_SIZE), 'version', where);
  if (!isSemver(version)) throw new ImageError('bad-field', `${where}: version "${version}" is not a semantic version`);
  return {
    formatVersion,
    headerLength,
    payloadLength: view.getUint32(8, true),
    securityVersion: view.getUint32(12, true),
    payloadSha256: bytes.slice(16, 48),
    version,
    board: decodeTextField(bytes.subarray(80, 80 + IMAGE_BOARD_FIELD_SIZE), 'board', where),
  };
}

/**
 * Decodes a whole image (exactly header + payload, as downloaded) and checks it: magic,
 * format, header CRC, length, payload SHA-256. Throws ImageError with a `code`.
 */
export function parseImage(bytes: Uint8Array, where = 'image'): AppImage {
  const header = parseImageHeader(bytes, where);
  const expected = IMAGE_HEADER_SIZE + header.payloadLength;
  if (bytes.length < expected) {
    throw new ImageError(
      'truncated',
      `${where} is truncated: ${bytes.length} bytes, but its header promises ${IMAGE_HEADER_SIZE} + ${header.payloadLength} = ${expected}`,
    );
  }
  if (bytes.length > expected) {
    throw new ImageError('trailing-bytes', `${where} is ${bytes.length} bytes, ${bytes.length - expected} more than its header's ${expected}`);
  }
  const payload = bytes.slice(IMAGE_HEADER_SIZE, expected);
  const digest = sha256(payload);
  if (!sameBytes(digest, header.payloadSha256)) {
    throw new ImageError(
      'hash-mismatch',
      `${where} payload SHA-256 mismatch: header says ${toHex(header.payloadSha256)}, the ${payload.length} bytes hash to ${toHex(digest)}; the image is corrupt`,
    );
  }
  return { ...header, payload, byteLength: expected };
}

/** The bundle's JavaScript source. */
export function bundleSource(image: AppImage): string {
  return strictUtf8.decode(image.payload);
}

// ---------------------------------------------------------------- slots

export interface WriteImageOptions {
  /**
   * What to erase first: `slot` (default) erases the whole partition, as esp_ota_begin with
   * OTA_SIZE_UNKNOWN does, leaving erased flash after the image; `image` erases only the
   * sectors the image covers, as esp_ota_begin with the image size does; `none` erases
   * nothing (the caller erased already, e.g. with OtaOps.beginUpdate).
   */
  erase?: 'slot' | 'image' | 'none';
  /** Refuse bytes that do not parse as an image (default true). */
  validate?: boolean;
}

function slotName(partition: FlashPartition): string {
  return `slot ${partition.info.label}`;
}

/**
 * Writes an image at offset 0 of an app partition: erases (see `erase`), then programs the
 * image one sector at a time, in order — so a power cut leaves a prefix of the image, which
 * `readImageFromSlot` rejects as truncated or corrupt.
 */
export function writeImageToSlot(partition: FlashPartition, image: Uint8Array, options: WriteImageOptions = {}): void {
  if (partition.info.type !== 'app') {
    throw new ImageError('bad-field', `Partition "${partition.info.label}" is a ${partition.info.type} partition, not an app slot`);
  }
  if (options.validate ?? true) parseImage(image);
  if (image.length > partition.byteLength) {
    throw new ImageError('too-large', `Image of ${image.length} bytes does not fit ${slotName(partition)} (${partition.byteLength} bytes)`);
  }
  const block = partition.blockLength;
  const erase = options.erase ?? 'slot';
  const eraseBlocks = erase === 'none' ? 0 : erase === 'image' ? Math.ceil(image.length / block) : partition.byteLength / block;
  for (let index = 0; index < eraseBlocks; index++) partition.eraseBlock(index);
  for (let offset = 0; offset < image.length; offset += block) {
    partition.write(image.subarray(offset, Math.min(image.length, offset + block)), offset);
  }
}

/**
 * Reads and checks the image at offset 0 of an app partition. Throws ImageError: `empty`
 * for an erased slot, `truncated` when the header promises more than the slot holds, and
 * the codes of parseImage.
 */
export function readImageFromSlot(partition: FlashPartition): AppImage {
  const where = slotName(partition);
  if (partition.byteLength < IMAGE_HEADER_SIZE) {
    throw new ImageError('truncated', `${where} is ${partition.byteLength} bytes, too small for an image header`);
  }
  const header = parseImageHeader(partition.read(IMAGE_HEADER_SIZE, 0), where);
  const length = IMAGE_HEADER_SIZE + header.payloadLength;
  if (length > partition.byteLength) {
    throw new ImageError(
      'truncated',
      `${where}: the header promises ${length} bytes of image, more than the slot's ${partition.byteLength}; the header is corrupt`,
    );
  }
  return parseImage(partition.read(length, 0), where);
}

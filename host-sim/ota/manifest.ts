/**
 * The signed update manifest: what the cloud offers a device (by twin desired property or
 * direct method) and what the device checks before it downloads anything.
 *
 *   envelope  = { "manifest": { …six fields… }, "signature": "<base64 of r ‖ s>" }
 *   signed    = UTF-8 of the canonical JSON of the manifest: its six keys in ascending
 *               code-unit order (board, securityVersion, sha256, size, url, version), no
 *               whitespace, values as JSON.stringify writes them
 *   signature = ECDSA P-256 over SHA-256(signed), r and s as 32-byte big-endian integers
 *               (IEEE P1363: 64 bytes), base64 with padding (88 characters)
 *
 * The device recomputes the canonical JSON from the manifest it received (the cloud may have
 * reordered the keys), hashes it with the HAL's SHA-256 and checks the signature with the
 * HAL's ecdsaP256Verify against the public key built into the firmware; verifyManifest here
 * does exactly that with host-sim/crypto/ecdsa-p256.ts. Every string field is printable
 * ASCII, so canonical JSON is the same in every JSON implementation, XS's included.
 *
 * The manifest has exactly these fields; any other key makes it malformed (a future format
 * would add a field and be refused by old firmware, which is the safe way round). The
 * firmware's side is firmware/ota/manifest.ts; test/ota/manifest.test.ts checks that an
 * envelope signed here verifies there.
 */
import { createHash, sign } from 'node:crypto';
import * as fs from 'node:fs';
import { verifyP256 } from '../crypto/ecdsa-p256';
import {
  buildImage,
  checkUpdateAllowed,
  IMAGE_BOARD_FIELD_SIZE,
  IMAGE_VERSION_FIELD_SIZE,
  isSemver,
  parseImage,
  sha256,
  toHex,
  type AppImage,
  type RunningFirmware,
  type UpdateDecision,
} from './image';
import { checkPublicKeyRaw, KeyError, loadPrivateKey } from './keys';
import type { UpdateManifest } from '../../firmware/ota/manifest';

/** The manifest's fields: the device's definition (firmware/ota/manifest.ts); this side signs what that side checks. */
export type { UpdateManifest };

export interface SignedManifest {
  manifest: UpdateManifest;
  /** base64 of the 64-byte r ‖ s. */
  signature: string;
}

/** The manifest's keys in canonical (ascending code-unit) order. */
export const MANIFEST_KEYS = ['board', 'securityVersion', 'sha256', 'size', 'url', 'version'] as const;
export const MAX_URL_LENGTH = 2048;
export const SIGNATURE_LENGTH = 64;
/** size and securityVersion are u32 (as in the image header). */
export const MAX_MANIFEST_INTEGER = 0xffffffff;

export type ManifestErrorCode = 'malformed' | 'bad-signature' | 'bad-public-key' | 'bad-private-key' | 'image-mismatch';

export class ManifestError extends Error {
  constructor(
    readonly code: ManifestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ManifestError';
  }
}

const BOARD = /^[A-Za-z0-9._-]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const URL = /^https?:\/\/[\x21-\x7e]+$/;
/** 64 bytes in padded base64: 85 characters, one whose low 4 bits are zero, then "==". */
const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

function isManifestInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_MANIFEST_INTEGER;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Every reason `value` is not a manifest, as sentences; empty when it is one. */
export function manifestProblems(value: unknown): string[] {
  if (!isPlainObject(value)) return ['the manifest is not a JSON object'];
  const problems: string[] = [];
  const extra = Object.keys(value).filter((key) => !(MANIFEST_KEYS as readonly string[]).includes(key));
  if (extra.length > 0) problems.push(`unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
  for (const key of MANIFEST_KEYS) if (!(key in value)) problems.push(`missing field "${key}"`);
  const { version, board, size, sha256: digest, url, securityVersion } = value;
  if ('version' in value && (!isSemver(version) || version.length > IMAGE_VERSION_FIELD_SIZE)) {
    problems.push(`version ${JSON.stringify(version)} is not a semantic version of at most ${IMAGE_VERSION_FIELD_SIZE} characters`);
  }
  if ('board' in value && (typeof board !== 'string' || !BOARD.test(board) || board.length > IMAGE_BOARD_FIELD_SIZE)) {
    problems.push(`board ${JSON.stringify(board)} is not a board name (letters, digits, ".", "_", "-"; at most ${IMAGE_BOARD_FIELD_SIZE})`);
  }
  if ('size' in value && (!isManifestInteger(size) || size === 0)) problems.push(`size ${JSON.stringify(size)} is not a positive integer up to ${MAX_MANIFEST_INTEGER}`);
  if ('sha256' in value && (typeof digest !== 'string' || !SHA256_HEX.test(digest))) {
    problems.push(`sha256 ${JSON.stringify(digest)} is not 64 lowercase hex digits`);
  }
  if ('url' in value && (typeof url !== 'string' || !URL.test(url) || url.length > MAX_URL_LENGTH)) {
    problems.push(`url ${JSON.stringify(url)} is not an http(s) URL of printable ASCII (at most ${MAX_URL_LENGTH} characters)`);
  }
  if ('securityVersion' in value && !isManifestInteger(securityVersion)) {
    problems.push(`securityVersion ${JSON.stringify(securityVersion)} is not an integer from 0 to ${MAX_MANIFEST_INTEGER}`);
  }
  return problems;
}

/** Checks the shape of a manifest; throws ManifestError('malformed') listing every problem. */
export function validateManifest(value: unknown): UpdateManifest {
  const problems = manifestProblems(value);
  if (problems.length > 0) throw new ManifestError('malformed', `Malformed update manifest: ${problems.join('; ')}`);
  return value as unknown as UpdateManifest;
}

/** The canonical JSON text of a (valid) manifest: sorted keys, no whitespace. */
export function canonicalManifest(manifest: UpdateManifest): string {
  const valid = validateManifest(manifest);
  const ordered: Record<string, unknown> = {};
  for (const key of MANIFEST_KEYS) ordered[key] = valid[key];
  return JSON.stringify(ordered);
}

/** The bytes the signature covers: UTF-8 of the canonical JSON (all ASCII). */
export function manifestSigningBytes(manifest: UpdateManifest): Uint8Array {
  return new TextEncoder().encode(canonicalManifest(manifest));
}

/** SHA-256 of the signed bytes: the digest the device passes to ecdsaP256Verify. */
export function manifestDigest(manifest: UpdateManifest): Uint8Array {
  return sha256(manifestSigningBytes(manifest));
}

/** Signs a manifest with the OTA private key (PEM); returns the envelope. */
export function signManifest(manifest: UpdateManifest, privateKeyPem: string): SignedManifest {
  const bytes = manifestSigningBytes(manifest);
  let key;
  try {
    key = loadPrivateKey(privateKeyPem);
  } catch (error) {
    if (error instanceof KeyError) throw new ManifestError('bad-private-key', error.message);
    throw error;
  }
  const signature = sign('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' });
  const ordered = JSON.parse(canonicalManifest(manifest)) as UpdateManifest;
  return { manifest: ordered, signature: signature.toString('base64') };
}

/**
 * What the device does with an offered update before anything else: checks the envelope's
 * shape, recomputes the canonical JSON, and verifies the signature over its SHA-256 with
 * the built-in public key. Returns the manifest; throws ManifestError (`malformed`,
 * `bad-signature`, `bad-public-key`).
 */
export function verifyManifest(envelope: unknown, publicKeyRaw: Uint8Array): UpdateManifest {
  try {
    checkPublicKeyRaw(publicKeyRaw);
  } catch (error) {
    if (error instanceof KeyError) throw new ManifestError('bad-public-key', error.message);
    throw error;
  }
  if (!isPlainObject(envelope)) throw new ManifestError('malformed', 'The update envelope is not a JSON object');
  const extra = Object.keys(envelope).filter((key) => key !== 'manifest' && key !== 'signature');
  if (extra.length > 0) throw new ManifestError('malformed', `The update envelope has unknown fields ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
  const manifest = validateManifest(envelope.manifest);
  const signature = envelope.signature;
  if (typeof signature !== 'string' || !SIGNATURE_BASE64.test(signature)) {
    throw new ManifestError('malformed', `The signature must be ${SIGNATURE_LENGTH} bytes (r ‖ s) in padded base64, 88 characters`);
  }
  const rs = new Uint8Array(Buffer.from(signature, 'base64'));
  if (!verifyP256(publicKeyRaw, manifestDigest(manifest), rs)) {
    throw new ManifestError('bad-signature', 'The update manifest\'s signature does not verify with this device\'s OTA public key: refused');
  }
  return manifest;
}

/** Whether this device should take the update the manifest offers (board, no downgrade, anti-rollback). */
export function checkManifestForDevice(manifest: UpdateManifest, running: RunningFirmware, options: { minSecurityVersion?: number } = {}): UpdateDecision {
  return checkUpdateAllowed(running, manifest, options);
}

/**
 * After the download: the image is the one the manifest signed — its size and SHA-256, and
 * its header's version, board and security version. Returns the parsed image; throws
 * ManifestError('image-mismatch') or the image's own ImageError.
 */
export function checkImageAgainstManifest(image: Uint8Array, manifest: UpdateManifest): AppImage {
  if (image.length !== manifest.size) {
    throw new ManifestError('image-mismatch', `The image is ${image.length} bytes; the manifest says ${manifest.size}`);
  }
  const digest = toHex(sha256(image));
  if (digest !== manifest.sha256) {
    throw new ManifestError('image-mismatch', `The image's SHA-256 is ${digest}; the manifest says ${manifest.sha256}`);
  }
  const parsed = parseImage(image);
  for (const field of ['version', 'board', 'securityVersion'] as const) {
    if (parsed[field] !== manifest[field]) {
      throw new ManifestError('image-mismatch', `The image header's ${field} is ${JSON.stringify(parsed[field])}; the manifest says ${JSON.stringify(manifest[field])}`);
    }
  }
  return parsed;
}

export interface SignImageOptions {
  /** An image built before (`buildImage`); its header gives version, board and security version. */
  imageFile?: string;
  /** Or the bundle to make the image from (then version and board are required). */
  bundle?: string | Uint8Array;
  version?: string;
  board?: string;
  url: string;
  privateKeyPem: string;
  /** Default: the image file's, or 0 for a bundle. */
  securityVersion?: number;
}

/**
 * `thingkit ota sign`: the image (built from the bundle, or read and checked from the file)
 * and its signed manifest. With an image file, any version, board or security version given
 * must agree with its header.
 */
export function signImage(options: SignImageOptions): { image: Uint8Array; envelope: SignedManifest } {
  if ((options.imageFile === undefined) === (options.bundle === undefined)) {
    throw new ManifestError('malformed', 'Give either an image file or a bundle to sign');
  }
  let image: Uint8Array;
  let header: AppImage;
  if (options.imageFile !== undefined) {
    image = new Uint8Array(fs.readFileSync(options.imageFile));
    header = parseImage(image, options.imageFile);
    for (const field of ['version', 'board', 'securityVersion'] as const) {
      const given = options[field];
      if (given !== undefined && given !== header[field]) {
        throw new ManifestError('image-mismatch', `${options.imageFile} has ${field} ${JSON.stringify(header[field])}, not ${JSON.stringify(given)}`);
      }
    }
  } else {
    if (options.version === undefined || options.board === undefined) {
      throw new ManifestError('malformed', 'Signing a bundle needs its version and board');
    }
    image = buildImage({ version: options.version, board: options.board, bundle: options.bundle!, securityVersion: options.securityVersion ?? 0 });
    header = parseImage(image);
  }
  const manifest: UpdateManifest = {
    version: header.version,
    board: header.board,
    size: image.length,
    sha256: createHash('sha256').update(image).digest('hex'),
    url: options.url,
    securityVersion: header.securityVersion,
  };
  return { image, envelope: signManifest(manifest, options.privateKeyPem) };
}

/**
 * The signed update manifest, device side (the host side, which signs, is
 * host-sim/ota/manifest.ts; both follow docs/OTA.md).
 *
 *   envelope  = { "manifest": { …six fields… }, "signature": "<base64 of r || s>" }
 *   manifest  = { board, securityVersion, sha256, size, url, version }, exactly these keys
 *   signed    = UTF-8 of the manifest's canonical JSON: keys in ascending code-unit order
 *               (board, securityVersion, sha256, size, url, version), no whitespace, values
 *               as JSON.stringify writes them
 *   signature = ECDSA P-256 over SHA-256(signed), r and s as 32-byte big-endian integers
 *               (64 bytes), padded base64 (88 characters)
 *
 * The device recomputes the canonical JSON from the manifest it received (the cloud may have
 * reordered the keys), hashes it with the HAL's SHA-256 and checks the signature with the
 * HAL's ecdsaP256Verify against the key built into the firmware. A manifest with any other
 * key is malformed: a future format adds a field and old firmware refuses it, the safe way
 * round. The SHA-256 of the signed bytes, in hex, is the update's identity (the agent's job id).
 */

export interface UpdateManifest {
  /** Semantic version of the image. */
  version: string;
  /** The board the image is built for (BoardDefinition.name). */
  board: string;
  /** Image length in bytes. */
  size: number;
  /** SHA-256 of the image, 64 hex digits. */
  sha256: string;
  /** Where to download it: http:// or https://. */
  url: string;
  /** Anti-rollback counter: a device refuses images below the highest it has accepted. */
  securityVersion: number;
}

export interface ManifestEnvelope {
  manifest: UpdateManifest;
  /** The canonical JSON of the manifest, exactly as it was signed. */
  canonical: string;
  /** base64 of r||s. */
  signature: string;
}

/** Longest envelope accepted, as JSON text. */
export const MAX_ENVELOPE_CHARS = 4096;
/** Longest URL accepted. */
export const MAX_MANIFEST_URL_LENGTH = 2048;
/** size and securityVersion are u32. */
export const MAX_MANIFEST_INTEGER = 0xffffffff;
/** The version and board fields of the image header hold 32 bytes each. */
export const MAX_MANIFEST_NAME_LENGTH = 32;
/** The manifest's keys, in canonical order. */
export const MANIFEST_KEYS = ['board', 'securityVersion', 'sha256', 'size', 'url', 'version'] as const;
const MAX_DEPTH = 8;
const BOARD = /^[A-Za-z0-9._-]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const HTTP_URL = /^https?:\/\/[\x21-\x7e]+$/;
/** 64 bytes in padded base64: 85 characters, one whose low 4 bits are zero, then "==". */
const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{85}[AQgw]==$/;
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** JSON with sorted keys and no whitespace; throws ManifestError on values JSON cannot represent. */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) throw new ManifestError(`the value nests deeper than ${MAX_DEPTH} levels`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new ManifestError('a number JSON cannot represent');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, depth + 1)).join(',')}]`;
      const record = value as { [key: string]: unknown };
      const keys = Object.keys(record).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new ManifestError(`a ${typeof value}, which JSON cannot represent`);
  }
}

const isU32 = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_MANIFEST_INTEGER;
const isPlainObject = (value: unknown): value is { [key: string]: unknown } => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every reason `value` is not a manifest; empty when it is one. */
export function manifestProblems(value: unknown): string[] {
  if (!isPlainObject(value)) return ['the manifest is not an object'];
  const problems: string[] = [];
  const extra = Object.keys(value).filter((key) => !(MANIFEST_KEYS as readonly string[]).includes(key));
  if (extra.length > 0) problems.push(`unknown field${extra.length > 1 ? 's' : ''} ${extra.slice(0, 4).map((key) => JSON.stringify(key.slice(0, 32))).join(', ')}`);
  for (const key of MANIFEST_KEYS) if (!(key in value)) problems.push(`missing field "${key}"`);
  const { version, board, size, sha256, url, securityVersion } = value;
  if ('version' in value && (typeof version !== 'string' || version.length > MAX_MANIFEST_NAME_LENGTH || !SEMVER.test(version))) {
    problems.push(`version is not a semantic version of at most ${MAX_MANIFEST_NAME_LENGTH} characters`);
  }
  if ('board' in value && (typeof board !== 'string' || board.length > MAX_MANIFEST_NAME_LENGTH || !BOARD.test(board))) {
    problems.push(`board is not a board name (letters, digits, ".", "_", "-"; at most ${MAX_MANIFEST_NAME_LENGTH})`);
  }
  if ('size' in value && (!isU32(size) || size === 0)) problems.push('size is not a positive integer below 2^32');
  if ('sha256' in value && (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))) problems.push('sha256 is not 64 lowercase hex digits');
  if ('url' in value && (typeof url !== 'string' || url.length > MAX_MANIFEST_URL_LENGTH || !HTTP_URL.test(url))) {
    problems.push(`url is not an http(s) URL of printable ASCII (at most ${MAX_MANIFEST_URL_LENGTH} characters)`);
  }
  if ('securityVersion' in value && !isU32(securityVersion)) problems.push('securityVersion is not an integer from 0 to 4294967295');
  return problems;
}

/** The canonical JSON of a valid manifest: its six keys in canonical order, no whitespace. */
export function canonicalManifest(manifest: UpdateManifest): string {
  const ordered: { [key: string]: unknown } = {};
  for (const key of MANIFEST_KEYS) ordered[key] = manifest[key];
  return JSON.stringify(ordered);
}

/** Checks a manifest's shape; throws ManifestError listing every problem. */
export function validateManifest(value: unknown): UpdateManifest {
  const problems = manifestProblems(value);
  if (problems.length > 0) throw new ManifestError(`malformed update manifest: ${problems.join('; ')}`);
  const record = value as { [key: string]: unknown };
  return {
    version: record.version as string,
    board: record.board as string,
    size: record.size as number,
    sha256: record.sha256 as string,
    url: record.url as string,
    securityVersion: record.securityVersion as number,
  };
}

/**
 * Reads an envelope given as JSON text or as the parsed object and checks its shape and the
 * manifest's fields (types and formats; board, version and signature are the agent's
 * checks). Throws ManifestError with the reason.
 */
export function parseEnvelope(input: unknown): ManifestEnvelope {
  let envelope: unknown = input;
  if (typeof input === 'string') {
    if (input.length > MAX_ENVELOPE_CHARS) throw new ManifestError(`the update envelope has ${input.length} characters; at most ${MAX_ENVELOPE_CHARS} are accepted`);
    try {
      envelope = JSON.parse(input);
    } catch (error) {
      throw new ManifestError(`the update envelope is not JSON: ${(error as Error).message}`);
    }
  }
  if (!isPlainObject(envelope)) throw new ManifestError('the update envelope must be an object { manifest, signature }');
  const extra = Object.keys(envelope).filter((key) => key !== 'manifest' && key !== 'signature');
  if (extra.length > 0) throw new ManifestError(`the update envelope has unknown fields ${extra.slice(0, 4).map((key) => JSON.stringify(key.slice(0, 32))).join(', ')}`);
  const manifest = validateManifest(envelope.manifest);
  const signature = envelope.signature;
  if (typeof signature !== 'string' || !SIGNATURE_BASE64.test(signature)) {
    throw new ManifestError('the signature must be 64 bytes (r || s) in padded base64, 88 characters');
  }
  return { manifest, canonical: canonicalManifest(manifest), signature };
}

/** Why `key` cannot check update signatures, or undefined when its form is right. */
export function publicKeyProblem(key: Uint8Array): string | undefined {
  if (!(key instanceof Uint8Array) || key.length !== 65 || key[0] !== 0x04) {
    return 'the update signing key must be 65 bytes, uncompressed P-256 (0x04 || X || Y)';
  }
  let zero = true;
  for (let i = 1; i < 65; i++) if (key[i] !== 0) zero = false;
  if (zero) return 'no update signing key is built in (firmware/ota/public-key.ts holds the placeholder): run `thingkit ota keygen` and rebuild';
  return undefined;
}

/** What signature verification needs: the HAL's crypto and text (structurally). */
export interface ManifestCrypto {
  sha256(): { update(bytes: Uint8Array): void; finish(): Uint8Array };
  ecdsaP256Verify(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean;
}

export interface ManifestText {
  encode(text: string): Uint8Array;
  fromBase64(text: string): Uint8Array;
  toHex(bytes: Uint8Array): string;
}

/**
 * Checks the envelope's signature with `publicKey` (65 bytes, uncompressed P-256).
 * Returns the manifest id (hex SHA-256 of the canonical bytes) when it verifies; throws
 * ManifestError otherwise.
 */
export function verifyEnvelopeSignature(envelope: ManifestEnvelope, publicKey: Uint8Array, crypto: ManifestCrypto, text: ManifestText): string {
  let signature: Uint8Array;
  try {
    signature = text.fromBase64(envelope.signature);
  } catch {
    throw new ManifestError('the signature is not base64');
  }
  if (signature.length !== 64) throw new ManifestError(`the signature has ${signature.length} bytes; a P-256 signature r||s has 64`);
  const digest = crypto.sha256();
  digest.update(text.encode(envelope.canonical));
  const hash = digest.finish();
  let valid: boolean;
  try {
    valid = crypto.ecdsaP256Verify(publicKey, hash, signature);
  } catch (error) {
    throw new ManifestError(`the signature cannot be checked: ${(error as Error).message}`);
  }
  if (!valid) throw new ManifestError('the signature does not verify with the built-in update key');
  return text.toHex(hash);
}

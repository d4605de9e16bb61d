/**
 * The OTA signing key: ECDSA over NIST P-256 (DESIGN §7: Moddable's `crypt` has ECDSA P-256
 * and no Ed25519). The private half stays with the developer, as a PKCS#8 PEM file; the
 * public half is built into the firmware as the raw uncompressed point, 65 bytes
 * 0x04 ‖ X ‖ Y — the form the HAL's `ecdsaP256Verify(publicKey, digest, signature)` takes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PUBLIC_KEY_LENGTH = 65;
export const PRIVATE_KEY_FILE = 'ota-private-key.pem';
export const PUBLIC_KEY_FILE = 'ota-public-key.pem';
/** Where the firmware keeps the key (written by the CLI, not by this module). */
export const PUBLIC_KEY_MODULE_PATH = 'firmware/ota/public-key.ts';

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

export interface OtaKeyPair {
  /** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). Secret. */
  privateKeyPem: string;
  /** 0x04 ‖ X ‖ Y, 65 bytes. */
  publicKeyRaw: Uint8Array;
}

// SEC 2 secp256r1, for checking that a raw key is a point of the curve.
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}

/** Throws KeyError unless `raw` is an uncompressed P-256 point (65 bytes, 0x04, on the curve). */
export function checkPublicKeyRaw(raw: Uint8Array): void {
  if (!(raw instanceof Uint8Array) || raw.length !== PUBLIC_KEY_LENGTH || raw[0] !== 0x04) {
    throw new KeyError(`An OTA public key is ${PUBLIC_KEY_LENGTH} bytes, 0x04 ‖ X ‖ Y (an uncompressed P-256 point)`);
  }
  const x = toBigInt(raw.subarray(1, 33));
  const y = toBigInt(raw.subarray(33));
  const onCurve = x < P && y < P && (((y * y - (x * x * x - 3n * x + B)) % P) + P) % P === 0n;
  if (!onCurve) throw new KeyError('The OTA public key is not a point of curve P-256');
}

function rawFromKeyObject(key: KeyObject): Uint8Array {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    throw new KeyError(`The OTA key must be ECDSA P-256 (prime256v1); this one is ${key.asymmetricKeyType ?? 'unknown'} ${details?.namedCurve ?? ''}`.trim());
  }
  const jwk = key.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  const raw = new Uint8Array(PUBLIC_KEY_LENGTH);
  raw[0] = 0x04;
  raw.set(x, 1 + 32 - x.length);
  raw.set(y, 33 + 32 - y.length);
  return raw;
}

/** A new signing key pair. */
export function generateKeyPair(): OtaKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyRaw: rawFromKeyObject(publicKey),
  };
}

/** Parses a private key PEM (PKCS#8 or SEC 1) and checks it is P-256. */
export function loadPrivateKey(privateKeyPem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new KeyError(`Not a private key PEM: ${(error as Error).message}`);
  }
  rawFromKeyObject(createPublicKey(key)); // checks the curve
  return key;
}

/** The raw public key (65 bytes) of a private key PEM. */
export function publicKeyFromPrivatePem(privateKeyPem: string): Uint8Array {
  return rawFromKeyObject(createPublicKey(loadPrivateKey(privateKeyPem)));
}

/** The raw public key (65 bytes) of a public key PEM (SPKI), as `keygen` writes it. */
export function publicKeyFromPem(publicKeyPem: string): Uint8Array {
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch (error) {
    throw new KeyError(`Not a public key PEM: ${(error as Error).message}`);
  }
  return rawFromKeyObject(key);
}

/** The SPKI PEM of a raw public key (for openssl and friends). */
export function publicKeyToPem(raw: Uint8Array): string {
  checkPublicKeyRaw(raw);
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: Buffer.from(raw.subarray(1, 33)).toString('base64url'), y: Buffer.from(raw.subarray(33)).toString('base64url') },
    format: 'jwk',
  });
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function publicKeyToHex(raw: Uint8Array): string {
  checkPublicKeyRaw(raw);
  return Buffer.from(raw).toString('hex');
}

export function publicKeyFromHex(text: string): Uint8Array {
  const clean = text.trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(clean)) throw new KeyError('An OTA public key in hex is 130 hex digits');
  const raw = new Uint8Array(Buffer.from(clean, 'hex'));
  checkPublicKeyRaw(raw);
  return raw;
}

export function publicKeyToBase64(raw: Uint8Array): string {
  checkPublicKeyRaw(raw);
  return Buffer.from(raw).toString('base64');
}

export function publicKeyFromBase64(text: string): Uint8Array {
  const clean = text.trim();
  if (!/^[A-Za-z0-9+/]{86}[AEIMQUYcgkosw048]=$/.test(clean)) throw new KeyError('An OTA public key in base64 is 88 characters (65 bytes)');
  const raw = new Uint8Array(Buffer.from(clean, 'base64'));
  checkPublicKeyRaw(raw);
  return raw;
}

/**
 * The text of `firmware/ota/public-key.ts` for this key: a firmware-safe module (no Node
 * APIs, no HAL) exporting the 65 bytes as OTA_PUBLIC_KEY, and nothing else, so the file can
 * be regenerated whole. Returned, not written.
 */
export function publicKeyModule(raw: Uint8Array): string {
  checkPublicKeyRaw(raw);
  const rows: string[] = [];
  for (let i = 0; i < raw.length; i += 13) {
    rows.push(`  ${Array.from(raw.subarray(i, i + 13), (b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')},`);
  }
  return [
    '/**',
    " * The OTA signing key's public half: ECDSA P-256, uncompressed point 0x04 || X || Y (65 bytes).",
    ' * Update manifests must carry a signature by the matching private key (docs/OTA.md).',
    ' * Generated by `thingkit ota keygen` (host-sim/ota/keys.ts, publicKeyModule); regenerate the',
    ' * whole file to rotate the key.',
    ' */',
    `// hex: ${publicKeyToHex(raw)}`,
    'export const OTA_PUBLIC_KEY: Uint8Array = new Uint8Array([',
    ...rows,
    ']);',
    '',
  ].join('\n');
}

export interface KeygenResult {
  privateKeyPath: string;
  publicKeyPath: string;
  publicKeyRaw: Uint8Array;
  publicKeyHex: string;
  publicKeyBase64: string;
  /** The text for firmware/ota/public-key.ts. */
  publicKeyModule: string;
}

/**
 * `thingkit ota keygen <dir>`: writes a new key pair into `dir` — `ota-private-key.pem`
 * (PKCS#8, mode 0600) and `ota-public-key.pem` (SPKI) — and returns the public key in the
 * forms the firmware and the CLI need. Refuses to replace an existing private key unless
 * `force`: losing it means no device in the field accepts another update.
 */
export function keygen(dir: string, options: { force?: boolean } = {}): KeygenResult {
  const privateKeyPath = path.join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = path.join(dir, PUBLIC_KEY_FILE);
  if (!options.force && fs.existsSync(privateKeyPath)) {
    throw new KeyError(
      `${privateKeyPath} exists: refusing to replace an OTA signing key (devices built with its public half would refuse updates signed by a new one). Delete it first, or pass force.`,
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  const pair = generateKeyPair();
  // Written with 0600 from the start; an existing file (force) is truncated and re-moded.
  fs.writeFileSync(privateKeyPath, pair.privateKeyPem, { mode: 0o600 });
  fs.chmodSync(privateKeyPath, 0o600);
  fs.writeFileSync(publicKeyPath, publicKeyToPem(pair.publicKeyRaw));
  return {
    privateKeyPath,
    publicKeyPath,
    publicKeyRaw: pair.publicKeyRaw,
    publicKeyHex: publicKeyToHex(pair.publicKeyRaw),
    publicKeyBase64: publicKeyToBase64(pair.publicKeyRaw),
    publicKeyModule: publicKeyModule(pair.publicKeyRaw),
  };
}

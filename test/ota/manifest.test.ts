import { transformSync } from 'esbuild';
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifyP256 } from '../../host-sim/crypto/ecdsa-p256';
import { buildImage, checkUpdateAllowed } from '../../host-sim/ota/image';
import {
  generateKeyPair,
  KeyError,
  keygen,
  publicKeyFromBase64,
  publicKeyFromHex,
  publicKeyFromPem,
  publicKeyFromPrivatePem,
  publicKeyModule,
  publicKeyToBase64,
  publicKeyToHex,
  publicKeyToPem,
} from '../../host-sim/ota/keys';
import {
  canonicalManifest,
  checkImageAgainstManifest,
  checkManifestForDevice,
  manifestDigest,
  manifestSigningBytes,
  ManifestError,
  signImage,
  signManifest,
  verifyManifest,
  type ManifestErrorCode,
  type SignedManifest,
  type UpdateManifest,
} from '../../host-sim/ota/manifest';
import * as firmwareManifest from '../../firmware/ota/manifest';
import { useTempDir } from '../flash/temp-dir';

const newPath = useTempDir();
const keys = generateKeyPair();
const otherKeys = generateKeyPair();

const manifest: UpdateManifest = {
  version: '1.1.0',
  board: 'esp32-devkitc',
  size: 1234,
  sha256: 'ab'.repeat(32),
  url: 'https://hub.local:8443/ota/esp32-devkitc/1.1.0.bin',
  securityVersion: 1,
};

function expectManifestError(run: () => unknown, code: ManifestErrorCode, message?: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ManifestError);
  expect((error as ManifestError).code).toBe(code);
  if (message) expect((error as ManifestError).message).toMatch(message);
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('keys', () => {
  test('a key pair: PKCS#8 PEM and the raw uncompressed point', () => {
    expect(keys.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(keys.publicKeyRaw).toHaveLength(65);
    expect(keys.publicKeyRaw[0]).toBe(0x04);
    expect(publicKeyFromPrivatePem(keys.privateKeyPem)).toEqual(keys.publicKeyRaw);
  });

  test('hex, base64 and PEM forms round-trip; malformed ones are refused', () => {
    const hex = publicKeyToHex(keys.publicKeyRaw);
    expect(hex).toMatch(/^04[0-9a-f]{128}$/);
    expect(publicKeyFromHex(hex)).toEqual(keys.publicKeyRaw);
    const base64 = publicKeyToBase64(keys.publicKeyRaw);
    expect(base64).toHaveLength(88);
    expect(publicKeyFromBase64(base64)).toEqual(keys.publicKeyRaw);
    expect(publicKeyFromPem(publicKeyToPem(keys.publicKeyRaw))).toEqual(keys.publicKeyRaw);
    expect(() => publicKeyFromHex(hex.slice(2))).toThrow(KeyError);
    expect(() => publicKeyFromHex('zz')).toThrow(/130 hex digits/);
    const offCurve = keys.publicKeyRaw.slice();
    offCurve[64]! ^= 1;
    expect(() => publicKeyToHex(offCurve)).toThrow(/not a point of curve P-256/);
    expect(() => publicKeyFromBase64(base64.slice(4))).toThrow(/88 characters/);
  });

  test('a P-384 key is refused', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(() => publicKeyFromPrivatePem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(/must be ECDSA P-256/);
  });

  function evaluateModule(text: string): Record<string, unknown> {
    const { code } = transformSync(text, { loader: 'ts', format: 'cjs' });
    const module = { exports: {} as Record<string, unknown> };
    new Function('module', 'exports', code)(module, module.exports);
    return module.exports;
  }

  test('the firmware module: firmware-safe TypeScript exporting the 65 bytes, in the shape of firmware/ota/public-key.ts', () => {
    const text = publicKeyModule(keys.publicKeyRaw);
    expect(text).not.toMatch(/\bimport\b|\brequire\b|Buffer|process|TextEncoder/);
    expect(text).toContain(`// hex: ${publicKeyToHex(keys.publicKeyRaw)}`);
    expect(evaluateModule(text)).toEqual({ OTA_PUBLIC_KEY: keys.publicKeyRaw });
    // The shipped file has the same exports, so regenerating it whole loses nothing.
    const file = path.join(__dirname, '..', '..', 'firmware', 'ota', 'public-key.ts');
    if (fs.existsSync(file)) expect(Object.keys(evaluateModule(fs.readFileSync(file, 'utf8')))).toEqual(['OTA_PUBLIC_KEY']);
  });

  test('keygen writes the private key 0600 and the public PEM, and will not replace a key', () => {
    const dir = `${newPath()}.keys/nested`;
    const result = keygen(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['ota-private-key.pem', 'ota-public-key.pem']);
    expect(fs.statSync(result.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(publicKeyFromPrivatePem(fs.readFileSync(result.privateKeyPath, 'utf8'))).toEqual(result.publicKeyRaw);
    expect(publicKeyFromPem(fs.readFileSync(result.publicKeyPath, 'utf8'))).toEqual(result.publicKeyRaw);
    expect(result.publicKeyHex).toBe(publicKeyToHex(result.publicKeyRaw));
    expect(result.publicKeyModule).toBe(publicKeyModule(result.publicKeyRaw));
    expect(path.basename(result.privateKeyPath)).toBe('ota-private-key.pem');
    expect(() => keygen(dir)).toThrow(/exists: refusing to replace an OTA signing key/);
    const replaced = keygen(dir, { force: true });
    expect(replaced.publicKeyRaw).not.toEqual(result.publicKeyRaw);
    expect(fs.statSync(replaced.privateKeyPath).mode & 0o777).toBe(0o600);
  });
});

describe('canonical form', () => {
  test('sorted keys, no whitespace: the exact bytes signed', () => {
    expect(canonicalManifest(manifest)).toBe(
      `{"board":"esp32-devkitc","securityVersion":1,"sha256":"${'ab'.repeat(32)}","size":1234,"url":"https://hub.local:8443/ota/esp32-devkitc/1.1.0.bin","version":"1.1.0"}`,
    );
    expect(Buffer.from(manifestSigningBytes(manifest)).toString('utf8')).toBe(canonicalManifest(manifest));
    expect(manifestDigest(manifest)).toEqual(new Uint8Array(createHash('sha256').update(canonicalManifest(manifest)).digest()));
  });

  test('independent of key order', () => {
    const reversed = Object.fromEntries(Object.entries(manifest).reverse()) as unknown as UpdateManifest;
    expect(canonicalManifest(reversed)).toBe(canonicalManifest(manifest));
  });
});

describe('signing and verification', () => {
  const envelope = signManifest(manifest, keys.privateKeyPem);

  test('the envelope: the manifest in canonical order and 64 bytes of r ‖ s in base64', () => {
    expect(Object.keys(envelope)).toEqual(['manifest', 'signature']);
    expect(Object.keys(envelope.manifest)).toEqual(['board', 'securityVersion', 'sha256', 'size', 'url', 'version']);
    expect(envelope.signature).toHaveLength(88);
    expect(Buffer.from(envelope.signature, 'base64')).toHaveLength(64);
  });

  test('verifies as the device will: SHA-256 of the canonical JSON, ECDSA P-256 over the digest', () => {
    expect(verifyManifest(envelope, keys.publicKeyRaw)).toEqual(manifest);
    const rs = new Uint8Array(Buffer.from(envelope.signature, 'base64'));
    expect(verifyP256(keys.publicKeyRaw, manifestDigest(manifest), rs)).toBe(true);
    // and OpenSSL agrees on the same bytes
    const spki = createPublicKey(publicKeyToPem(keys.publicKeyRaw));
    expect(verify('sha256', manifestSigningBytes(manifest), { key: spki, dsaEncoding: 'ieee-p1363' }, rs)).toBe(true);
  });

  test('survives a JSON round trip with the keys reordered (as a twin may deliver it)', () => {
    const delivered = JSON.parse(JSON.stringify({ signature: envelope.signature, manifest: Object.fromEntries(Object.entries(envelope.manifest).reverse()) }));
    expect(verifyManifest(delivered, keys.publicKeyRaw)).toEqual(manifest);
  });

  test.each<[string, (e: SignedManifest) => void]>([
    ['the version', (e) => (e.manifest.version = '1.1.1')],
    ['the board', (e) => (e.manifest.board = 'esp32-s3-devkitc-1')],
    ['the size', (e) => (e.manifest.size += 1)],
    ['the hash', (e) => (e.manifest.sha256 = `cd${e.manifest.sha256.slice(2)}`)],
    ['the url', (e) => (e.manifest.url = e.manifest.url.replace('hub.local', 'evil.example'))],
    ['the security version', (e) => (e.manifest.securityVersion = 0)],
  ])('tampering with %s breaks the signature', (_, tamper) => {
    const tampered = clone(envelope);
    tamper(tampered);
    expectManifestError(() => verifyManifest(tampered, keys.publicKeyRaw), 'bad-signature', /does not verify with this device's OTA public key: refused/);
  });

  test('any flipped bit of the signature breaks it', () => {
    const rs = Buffer.from(envelope.signature, 'base64');
    for (const [byte, bit] of [[0, 0], [31, 7], [32, 0], [63, 7], [17, 3], [50, 5]] as const) {
      const bad = Buffer.from(rs);
      bad[byte]! ^= 1 << bit;
      expectManifestError(() => verifyManifest({ ...envelope, signature: bad.toString('base64') }, keys.publicKeyRaw), 'bad-signature');
    }
  });

  test('another key\'s signature, or another key on the device, is refused', () => {
    expectManifestError(() => verifyManifest(envelope, otherKeys.publicKeyRaw), 'bad-signature');
    expectManifestError(() => verifyManifest(signManifest(manifest, otherKeys.privateKeyPem), keys.publicKeyRaw), 'bad-signature');
  });

  test.each<[string, unknown, RegExp]>([
    ['not an object', 'manifest', /envelope is not a JSON object/],
    ['an extra envelope field', { ...signManifest(manifest, keys.privateKeyPem), keyId: 1 }, /unknown fields "keyId"/],
    ['a signature of the wrong length', { manifest, signature: 'AAAA' }, /64 bytes \(r ‖ s\) in padded base64, 88 characters/],
    ['a signature that is not base64', { manifest, signature: `${'!'.repeat(86)}==` }, /padded base64/],
    ['a DER signature', { manifest, signature: Buffer.alloc(70).toString('base64') }, /88 characters/],
    ['an extra manifest field', { manifest: { ...manifest, force: true }, signature: 'A'.repeat(86) + '==' }, /unknown field "force"/],
    ['a missing field', { manifest: Object.fromEntries(Object.entries(manifest).filter(([key]) => key !== 'url')), signature: 'A'.repeat(86) + '==' }, /Malformed update manifest: missing field "url"$/],
    ['a size that is a string', { manifest: { ...manifest, size: '1234' }, signature: 'A'.repeat(86) + '==' }, /size "1234" is not a positive integer/],
    ['an upper-case hash', { manifest: { ...manifest, sha256: 'AB'.repeat(32) }, signature: 'A'.repeat(86) + '==' }, /sha256 "ABAB.*" is not 64 lowercase hex digits/],
    ['a version that is not semver', { manifest: { ...manifest, version: 'v1.1' }, signature: 'A'.repeat(86) + '==' }, /version "v1.1" is not a semantic version/],
    ['an ftp url', { manifest: { ...manifest, url: 'ftp://x/y' }, signature: 'A'.repeat(86) + '==' }, /url "ftp:\/\/x\/y"/],
    ['a url with a space', { manifest: { ...manifest, url: 'https://x/a b' }, signature: 'A'.repeat(86) + '==' }, /printable ASCII/],
    ['a negative security version', { manifest: { ...manifest, securityVersion: -1 }, signature: 'A'.repeat(86) + '==' }, /securityVersion -1/],
    ['a security version above u32', { manifest: { ...manifest, securityVersion: 2 ** 32 }, signature: 'A'.repeat(86) + '==' }, /securityVersion 4294967296 is not an integer from 0 to 4294967295/],
    ['a size above u32', { manifest: { ...manifest, size: 2 ** 32 }, signature: 'A'.repeat(86) + '==' }, /size 4294967296 is not a positive integer up to 4294967295/],
  ])('malformed: %s', (_, envelopeValue, message) => {
    expectManifestError(() => verifyManifest(envelopeValue, keys.publicKeyRaw), 'malformed', message);
  });

  test('a bad public key on the device is its own error', () => {
    expectManifestError(() => verifyManifest(envelope, keys.publicKeyRaw.subarray(1)), 'bad-public-key', /65 bytes/);
  });

  test('signing refuses a malformed manifest and a bad private key', () => {
    expectManifestError(() => signManifest({ ...manifest, size: 0 }, keys.privateKeyPem), 'malformed', /size 0/);
    expectManifestError(() => signManifest(manifest, 'not a key'), 'bad-private-key', /Not a private key PEM/);
  });
});

describe('signImage (thingkit ota sign) and the device-side checks', () => {
  const bundle = 'globalThis.v = "1.1.0";';

  test('from a bundle: the image, and a manifest with its size and SHA-256 that verifies', () => {
    const { image, envelope } = signImage({ bundle, version: '1.1.0', board: 'esp32-devkitc', url: manifest.url, privateKeyPem: keys.privateKeyPem, securityVersion: 2 });
    expect(envelope.manifest).toEqual({
      board: 'esp32-devkitc',
      securityVersion: 2,
      sha256: createHash('sha256').update(image).digest('hex'),
      size: image.length,
      url: manifest.url,
      version: '1.1.0',
    });
    const verified = verifyManifest(envelope, keys.publicKeyRaw);
    expect(checkImageAgainstManifest(image, verified).version).toBe('1.1.0');
  });

  test('from an image file: the header supplies the fields; given ones must agree', () => {
    const file = `${newPath()}.img`;
    fs.writeFileSync(file, buildImage({ version: '1.2.0', board: 'esp32-devkitc', bundle, securityVersion: 4 }));
    const { image, envelope } = signImage({ imageFile: file, url: manifest.url, privateKeyPem: keys.privateKeyPem });
    expect(image).toEqual(new Uint8Array(fs.readFileSync(file)));
    expect(envelope.manifest).toMatchObject({ version: '1.2.0', board: 'esp32-devkitc', securityVersion: 4 });
    expectManifestError(() => signImage({ imageFile: file, version: '1.3.0', url: manifest.url, privateKeyPem: keys.privateKeyPem }), 'image-mismatch', /has version "1.2.0", not "1.3.0"/);
    expectManifestError(() => signImage({ imageFile: file, board: 'm5stack-core2', url: manifest.url, privateKeyPem: keys.privateKeyPem }), 'image-mismatch', /has board/);
  });

  test('needs exactly one of image file and bundle, and version and board with a bundle', () => {
    expectManifestError(() => signImage({ url: manifest.url, privateKeyPem: keys.privateKeyPem }), 'malformed', /either an image file or a bundle/);
    expectManifestError(() => signImage({ bundle, imageFile: 'x', url: manifest.url, privateKeyPem: keys.privateKeyPem }), 'malformed', /either/);
    expectManifestError(() => signImage({ bundle, board: 'esp32-devkitc', url: manifest.url, privateKeyPem: keys.privateKeyPem }), 'malformed', /needs its version and board/);
  });

  test('tampered image: a flipped byte, a truncated download, an image other than the one signed', () => {
    const { image, envelope } = signImage({ bundle, version: '1.1.0', board: 'esp32-devkitc', url: manifest.url, privateKeyPem: keys.privateKeyPem });
    const m = verifyManifest(envelope, keys.publicKeyRaw);
    const flipped = image.slice();
    flipped[image.length - 1]! ^= 0x20;
    expectManifestError(() => checkImageAgainstManifest(flipped, m), 'image-mismatch', /The image's SHA-256 is [0-9a-f]{64}; the manifest says/);
    expectManifestError(() => checkImageAgainstManifest(image.subarray(0, 100), m), 'image-mismatch', /The image is 100 bytes; the manifest says/);
    // A signer who signed a manifest whose fields disagree with the image header (a mistake the device still catches)
    const other = buildImage({ version: '1.0.9', board: 'esp32-devkitc', bundle });
    const lying = signManifest({ ...m, size: other.length, sha256: createHash('sha256').update(other).digest('hex') }, keys.privateKeyPem);
    expectManifestError(() => checkImageAgainstManifest(other, verifyManifest(lying, keys.publicKeyRaw)), 'image-mismatch', /header's version is "1.0.9"; the manifest says "1.1.0"/);
  });

  test('wrong board, old version, lower security version: verified, then refused by policy', () => {
    const running = { board: 'esp32-devkitc', version: '1.1.0', securityVersion: 1 };
    const offer = (change: Partial<UpdateManifest>) => verifyManifest(signManifest({ ...manifest, ...change }, keys.privateKeyPem), keys.publicKeyRaw);
    expect(checkManifestForDevice(offer({ version: '1.2.0' }), running)).toEqual({ allowed: true });
    expect(checkManifestForDevice(offer({ version: '1.2.0', board: 'esp32-c3-devkitm-1' }), running)).toMatchObject({ allowed: false, code: 'wrong-board' });
    expect(checkManifestForDevice(offer({ version: '1.0.0' }), running)).toMatchObject({ allowed: false, code: 'not-newer' });
    expect(checkManifestForDevice(offer({ version: '1.1.0' }), running)).toMatchObject({ allowed: false, code: 'not-newer' });
    expect(checkManifestForDevice(offer({ version: '1.2.0', securityVersion: 0 }), running)).toMatchObject({ allowed: false, code: 'security-version' });
    expect(checkManifestForDevice(offer({ version: '1.2.0', securityVersion: 1 }), running, { minSecurityVersion: 3 })).toMatchObject({ allowed: false, code: 'security-version' });
    expect(checkUpdateAllowed(running, offer({ version: '1.2.0' }))).toEqual({ allowed: true });
  });
});

describe('agrees with the firmware\'s side (firmware/ota/manifest.ts)', () => {
  test('a host-signed envelope parses and verifies on the device path, with the same canonical bytes and the HAL-shaped crypto', () => {
    const envelope = signImage({ bundle: 'x', version: '2.0.0', board: 'esp32-devkitc', url: manifest.url, privateKeyPem: keys.privateKeyPem, securityVersion: 3 }).envelope;
    const delivered = JSON.parse(JSON.stringify(envelope)) as unknown;
    const parsed = firmwareManifest.parseEnvelope(JSON.stringify(delivered));
    expect(parsed.canonical).toBe(canonicalManifest(envelope.manifest));
    expect(parsed.manifest).toEqual(envelope.manifest);
    const crypto = {
      sha256: () => {
        const hash = createHash('sha256');
        return { update: (bytes: Uint8Array) => void hash.update(bytes), finish: () => new Uint8Array(hash.digest()) };
      },
      ecdsaP256Verify: verifyP256,
    };
    const text = {
      encode: (value: string) => new TextEncoder().encode(value),
      fromBase64: (value: string) => new Uint8Array(Buffer.from(value, 'base64')),
      toHex: (bytes: Uint8Array) => Buffer.from(bytes).toString('hex'),
    };
    expect(firmwareManifest.verifyEnvelopeSignature(parsed, keys.publicKeyRaw, crypto, text)).toBe(Buffer.from(manifestDigest(envelope.manifest)).toString('hex'));
    const tampered = firmwareManifest.parseEnvelope({ ...envelope, manifest: { ...envelope.manifest, version: '2.0.1' } });
    expect(() => firmwareManifest.verifyEnvelopeSignature(tampered, keys.publicKeyRaw, crypto, text)).toThrow(/does not verify/);
  });
});

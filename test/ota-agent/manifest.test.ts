/**
 * The device's manifest code against the simulator's (host-sim/ota/manifest.ts): the same
 * canonical bytes, the same verdicts; semver ordering; the ESP32 HAL's pure helpers.
 */
import fc from 'fast-check';
import { canonicalManifest, manifestProblems, parseEnvelope, publicKeyProblem, verifyEnvelopeSignature } from '../../firmware/ota/manifest';
import { OTA_PUBLIC_KEY } from '../../firmware/ota/public-key';
import { compareVersions, parseSemVer } from '../../firmware/ota/semver';
import { retryDelay } from '../../firmware/ota/retry';
import { appStateFromEspIdf, espErrorName, SectorMap, sectorsToErase } from '../../hal/moddable/ota-slot';
import { compareSemver as hostCompare } from '../../host-sim/ota/image';
import * as host from '../../host-sim/ota/manifest';
import { FakeDevice, KEYS, makeUpdate, OTHER_KEYS, portsFor } from './fake-device';

const ports = portsFor(new FakeDevice());

describe('manifest: device and simulator agree', () => {
  test('canonical JSON is byte for byte the one the simulator signs', () => {
    const update = makeUpdate('3.2.1-beta.4+build.7', { securityVersion: 4_000_000_000, url: 'http://10.0.0.2:8080/fw.bin?a=1&b=%2F' });
    const parsed = parseEnvelope(update.envelope);
    expect(parsed.canonical).toBe(host.canonicalManifest(update.manifest));
    expect(canonicalManifest(parsed.manifest)).toBe(Buffer.from(host.manifestSigningBytes(update.manifest)).toString('utf8'));
    expect(verifyEnvelopeSignature(parsed, KEYS.publicKeyRaw, ports.crypto, ports.text)).toBe(Buffer.from(host.manifestDigest(update.manifest)).toString('hex'));
  });

  test('the same verdict as the simulator on random manifests', () => {
    const field = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 5 }), fc.constant(null), fc.boolean());
    fc.assert(
      fc.property(
        fc.record(
          {
            version: fc.oneof(fc.constantFrom('1.0.0', '2.1.3-rc.1', '01.0.0', '1.0', 'x'.repeat(40), '1.2.3+b'), field),
            board: fc.oneof(fc.constantFrom('esp32-devkitc', 'bad board', 'a'.repeat(33)), field),
            size: fc.oneof(fc.constantFrom(0, 1, 2 ** 32, 2 ** 32 - 1, 1.5), field),
            sha256: fc.oneof(fc.constantFrom('a'.repeat(64), 'A'.repeat(64), 'a'.repeat(63)), field),
            url: fc.oneof(fc.constantFrom('https://x/y', 'http://h:1/p?q', 'ftp://x', 'https://a b'), field),
            securityVersion: fc.oneof(fc.constantFrom(0, 7, 2 ** 32, -1), field),
            extra: field,
          },
          { requiredKeys: [] },
        ),
        (manifest) => {
          expect(manifestProblems(manifest).length === 0).toBe(host.manifestProblems(manifest).length === 0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('a manifest signed by the simulator verifies on the device; by another key it does not', () => {
    const update = makeUpdate('1.0.1');
    expect(() => verifyEnvelopeSignature(parseEnvelope(update.envelope), KEYS.publicKeyRaw, ports.crypto, ports.text)).not.toThrow();
    expect(() => verifyEnvelopeSignature(parseEnvelope(update.envelope), OTHER_KEYS.publicKeyRaw, ports.crypto, ports.text)).toThrow(/does not verify/);
    expect(() => host.verifyManifest(update.envelope, KEYS.publicKeyRaw)).not.toThrow();
  });

  test('the built-in key is the fail-closed placeholder until `thingkit ota keygen` replaces it', () => {
    expect(OTA_PUBLIC_KEY).toHaveLength(65);
    expect(publicKeyProblem(OTA_PUBLIC_KEY)).toMatch(/thingkit ota keygen/);
    expect(publicKeyProblem(KEYS.publicKeyRaw)).toBeUndefined();
    expect(publicKeyProblem(new Uint8Array(64))).toMatch(/65 bytes/);
  });

  test('envelope size is bounded', () => {
    expect(() => parseEnvelope('{' + ' '.repeat(5000) + '}')).toThrow(/at most 4096/);
  });
});

describe('semantic versions', () => {
  const versions = ['0.9.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0', '2.0.0'];

  test('the spec precedence order, and the simulator agrees', () => {
    for (let i = 0; i < versions.length; i++) {
      for (let j = 0; j < versions.length; j++) {
        const expected = Math.sign(i - j);
        expect(Math.sign(compareVersions(versions[i], versions[j]))).toBe(expected);
        expect(hostCompare(versions[i], versions[j])).toBe(expected);
      }
    }
    expect(compareVersions('1.0.0+a', '1.0.0+b')).toBe(0);
    for (const bad of ['1.0', '01.0.0', '1.0.0-', 'v1.0.0', '1.0.0-01']) expect(parseSemVer(bad)).toBeUndefined();
  });
});

describe('retry delays', () => {
  test('equal jitter: between half and all of the doubling ceiling, capped', () => {
    const policy = { baseMs: 1000, capMs: 8000 };
    expect(retryDelay(policy, 1, 0)).toBe(500);
    expect(retryDelay(policy, 1, 0.999999)).toBe(999);
    expect(retryDelay(policy, 3, 0)).toBe(2000);
    expect(retryDelay(policy, 10, 0.5)).toBe(6000);
    expect(retryDelay(policy, 1000, 0.5)).toBe(6000);
    expect(retryDelay(policy, 2, Number.NaN)).toBe(1000);
  });
});

describe('ESP32 OTA HAL helpers (hal/moddable/ota-slot.ts)', () => {
  test('esp_ota_img_states_t and esp_err_t names', () => {
    expect([0, 1, 2, 3, 4, -1, 0xffffffff].map(appStateFromEspIdf)).toEqual(['new', 'pending-verify', 'valid', 'invalid', 'aborted', 'undefined', 'undefined']);
    expect(espErrorName(0x1503)).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    expect(espErrorName(0x1234)).toBe('esp_err_t 0x1234');
  });

  test('a fresh write erases each sector once, when first reached', () => {
    const map = new SectorMap(16);
    expect(sectorsToErase(map, 4096, 0, 100)).toEqual([0]);
    expect(sectorsToErase(map, 4096, 100, 3996)).toEqual([]);
    expect(sectorsToErase(map, 4096, 4100, 10_000)).toEqual([1, 2, 3]);
    expect(sectorsToErase(map, 4096, 14_100, 0)).toEqual([]);
    expect(sectorsToErase(map, 4096, 40_000, 1)).toEqual([9]); // a gap: only what is written
  });

  test('a resumed write keeps the prefix, aligned or not', () => {
    const aligned = new SectorMap(16);
    expect(sectorsToErase(aligned, 4096, 8192, 5000, 8192)).toEqual([2, 3]);
    const unaligned = new SectorMap(16);
    // Bytes 8192-9999 of sector 2 were written before the restart: sector 2 stays.
    expect(sectorsToErase(unaligned, 4096, 10_000, 5000, 10_000)).toEqual([3]);
    expect(sectorsToErase(unaligned, 4096, 0, 10, undefined)).toEqual([]);
  });
});

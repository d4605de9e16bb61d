import fc from 'fast-check';
import { createHash } from 'node:crypto';
import type { BoardDefinition } from '../../hal/board';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { crc32 } from '../../firmware/codec/crc32';
import { PartitionView } from '../../host-sim/flash/partition';
import {
  buildImage,
  bundleSource,
  checkUpdateAllowed,
  compareSemver,
  IMAGE_HEADER_SIZE,
  ImageError,
  isSemver,
  parseImage,
  parseImageHeader,
  parseSemver,
  readImageFromSlot,
  writeImageToSlot,
  type ImageErrorCode,
} from '../../host-sim/ota/image';
import { useTempDir } from '../flash/temp-dir';

const newPath = useTempDir();

const bundle = 'globalThis.answer = 42;\n';
const image = buildImage({ version: '1.2.3-rc.1+build.7', board: 'esp32-devkitc', bundle, securityVersion: 0x01020304 });

function expectImageError(run: () => unknown, code: ImageErrorCode, message: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ImageError);
  expect((error as ImageError).code).toBe(code);
  expect((error as ImageError).message).toMatch(message);
}

/** Rewrites the header CRC after an edit, to reach the checks behind it. */
function resealHeader(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(124, crc32(bytes.subarray(0, 124)), true);
  return bytes;
}

describe('image layout', () => {
  test('header field by field, little-endian, then the bundle', () => {
    const view = new DataView(image.buffer);
    expect(Array.from(image.subarray(0, 4))).toEqual([0x54, 0x4b, 0x41, 0x49]); // "TKAI"
    expect(view.getUint16(4, true)).toBe(1); // format version
    expect(view.getUint16(6, true)).toBe(128); // header length
    expect(view.getUint32(8, true)).toBe(bundle.length); // payload length
    expect(Array.from(image.subarray(12, 16))).toEqual([0x04, 0x03, 0x02, 0x01]); // security version, LE
    expect(Buffer.from(image.subarray(16, 48)).toString('hex')).toBe(createHash('sha256').update(bundle).digest('hex'));
    expect(Buffer.from(image.subarray(48, 80)).toString('latin1')).toBe('1.2.3-rc.1+build.7'.padEnd(32, '\0'));
    expect(Buffer.from(image.subarray(80, 112)).toString('latin1')).toBe('esp32-devkitc'.padEnd(32, '\0'));
    expect(image.subarray(112, 124).every((b) => b === 0)).toBe(true); // reserved
    expect(view.getUint32(124, true)).toBe(crc32(image.subarray(0, 124)));
    expect(Buffer.from(image.subarray(IMAGE_HEADER_SIZE)).toString('utf8')).toBe(bundle);
    expect(image.length).toBe(128 + bundle.length);
  });

  test('parseImage returns the fields and the bundle', () => {
    const parsed = parseImage(image);
    expect(parsed).toMatchObject({
      formatVersion: 1,
      headerLength: 128,
      payloadLength: bundle.length,
      securityVersion: 0x01020304,
      version: '1.2.3-rc.1+build.7',
      board: 'esp32-devkitc',
      byteLength: image.length,
    });
    expect(bundleSource(parsed)).toBe(bundle);
  });

  test('round trip for any bundle, version and security version', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 999 }), fc.nat({ max: 999 }), fc.integer({ min: 0, max: 0xffffffff }), (payload, minor, patch, sv) => {
        const version = `2.${minor}.${patch}`;
        const parsed = parseImage(buildImage({ version, board: 'b', bundle: payload, securityVersion: sv }));
        expect(parsed.payload).toEqual(payload);
        expect([parsed.version, parsed.securityVersion]).toEqual([version, sv]);
      }),
    );
  });

  test('the version and the board may fill their 32 bytes, no more', () => {
    const version = `1.0.0-${'a'.repeat(26)}`; // 32 characters
    expect(parseImage(buildImage({ version, board: 'b'.repeat(32), bundle })).version).toBe(version);
    expectImageError(() => buildImage({ version: `${version}b`, board: 'b', bundle }), 'bad-field', /is 33 bytes of UTF-8; the header holds 32/);
    expectImageError(() => buildImage({ version: '1.0.0', board: 'b'.repeat(33), bundle }), 'bad-field', /board "b+" is 33 bytes/);
  });

  test.each<[string, () => unknown, RegExp]>([
    ['a version that is not semver', () => buildImage({ version: '1.0', board: 'b', bundle }), /version "1.0" is not a semantic version/],
    ['an empty board', () => buildImage({ version: '1.0.0', board: '', bundle }), /board must be a non-empty string/],
    ['a negative security version', () => buildImage({ version: '1.0.0', board: 'b', bundle, securityVersion: -1 }), /security version -1 is not an integer/],
    ['a fractional security version', () => buildImage({ version: '1.0.0', board: 'b', bundle, securityVersion: 1.5 }), /security version 1.5/],
    ['a security version above u32', () => buildImage({ version: '1.0.0', board: 'b', bundle, securityVersion: 2 ** 32 }), /security version 4294967296/],
  ])('buildImage refuses %s', (_, run, message) => {
    expectImageError(run, 'bad-field', message);
  });
});

describe('parse errors are clear', () => {
  test('bad magic, with a hint for an ESP-IDF binary', () => {
    const bad = image.slice();
    bad[0] = 0x00;
    expectImageError(() => parseImage(bad), 'bad-magic', /image has bad magic 004b4149, expected 544b4149 \("TKAI"\): not a thingkit app image$/);
    bad[0] = 0xe9;
    expectImageError(() => parseImage(bad), 'bad-magic', /0xE9 starts an ESP-IDF app binary/);
  });

  test('erased flash', () => {
    expectImageError(() => parseImage(new Uint8Array(200).fill(0xff)), 'empty', /all 0xFF \(erased flash\): there is no image/);
  });

  test('truncated: in the header, and in the payload', () => {
    expectImageError(() => parseImage(image.subarray(0, 2)), 'truncated', /2 bytes, less than the 128-byte header/);
    expectImageError(() => parseImage(image.subarray(0, 100)), 'truncated', /100 bytes, less than the 128-byte header/);
    expectImageError(() => parseImage(image.subarray(0, image.length - 1)), 'truncated', new RegExp(`${image.length - 1} bytes, but its header promises 128 \\+ ${bundle.length} = ${image.length}`));
  });

  test('trailing bytes', () => {
    const longer = new Uint8Array(image.length + 3);
    longer.set(image);
    expectImageError(() => parseImage(longer), 'trailing-bytes', /3 more than its header's/);
  });

  test('payload hash mismatch: any flipped payload bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: IMAGE_HEADER_SIZE, max: image.length - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const bad = image.slice();
        bad[at]! ^= 1 << bit;
        expectImageError(() => parseImage(bad), 'hash-mismatch', /payload SHA-256 mismatch: header says [0-9a-f]{64}, the \d+ bytes hash to [0-9a-f]{64}; the image is corrupt/);
      }),
    );
  });

  test('header corrupt: any flipped header bit after the format fields is caught by the CRC', () => {
    fc.assert(
      fc.property(fc.integer({ min: 6, max: IMAGE_HEADER_SIZE - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const bad = image.slice();
        bad[at]! ^= 1 << bit;
        expectImageError(() => parseImage(bad), 'header-corrupt', /header CRC mismatch/);
      }),
    );
    const bad = image.slice();
    bad[50] = 0x39;
    expectImageError(() => parseImage(bad), 'header-corrupt', /header CRC mismatch: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}; the header is corrupt/);
  });

  test('another format version or header length', () => {
    const v2 = image.slice();
    v2[4] = 2;
    expectImageError(() => parseImage(v2), 'unsupported-format', /image format version 2; this simulator reads version 1/);
    const longHeader = image.slice();
    longHeader[6] = 200;
    expectImageError(() => parseImage(resealHeader(longHeader)), 'unsupported-format', /declares a 200-byte header/);
  });

  test('a version field that is not semver even though the CRC matches', () => {
    const bad = image.slice();
    bad.set(new Uint8Array(32), 48);
    bad.set(Buffer.from('latest'), 48);
    expectImageError(() => parseImageHeader(resealHeader(bad)), 'bad-field', /version "latest" is not a semantic version/);
  });
});

describe('images in slots', () => {
  const board: BoardDefinition = {
    name: 'test-slots',
    target: 'esp32',
    moddablePlatform: 'esp32',
    flashSize: 0x30000,
    i2c: [],
    sensors: [],
    partitions: [
      { label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 },
      { label: 'ota_0', type: 'app', subtype: 'ota_0', offset: 0x10000, size: 0x10000 },
      { label: 'ota_1', type: 'app', subtype: 'ota_1', offset: 0x20000, size: 0x10000 },
    ],
  };
  function withSlot(run: (slot: PartitionView, flash: FlashImage) => void): void {
    const flash = FlashImage.open(newPath(), board);
    try {
      run(new PartitionView(flash, flash.partitions().find((p) => p.label === 'ota_1')!), flash);
    } finally {
      flash.close();
    }
  }
  const big = buildImage({ version: '1.0.0', board: 'test-slots', bundle: 'x'.repeat(9000) });
  const small = buildImage({ version: '1.0.1', board: 'test-slots', bundle: 'y'.repeat(100) });

  test('written at offset 0 with erased flash after it; read back and checked', () => {
    withSlot((slot, flash) => {
      writeImageToSlot(slot, big);
      writeImageToSlot(slot, small);
      expect(readImageFromSlot(slot).version).toBe('1.0.1');
      expect(slot.read(slot.byteLength - small.length, small.length).every((b) => b === 0xff)).toBe(true);
      expect(flash.read(0x20000, small.length)).toEqual(small);
      expect(flash.stats.bitSetAttempts).toBe(0);
    });
  });

  test('erase: "image" erases only the sectors the image covers; stale bytes after it do not matter', () => {
    withSlot((slot, flash) => {
      writeImageToSlot(slot, big);
      const erases = flash.stats.erases;
      writeImageToSlot(slot, small, { erase: 'image' });
      expect(flash.stats.erases - erases).toBe(1);
      expect(slot.read(1, 0x1000 + 10)[0]).toBe('x'.charCodeAt(0)); // old bytes in the second sector
      expect(readImageFromSlot(slot).version).toBe('1.0.1');
    });
  });

  test('an erased slot, a torn write and a header that promises more than the slot holds', () => {
    withSlot((slot) => {
      expectImageError(() => readImageFromSlot(slot), 'empty', /^slot ota_1 is all 0xFF \(erased flash\): there is no image$/);
      writeImageToSlot(slot, big.subarray(0, 4096), { validate: false });
      expectImageError(() => readImageFromSlot(slot), 'hash-mismatch', /slot ota_1 payload SHA-256 mismatch/);
      const lying = big.slice(0, IMAGE_HEADER_SIZE);
      new DataView(lying.buffer).setUint32(8, 0x20000, true);
      writeImageToSlot(slot, resealHeader(lying), { validate: false });
      expectImageError(() => readImageFromSlot(slot), 'truncated', /slot ota_1: the header promises 131200 bytes of image, more than the slot's 65536/);
    });
  });

  test('refuses an image too large for the slot, a corrupt image, and a data partition', () => {
    withSlot((slot, flash) => {
      const huge = buildImage({ version: '1.0.0', board: 'test-slots', bundle: new Uint8Array(0x10000) });
      expectImageError(() => writeImageToSlot(slot, huge), 'too-large', /Image of 65664 bytes does not fit slot ota_1 \(65536 bytes\)/);
      const corrupt = small.slice();
      corrupt[200] ^= 1;
      expectImageError(() => writeImageToSlot(slot, corrupt), 'hash-mismatch', /SHA-256 mismatch/);
      const otadata = new PartitionView(flash, flash.partitions().find((p) => p.label === 'otadata')!);
      expectImageError(() => writeImageToSlot(otadata, small), 'bad-field', /"otadata" is a data partition, not an app slot/);
      expect(flash.stats.writes).toBe(0);
    });
  });
});

describe('semantic versions', () => {
  test('precedence, as in semver.org §11', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect([ordered[i], ordered[j], compareSemver(ordered[i]!, ordered[j]!)]).toEqual([ordered[i], ordered[j], Math.sign(i - j)]);
      }
    }
    expect(compareSemver('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
  });

  test.each(['1', '1.0', '01.0.0', '1.0.0-', '1.0.0-01', 'v1.0.0', '1.0.0 ', ' 1.0.0', '1.0.0-a..b', '99999999999999999999.0.0'])('"%s" is not a semantic version', (text) => {
    expect(isSemver(text)).toBe(false);
    expect(() => parseSemver(text)).toThrow(RangeError);
  });

  test('parses prerelease identifiers as numbers when numeric', () => {
    expect(parseSemver('1.2.3-beta.11.x-y+sha.5114f85')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: ['beta', 11, 'x-y'], build: ['sha', '5114f85'] });
  });
});

describe('update policy: board, no downgrade, anti-rollback', () => {
  const running = { board: 'esp32-devkitc', version: '1.4.0', securityVersion: 2 };
  test.each<[string, { board?: string; version?: string; securityVersion?: number }, number | undefined, string | undefined, RegExp | undefined]>([
    ['a newer version', { version: '1.5.0' }, undefined, undefined, undefined],
    ['a patch release', { version: '1.4.1' }, undefined, undefined, undefined],
    ['a higher security version', { version: '2.0.0', securityVersion: 3 }, undefined, undefined, undefined],
    ['another board', { board: 'esp32-s3-devkitc-1', version: '1.5.0' }, undefined, 'wrong-board', /update is for board "esp32-s3-devkitc-1", this device is "esp32-devkitc"/],
    ['the same version', { version: '1.4.0' }, undefined, 'not-newer', /1.4.0 is the running version/],
    ['an older version', { version: '1.3.9' }, undefined, 'not-newer', /1.3.9 is older than the running 1.4.0: no downgrades/],
    ['a prerelease of the running version', { version: '1.4.0-rc.1' }, undefined, 'not-newer', /older/],
    ['a lower security version, even with a newer semver', { version: '9.0.0', securityVersion: 1 }, undefined, 'security-version', /security version 1 is below this device's 2 \(anti-rollback\)/],
    ['a security version below the device\'s stored floor', { version: '1.5.0', securityVersion: 2 }, 5, 'security-version', /below this device's 5/],
    ['a version that is not semver', { version: 'next' }, undefined, 'bad-field', /not a semantic version/],
  ])('%s', (_, change, floor, code, message) => {
    const decision = checkUpdateAllowed(running, { ...running, ...change }, { minSecurityVersion: floor });
    if (code === undefined) {
      expect(decision).toEqual({ allowed: true });
    } else {
      expect(decision).toMatchObject({ allowed: false, code });
      expect((decision as { reason: string }).reason).toMatch(message!);
    }
  });

  test('a release is newer than its own prerelease', () => {
    expect(checkUpdateAllowed({ ...running, version: '2.0.0-rc.2' }, { ...running, version: '2.0.0' })).toEqual({ allowed: true });
  });
});

import * as fs from 'node:fs';
import fc from 'fast-check';
import { KvError, type KvValue } from '../../hal/kv';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { KvStore } from '../../host-sim/flash/kv-store';
import { armPowerCut, PowerCutError } from '../../host-sim/flash/power-cut';
import { smallBoard } from './small-board';
import { useTempDir } from './temp-dir';

const newPath = useTempDir();

/** The store of the device whose flash is `file`, as after a reboot. */
function boot(file: string): { image: FlashImage; kv: KvStore } {
  const image = FlashImage.open(file, smallBoard);
  return { image, kv: KvStore.openInImage(image) };
}

function withStore(run: (kv: KvStore, image: FlashImage, file: string) => void): void {
  const file = newPath();
  const { image, kv } = boot(file);
  try {
    run(kv, image, file);
  } finally {
    image.close();
  }
}

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('KeyValue behaviour', () => {
  test('set, get, delete, keys', () => {
    withStore((kv) => {
      expect(kv.get('wifi', 'ssid')).toBeUndefined();
      expect(kv.keys('wifi')).toEqual([]);
      kv.set('wifi', 'ssid', 'home');
      kv.set('wifi', 'password', 'secret');
      kv.set('app', 'interval', 60);
      expect(kv.get('wifi', 'ssid')).toBe('home');
      expect(kv.keys('wifi')).toEqual(['password', 'ssid']);
      kv.set('wifi', 'ssid', 'office');
      expect(kv.get('wifi', 'ssid')).toBe('office');
      kv.delete('wifi', 'ssid');
      kv.delete('wifi', 'never-set');
      expect(kv.get('wifi', 'ssid')).toBeUndefined();
      expect(kv.keys('wifi')).toEqual(['password']);
      expect(kv.keys('app')).toEqual(['interval']);
      expect(kv.get('app', 'ssid')).toBeUndefined();
    });
  });

  test('every value type comes back as it went in, also after a reboot', () => {
    const values: Record<string, KvValue> = {
      yes: true,
      no: false,
      zero: 0,
      negative: -123456789,
      big: Number.MAX_SAFE_INTEGER,
      int64min: -(2 ** 63),
      empty: '',
      text: 'héllo wörld ✓ 𝄞',
      blob: new Uint8Array([0, 1, 2, 0xff]),
      emptyBlob: new Uint8Array(0),
    };
    withStore((kv, image, file) => {
      for (const [key, value] of Object.entries(values)) kv.set('types', key, value);
      for (const [key, value] of Object.entries(values)) expect(kv.get('types', key)).toEqual(value);
      image.close();
      const again = boot(file);
      for (const [key, value] of Object.entries(values)) expect(again.kv.get('types', key)).toEqual(value);
      expect(again.kv.get('types', 'blob')).toBeInstanceOf(Uint8Array);
      expect(typeof again.kv.get('types', 'yes')).toBe('boolean');
      again.image.close();
    });
  });

  test('byte values are copied in and out', () => {
    withStore((kv) => {
      const value = new Uint8Array([1, 2, 3]);
      kv.set('d', 'k', value);
      value[0] = 9;
      const out = kv.get('d', 'k') as Uint8Array;
      out[1] = 9;
      expect(kv.get('d', 'k')).toEqual(new Uint8Array([1, 2, 3]));
    });
  });

  test('setting the value a key already has writes nothing', () => {
    withStore((kv, image) => {
      kv.set('d', 'k', new Uint8Array([1]));
      const writes = image.stats.writes;
      kv.set('d', 'k', new Uint8Array([1]));
      expect(image.stats.writes).toBe(writes);
    });
  });
});

describe('NVS limits', () => {
  test.each<[string, () => [string, string, KvValue], RegExp]>([
    ['a 16-character key', () => ['d', 'k'.repeat(16), 1], /KV key "kkkkkkkkkkkkkkkk" must have 1 to 15 characters \(ESP32 NVS limit\)/],
    ['a 16-character domain', () => ['d'.repeat(16), 'k', 1], /KV domain .* must have 1 to 15 characters/],
    ['an empty key', () => ['d', '', 1], /must have 1 to 15 characters/],
    ['a 4001-byte value', () => ['d', 'k', new Uint8Array(4001)], /is 4001 bytes; NVS allows at most 4000/],
    ['a string of 4001 UTF-8 bytes', () => ['d', 'k', 'é'.repeat(2000) + 'x'], /is 4001 bytes/],
    ['1.5', () => ['d', 'k', 1.5], /NVS stores no floating-point numbers; store an integer \(scaled\) or a string/],
    ['NaN', () => ['d', 'k', Number.NaN], /floating-point/],
    ['2^63, beyond i64', () => ['d', 'k', 2 ** 63], /at most 64 bits/],
  ])('%s is refused with a KvError that says what to do', (_, entry, message) => {
    withStore((kv, image) => {
      const [domain, key, value] = entry();
      expect(() => kv.set(domain, key, value)).toThrow(KvError);
      expect(() => kv.set(domain, key, value)).toThrow(message);
      expect(image.stats.writes).toBe(1); // the format's header only
    });
  });

  test('values at the limits are stored', () => {
    withStore((kv, image, file) => {
      kv.set('d'.repeat(15), 'k'.repeat(15), new Uint8Array(4000).fill(7));
      kv.set('d', 'text', 'é'.repeat(2000));
      image.close();
      const again = boot(file);
      expect(again.kv.get('d'.repeat(15), 'k'.repeat(15))).toEqual(new Uint8Array(4000).fill(7));
      expect(again.kv.get('d', 'text')).toBe('é'.repeat(2000));
      again.image.close();
    });
  });
});

describe('persistence', () => {
  test('survives reboots, deletions included', () => {
    withStore((kv, image, file) => {
      kv.set('a', 'one', 1);
      kv.set('a', 'two', 2);
      kv.delete('a', 'one');
      image.close();
      const second = boot(file);
      expect(second.kv.keys('a')).toEqual(['two']);
      second.kv.set('a', 'three', 3);
      second.image.close();
      const third = boot(file);
      expect(third.kv.keys('a')).toEqual(['three', 'two']);
      expect(third.kv.get('a', 'three')).toBe(3);
      third.image.close();
    });
  });

  test('only ever writes erased flash', () => {
    withStore((kv, image) => {
      for (let i = 0; i < 200; i++) kv.set('d', `k${i % 7}`, bytes(300, i));
      expect(image.stats.erases).toBeGreaterThan(4);
      expect(image.stats.bitSetAttempts).toBe(0);
    });
  });

  test('a torn record at the tail is ignored, and later writes are kept', () => {
    withStore((kv, image, file) => {
      kv.set('d', 'a', 'first');
      kv.set('d', 'b', 'second');
      armPowerCut(image, 0, () => 0.5);
      expect(() => kv.set('d', 'c', 'third, never completed')).toThrow(PowerCutError);
      expect(() => kv.get('d', 'a')).toThrow(/unusable after a flash failure.*open it again/);
      image.close();

      const rebooted = boot(file);
      expect(rebooted.kv.keys('d')).toEqual(['a', 'b']);
      rebooted.kv.set('d', 'd', 'fourth');
      rebooted.image.close();

      const again = boot(file);
      expect(again.kv.keys('d')).toEqual(['a', 'b', 'd']);
      expect(again.kv.get('d', 'd')).toBe('fourth');
      expect(again.image.stats.bitSetAttempts).toBe(0);
      again.image.close();
    });
  });

  test('a record with a bad CRC at the tail is ignored', () => {
    withStore((kv, image, file) => {
      kv.set('d', 'a', 'kept');
      image.close();
      // Append a well-formed record whose CRC does not match, where the next record would go.
      const raw = FlashImage.open(file, smallBoard);
      const half = raw.read(0x9000, 0x2000);
      let end = half.length;
      while (end > 0 && half[end - 1] === 0xff) end--;
      const body = [0x03, 1, 0x64, 1, 0x62, 0x78]; // string d/b = "x"
      raw.write(0x9000 + end, new Uint8Array([body.length, 0, 0xde, 0xad, 0xbe, 0xef, ...body]));
      raw.close();

      const rebooted = boot(file);
      expect(rebooted.kv.keys('d')).toEqual(['a']);
      expect(rebooted.kv.get('d', 'a')).toBe('kept');
      rebooted.image.close();
    });
  });
});

describe('compaction', () => {
  test('when the log fills, the live set moves to the other half, every value kept', () => {
    withStore((kv, image, file) => {
      const expected = new Map<string, Uint8Array>();
      for (let round = 0; round < 40; round++) {
        for (let k = 0; k < 5; k++) {
          const value = bytes(500, round * 5 + k);
          kv.set('big', `k${k}`, value);
          expected.set(`k${k}`, value);
        }
      }
      kv.set('small', 'flag', true);
      const compactions = image.stats.erasesBySector[9 + 2]!; // first block of the second half
      expect(compactions).toBeGreaterThan(5);
      for (const [key, value] of expected) expect(kv.get('big', key)).toEqual(value);
      image.close();
      const again = boot(file);
      for (const [key, value] of expected) expect(again.kv.get('big', key)).toEqual(value);
      expect(again.kv.get('small', 'flag')).toBe(true);
      expect(again.kv.liveBytes).toBeLessThanOrEqual(again.kv.capacity);
      again.image.close();
    });
  });

  test('a store that cannot hold the live set refuses the change and keeps the rest', () => {
    withStore((kv, image, file) => {
      kv.set('d', 'a', new Uint8Array(4000));
      kv.set('d', 'b', new Uint8Array(4000));
      expect(() => kv.set('d', 'c', new Uint8Array(1000))).toThrow(/KV store in partition "nvs" is full: the settings would take \d+ bytes and it holds 8180/);
      expect(kv.keys('d')).toEqual(['a', 'b']);
      kv.set('d', 'small', 1); // still usable
      image.close();
      const again = boot(file);
      expect(again.kv.keys('d')).toEqual(['a', 'b', 'small']);
      again.image.close();
    });
  });

  test('a power cut at any step of a compaction loses nothing that was committed', () => {
    // Fill the log until the next change compacts, keeping a copy of the flash before that change.
    const base = newPath();
    const { image, kv } = boot(base);
    const committed = new Map<string, Uint8Array>();
    let before = '';
    let trigger: { key: string; value: Uint8Array } | undefined;
    for (let i = 0; !trigger; i++) {
      const key = `k${i % 6}`;
      const value = bytes(700, i);
      const snapshot = `${base}.before`;
      fs.copyFileSync(base, snapshot);
      const erases = image.stats.erases;
      kv.set('d', key, value);
      if (image.stats.erases > erases) {
        before = snapshot;
        trigger = { key, value };
      } else {
        committed.set(key, value);
      }
    }
    image.close();

    let cuts = 0;
    for (let step = 0; ; step++) {
      const file = newPath();
      fs.copyFileSync(before, file);
      const device = boot(file);
      const cut = armPowerCut(device.image, step, () => 0.5);
      let error: unknown;
      try {
        device.kv.set('d', trigger.key, trigger.value);
      } catch (e) {
        error = e;
      }
      device.image.close();
      if (!cut.fired) {
        expect(error).toBeUndefined();
        break;
      }
      expect(error).toBeInstanceOf(PowerCutError);
      cuts++;

      const rebooted = boot(file);
      for (const [key, value] of committed) {
        if (key !== trigger.key) expect(rebooted.kv.get('d', key)).toEqual(value);
      }
      const changed = rebooted.kv.get('d', trigger.key);
      expect([committed.get(trigger.key), trigger.value]).toContainEqual(changed);
      rebooted.kv.set('d', 'after', step); // the store works on
      rebooted.image.close();
      const again = boot(file);
      expect(again.kv.get('d', 'after')).toBe(step);
      expect(again.image.stats.bitSetAttempts).toBe(0);
      again.image.close();
    }
    expect(cuts).toBeGreaterThanOrEqual(3); // erases, records, header
  });
});

describe('model check', () => {
  test('any sequence of changes and reboots reads back like a Map (property)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd');
    const value: fc.Arbitrary<KvValue> = fc.oneof(
      fc.boolean(),
      fc.integer(),
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 1500 }),
    );
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), domain: name, key: name, value }),
      fc.record({ kind: fc.constant('delete' as const), domain: name, key: name }),
      fc.record({ kind: fc.constant('reboot' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const file = newPath();
        let device = boot(file);
        const model = new Map<string, KvValue>();
        for (const step of ops) {
          if (step.kind === 'set') {
            try {
              device.kv.set(step.domain, step.key, step.value);
              model.set(`${step.domain}/${step.key}`, step.value);
            } catch (error) {
              // a full store refuses the change and keeps everything else
              if (!(error instanceof KvError && /is full/.test(error.message))) throw error;
            }
          } else if (step.kind === 'delete') {
            device.kv.delete(step.domain, step.key);
            model.delete(`${step.domain}/${step.key}`);
          } else {
            device.image.close();
            device = boot(file);
          }
        }
        for (const domain of ['a', 'b', 'c', 'd']) {
          const keys = [...model.keys()].filter((k) => k.startsWith(`${domain}/`)).map((k) => k.slice(2)).sort();
          expect(device.kv.keys(domain)).toEqual(keys);
          for (const key of keys) expect(device.kv.get(domain, key)).toEqual(model.get(`${domain}/${key}`));
        }
        expect(device.image.stats.bitSetAttempts).toBe(0);
        device.image.close();
        fs.rmSync(file);
      }),
      { numRuns: 60 },
    );
  });
});

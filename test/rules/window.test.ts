import fc from 'fast-check';
import { AveragingWindow, MAX_WINDOW_SAMPLES, sameWindow } from '../../firmware/app/rules';

describe('AveragingWindow', () => {
  test('samples: the mean of the last N samples', () => {
    const window = new AveragingWindow({ samples: 3 });
    expect(window.mean()).toBeUndefined();
    window.add(1, 0);
    expect(window.mean()).toBe(1);
    window.add(2, 1000);
    window.add(3, 2000);
    expect(window.mean()).toBe(2);
    window.add(10, 3000); // 1 leaves
    expect(window.mean()).toBe(5);
    expect(window.count).toBe(3);
    expect(window.capacity).toBe(3);
  });

  test('ms: the mean of the samples younger than the duration', () => {
    const window = new AveragingWindow({ ms: 10_000 });
    window.add(10, 0);
    window.add(20, 5000);
    expect(window.mean()).toBe(15);
    window.add(30, 10_000); // the sample at 0 is 10 s old: out
    expect(window.mean()).toBe(25);
    window.expire(19_999);
    expect(window.mean()).toBe(30);
    window.expire(20_000); // exactly 10 s old: out
    expect(window.mean()).toBeUndefined();
  });

  test(`a time window holds at most ${MAX_WINDOW_SAMPLES} samples: beyond, the oldest leave early`, () => {
    const window = new AveragingWindow({ ms: 3_600_000 });
    expect(window.capacity).toBe(MAX_WINDOW_SAMPLES);
    for (let i = 0; i < 100; i++) window.add(i, i * 1000);
    expect(window.count).toBe(MAX_WINDOW_SAMPLES);
    expect(window.mean()).toBe((68 + 99) / 2);
  });

  test('refuses sizes beyond the bound', () => {
    expect(() => new AveragingWindow({ samples: 0 })).toThrow(RangeError);
    expect(() => new AveragingWindow({ samples: MAX_WINDOW_SAMPLES + 1 })).toThrow(/1 to 32 samples/);
  });

  test('resized keeps the newest samples that fit', () => {
    const window = new AveragingWindow({ samples: 5 });
    for (const [i, v] of [1, 2, 3, 4, 5].entries()) window.add(v, i * 1000);
    const smaller = window.resized({ samples: 2 }, 5000);
    expect(smaller.mean()).toBe(4.5);
    const timed = window.resized({ ms: 2500 }, 5000); // samples at 3000 and 4000 are younger than 2.5 s
    expect(timed.mean()).toBe(4.5);
    expect(window.resized({ samples: 10 }, 5000).mean()).toBe(3);
  });

  test('sameWindow', () => {
    expect(sameWindow({ samples: 3 }, { samples: 3 })).toBe(true);
    expect(sameWindow({ samples: 3 }, { ms: 3 })).toBe(false);
    expect(sameWindow({ ms: 3000 }, { ms: 3000 })).toBe(true);
  });

  test('property: a samples window always averages the last N values added', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_WINDOW_SAMPLES }), fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 100 }), (n, values) => {
        const window = new AveragingWindow({ samples: n });
        values.forEach((v, i) => window.add(v, i));
        const last = values.slice(-n);
        expect(window.mean()).toBeCloseTo(last.reduce((a, b) => a + b, 0) / last.length, 6);
      }),
    );
  });
});

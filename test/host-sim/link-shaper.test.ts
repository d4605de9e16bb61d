/** A thin link's arithmetic (host-sim/link-shaper.ts): bytes go out one after another, then travel. */
import { checkLinkQuality, LinkShaper } from '../../host-sim/link-shaper';

describe('LinkShaper', () => {
  test('bytes on an idle line arrive after their sending time plus the latency', () => {
    const link = new LinkShaper({ bytesPerSecond: 100, latencyMs: 1000 });
    expect(link.send(5_000, 250)).toBe(5_000 + 2_500 + 1_000);
  });

  test('bytes handed over while the line is busy wait their turn: arrivals keep the order they were sent in', () => {
    const link = new LinkShaper({ bytesPerSecond: 100, latencyMs: 500 });
    const first = link.send(0, 200); // on the line 0 … 2000
    const second = link.send(100, 100); // waits until 2000, on the line until 3000
    expect([first, second]).toEqual([2_500, 3_500]);
    expect(link.send(1_000, 0)).toBe(3_000 + 500); // still busy at 1 s: nothing goes before 3 s
    expect(link.send(4_000, 0)).toBe(4_000 + 500); // idle at 4 s
  });

  test('a line that went idle starts again from now, not from when it was last busy', () => {
    const link = new LinkShaper({ bytesPerSecond: 1000, latencyMs: 0 });
    link.send(0, 1000);
    expect(link.send(60_000, 500)).toBe(60_500);
  });

  test('nothing to send (a FIN) arrives after what is queued ahead of it', () => {
    const link = new LinkShaper({ bytesPerSecond: 10, latencyMs: 200 });
    const data = link.send(0, 25);
    expect(link.send(10, 0)).toBe(data);
  });

  test('fractions of a millisecond add up rather than being rounded away per message', () => {
    const link = new LinkShaper({ bytesPerSecond: 3, latencyMs: 0 });
    let last = 0;
    for (let i = 0; i < 3; i++) last = link.send(0, 1); // 333.3 ms each
    expect(last).toBe(1000);
  });

  test.each([
    [{ bytesPerSecond: 0, latencyMs: 0 }, /bytesPerSecond must be a number of at least 1, got 0/],
    [{ bytesPerSecond: Number.NaN, latencyMs: 0 }, /bytesPerSecond must be a number of at least 1, got NaN/],
    [{ bytesPerSecond: 100, latencyMs: -1 }, /latencyMs must be 0 or more, got -1/],
    [{ bytesPerSecond: 100, latencyMs: Infinity }, /latencyMs must be 0 or more, got Infinity/],
  ])('%j is refused', (quality, message) => {
    expect(() => checkLinkQuality(quality)).toThrow(message);
    expect(() => new LinkShaper(quality)).toThrow(RangeError);
  });
});

import { PacketIdAllocator } from '../../firmware/iot/mqtt/packet-ids';

describe('PacketIdAllocator', () => {
  test('hands out 1..65535 in order, then wraps', () => {
    const ids = new PacketIdAllocator();
    for (let n = 1; n <= 65_535; n++) {
      expect(ids.allocate()).toBe(n);
      ids.release(n);
    }
    expect(ids.allocate()).toBe(1);
  });

  test('skips ids in use', () => {
    const ids = new PacketIdAllocator();
    const one = ids.allocate();
    const two = ids.allocate();
    expect([one, two]).toEqual([1, 2]);
    ids.release(one);
    for (let n = 3; n <= 65_535; n++) ids.release(ids.allocate());
    expect(ids.allocate()).toBe(1);
    expect(ids.allocate()).toBe(3); // 2 is still in use
    expect(ids.isInUse(2)).toBe(true);
    expect(ids.size).toBe(3);
  });

  test('throws when all 65535 are in use', () => {
    const ids = new PacketIdAllocator();
    for (let n = 1; n <= 65_535; n++) ids.allocate();
    expect(() => ids.allocate()).toThrow(expect.objectContaining({ code: 'queue-full' }));
    ids.release(40_000);
    expect(ids.allocate()).toBe(40_000);
  });
});

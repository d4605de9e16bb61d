/**
 * The OTA agent core on fake time, with a fake device (KV, two NOR-flash slots, bootloader)
 * and a scripted image server: the whole update from request to outcome, interruptions,
 * restarts, every refusal, and rollback.
 */
import { OTA_KV_DOMAIN, OTA_KV_KEYS, OtaAgent } from '../../firmware/ota/agent';
import { AgentHarness, BOARD, FakeDevice, KEYS, makeUpdate, OTHER_KEYS, portsFor, SECTOR } from './fake-device';

const kv = (device: FakeDevice, key: string) => device.kv.get(OTA_KV_DOMAIN, key);

function states(harness: AgentHarness): string[] {
  const out: string[] = [];
  for (const status of harness.statuses) if (out[out.length - 1] !== status.state) out.push(status.state);
  return out;
}

describe('happy path', () => {
  test('request → download → verify → apply → restart → self-test → markValid → succeeded', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    expect(harness.last).toMatchObject({ state: 'idle', version: '1.0.0' });
    const update = makeUpdate('1.1.0', { securityVersion: 3 });

    const result = harness.request(update.envelope);
    expect(result).toMatchObject({ accepted: true });
    expect(kv(device, OTA_KV_KEYS.job)).toEqual(expect.stringContaining('"version":"1.1.0"'));
    harness.run(update.image);

    expect(harness.fetches).toEqual([{ fetchId: 1, rangeStart: 0, at: expect.any(Number) }]);
    expect(harness.served).toBe(update.image.length);
    expect(states(harness)).toEqual(['idle', 'downloading', 'verifying', 'applying', 'rebooting']);
    const percents = harness.statuses.filter((status) => status.state === 'downloading').map((status) => status.percent);
    expect(percents[0]).toBe(0);
    expect(percents.length).toBeLessThanOrEqual(21); // at most one report per 5 %
    expect(percents).toEqual([...percents].sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(harness.last).toMatchObject({ state: 'rebooting', version: '1.0.0', targetVersion: '1.1.0', percent: 100 });
    expect(harness.restartRequested).toBe(true);
    expect(device.stats).toMatchObject({ opens: [false], completes: 1, aborts: 0 });
    expect(device.slots[1].data.subarray(0, update.image.length)).toEqual(update.image);
    expect(kv(device, OTA_KV_KEYS.job)).toBeUndefined();
    expect(kv(device, OTA_KV_KEYS.written)).toBeUndefined();
    expect(JSON.parse(kv(device, OTA_KV_KEYS.applied) as string)).toMatchObject({ version: '1.1.0', from: '1.0.0', securityVersion: 3 });
    // the status never shows the signed URL's secret
    expect(JSON.stringify(harness.statuses)).not.toMatch(/SECRET/);

    harness.statuses.length = 0;
    harness.restart();
    expect(device.version).toBe('1.1.0');
    expect(device.state).toBe('pending-verify');
    expect(harness.selfTests).toBe(1);
    expect(harness.last).toMatchObject({ state: 'verifying', version: '1.1.0' });
    expect(harness.agent.nextDeadline()).toBe(harness.now + 120_000);
    expect(harness.request(update.envelope)).toMatchObject({ accepted: false, reason: expect.stringMatching(/busy/) });

    harness.apply(harness.agent.selfTestPassed(harness.now));
    expect(device.stats.markValid).toBe(1);
    expect(device.state).toBe('valid');
    expect(harness.last).toMatchObject({ state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0', updatedAt: 1_700_000_000_000 });
    expect(kv(device, OTA_KV_KEYS.securityVersion)).toBe(3);
    expect(kv(device, OTA_KV_KEYS.applied)).toBeUndefined();
    expect(harness.agent.nextDeadline()).toBeUndefined();

    // Every later boot reports the same outcome; the same manifest again is "already installed".
    harness.statuses.length = 0;
    harness.restart();
    expect(harness.selfTests).toBe(1);
    expect(harness.statuses).toEqual([expect.objectContaining({ state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' })]);
    expect(harness.request(update.envelope)).toMatchObject({ accepted: false, reason: expect.stringMatching(/already installed/) });
    expect(harness.fetches).toHaveLength(1);
  });

  test('the envelope may come as JSON text, keys in any order', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.0.1');
    const reordered = { signature: update.envelope.signature, manifest: Object.fromEntries(Object.entries(update.manifest).reverse()) };
    expect(harness.request(JSON.stringify(reordered))).toMatchObject({ accepted: true });
    harness.run(update.image);
    expect(harness.restartRequested).toBe(true);
  });

  test('the same envelope during its own download changes nothing', () => {
    const harness = new AgentHarness(new FakeDevice('1.0.0'));
    const update = makeUpdate('1.2.0');
    harness.request(update.envelope);
    const before = harness.actions.length;
    expect(harness.request(update.envelope)).toEqual({ accepted: true, actions: [], nextDeadline: undefined });
    expect(harness.actions.length).toBe(before);
  });
});

describe('interrupted downloads', () => {
  test('connection drops resume with a ranged request; the image is transferred once', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('2.0.0', { payloadBytes: 300_000 });
    harness.plans = [{ dropAfter: 50_000 }, { dropAfter: 70_001 }, { dropAfter: 1 }, { dropAfter: 99_999 }];
    harness.request(update.envelope);
    harness.run(update.image);

    expect(harness.restartRequested).toBe(true);
    expect(harness.fetches).toHaveLength(5);
    const starts = harness.fetches.map((fetch) => fetch.rangeStart);
    expect(starts[0]).toBe(0);
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThan(starts[i - 1]);
    // Every byte that arrived was kept: nothing was downloaded twice.
    expect(harness.served).toBe(update.image.length);
    expect(device.slots[1].data.subarray(0, update.image.length)).toEqual(update.image);
    const retries = harness.statuses.filter((status) => status.reason?.startsWith('retry'));
    expect(retries.length).toBe(4);
    expect(retries[0].reason).toMatch(/^retry 1 of 7 in \d+ s: reset/);
    // progress, so the failure count never piles up
    expect(retries.every((status) => /^retry 1 /.test(status.reason ?? ''))).toBe(true);
  });

  test('after a power loss the download resumes from the KV checkpoint, re-hashing what the slot holds', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.5.0', { payloadBytes: 400_000 });
    harness.plans = [{ powerLossAfter: 250_000 }];
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.poweredOff).toBe(true);
    const checkpoint = kv(device, OTA_KV_KEYS.written) as number;
    expect(checkpoint).toBe(196_608); // the last 64 KiB multiple reached
    const servedBefore = harness.served;

    // Power back: same image running, KV and slot as they were.
    harness.statuses.length = 0;
    harness.powerOn();
    expect(harness.last).toMatchObject({ state: 'downloading', targetVersion: '1.5.0', percent: Math.floor((checkpoint * 100) / update.image.length), reason: 'resuming after a restart' });
    expect(harness.agent.nextDeadline()).toBe(harness.now + 5_000);
    expect(harness.fetches).toHaveLength(1);
    harness.run(update.image);

    expect(device.stats.opens).toEqual([false, true]);
    expect(device.stats.reads).toBe(checkpoint / SECTOR);
    expect(harness.fetches[1].rangeStart).toBe(checkpoint);
    expect(harness.restartRequested).toBe(true);
    expect(device.slots[1].data.subarray(0, update.image.length)).toEqual(update.image);
    // Transferred: the image once, plus what came after the last checkpoint before the power loss.
    expect(harness.served).toBe(update.image.length + (servedBefore - checkpoint));
    expect(harness.served - update.image.length).toBeLessThan(65_536 + harness.chunkSize);
  });

  test('the re-hash runs in slices between event-loop turns', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device, { rehashSliceBytes: 16_384 });
    const update = makeUpdate('1.5.0', { payloadBytes: 300_000 });
    harness.plans = [{ powerLossAfter: 200_000 }];
    harness.request(update.envelope);
    harness.run(update.image);
    const checkpoint = kv(device, OTA_KV_KEYS.written) as number;
    harness.powerOn();
    harness.now += 5_000;
    harness.apply(harness.agent.tick(harness.now));
    expect(device.stats.reads).toBe(4); // the first 16 KiB slice
    expect(harness.agent.nextDeadline()).toBe(harness.now); // the next slice at once
    harness.run(update.image);
    expect(device.stats.reads).toBe(checkpoint / SECTOR);
    expect(harness.restartRequested).toBe(true);
  });

  test('a server that ignores Range (200) is read from the start and the known prefix skipped', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.0.9', { payloadBytes: 100_000 });
    harness.plans = [{ dropAfter: 40_000 }, { ignoreRange: true }];
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.restartRequested).toBe(true);
    expect(harness.served).toBe(40_880 + update.image.length); // 28 chunks of 1460, then all of it
    expect(device.slots[1].data.subarray(0, update.image.length)).toEqual(update.image);
  });

  test('the prefix read back after a restart does not match: the hash check fails, nothing is activated', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.6.0', { payloadBytes: 200_000 });
    harness.plans = [{ powerLossAfter: 150_000 }];
    harness.request(update.envelope);
    harness.run(update.image);
    device.slots[1].data[1000] ^= 0x01; // a bit flipped in flash while off
    harness.powerOn();
    harness.run(update.image);
    expect(harness.last).toMatchObject({ state: 'failed', targetVersion: '1.6.0', reason: expect.stringMatching(/SHA-256/) });
    expect(device.stats.completes).toBe(0);
    expect(harness.restartRequested).toBe(false);
  });
});

describe('refusals', () => {
  function refused(update: ReturnType<typeof makeUpdate>['envelope'] | unknown, pattern: RegExp, options: { version?: string; secver?: number; agent?: object } = {}) {
    const device = new FakeDevice(options.version ?? '1.0.0');
    if (options.secver !== undefined) device.kv.set(OTA_KV_DOMAIN, OTA_KV_KEYS.securityVersion, options.secver);
    const harness = new AgentHarness(device, options.agent);
    const result = harness.request(update);
    expect(result).toMatchObject({ accepted: false, reason: expect.stringMatching(pattern) });
    expect(harness.fetches).toEqual([]);
    expect(device.stats.opens).toEqual([]);
    return { harness, device, result };
  }

  test('a signature by another key', () => {
    const { harness } = refused(makeUpdate('1.1.0', { keys: OTHER_KEYS }).envelope, /signature does not verify/);
    expect(harness.last).toMatchObject({ state: 'failed', version: '1.0.0', targetVersion: '1.1.0', reason: expect.stringMatching(/signature/) });
  });

  test('a manifest changed after signing (url, size, version)', () => {
    const update = makeUpdate('1.1.0');
    for (const change of [{ url: 'https://evil.example/x.bin' }, { size: update.manifest.size + 1 }, { version: '9.9.9' }]) {
      refused({ ...update.envelope, manifest: { ...update.envelope.manifest, ...change } }, /signature does not verify/);
    }
  });

  test('malformed envelopes say what is wrong', () => {
    const update = makeUpdate('1.1.0');
    refused('not json', /not JSON/);
    refused({ manifest: update.manifest }, /signature must be 64 bytes/);
    refused({ ...update.envelope, extra: 1 }, /unknown fields "extra"/);
    refused({ ...update.envelope, manifest: { ...update.manifest, extra: 1 } }, /unknown field "extra"/);
    refused({ ...update.envelope, manifest: { ...update.manifest, sha256: update.manifest.sha256.toUpperCase() } }, /sha256 is not 64 lowercase hex/);
    refused({ ...update.envelope, manifest: { ...update.manifest, url: 'ftp://x' } }, /url is not an http/);
    const { size: _size, ...withoutSize } = update.manifest;
    refused({ ...update.envelope, manifest: withoutSize }, /missing field "size"/);
    refused({ ...update.envelope, signature: update.envelope.signature.slice(0, 40) }, /padded base64/);
  });

  test('an image for another board', () => {
    refused(makeUpdate('1.1.0', { board: 'm5stack-core2' }).envelope, /built for board "m5stack-core2"; this device is "esp32-devkitc"/);
  });

  test('an older version (no downgrade); the same version is ignored quietly', () => {
    const { harness } = refused(makeUpdate('1.9.9').envelope, /older than the running 2\.0\.0: downgrades are refused/, { version: '2.0.0' });
    expect(harness.last?.state).toBe('failed');
    const same = refused(makeUpdate('2.0.0').envelope, /already running/, { version: '2.0.0' });
    expect(same.harness.last?.state).toBe('idle');
    refused(makeUpdate('2.0.0-rc.1').envelope, /older/, { version: '2.0.0' });
  });

  test('a securityVersion below the anti-rollback counter (stored, or the build own)', () => {
    refused(makeUpdate('1.1.0', { securityVersion: 1 }).envelope, /securityVersion 1 is below this device's anti-rollback counter 2/, { secver: 2 });
    refused(makeUpdate('1.1.0', { securityVersion: 0 }).envelope, /below .* counter 5/, { agent: { securityVersion: 5 } });
  });

  test('the placeholder key built in refuses everything, saying how to fix it', () => {
    refused(makeUpdate('1.1.0').envelope, /thingkit ota keygen/, { agent: { publicKey: new Uint8Array(65).fill(0).fill(4, 0, 1) } });
  });

  test('an image larger than the slot', () => {
    const device = new FakeDevice('1.0.0', 64 * 1024);
    const harness = new AgentHarness(device);
    const result = harness.request(makeUpdate('1.1.0', { payloadBytes: 70_000 }).envelope);
    expect(result).toMatchObject({ accepted: false, reason: expect.stringMatching(/update slot holds 65536/) });
    expect(harness.fetches).toEqual([]);
    expect(kv(device, OTA_KV_KEYS.job)).toBeUndefined();
  });

  test('refusals repeated (a twin property delivered again) do not rewrite KV', () => {
    const device = new FakeDevice('2.0.0');
    const harness = new AgentHarness(device);
    const envelope = makeUpdate('1.0.0').envelope;
    harness.request(envelope);
    const sets = device.kv.sets;
    for (let i = 0; i < 5; i++) harness.request(envelope);
    expect(device.kv.sets).toBe(sets);
  });
});

describe('verification after the download', () => {
  test('a flipped byte: SHA-256 mismatch, failed, slot not activated, job forgotten', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    const corrupt = update.image.slice();
    corrupt[5000] ^= 0x20;
    harness.served_image = corrupt;
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.last).toMatchObject({ state: 'failed', targetVersion: '1.1.0', reason: expect.stringMatching(/SHA-256 is [0-9a-f]{64}; the manifest says/) });
    expect(states(harness)).toEqual(['idle', 'downloading', 'verifying', 'failed']);
    expect(device.stats).toMatchObject({ completes: 0, aborts: 1 });
    expect(device.bootSlot).toBe(0);
    expect(harness.restartRequested).toBe(false);
    expect(kv(device, OTA_KV_KEYS.job)).toBeUndefined();
    // The same manifest again does not start over by itself; with force it does.
    expect(harness.request(update.envelope)).toMatchObject({ accepted: false, reason: expect.stringMatching(/already failed .*force/) });
    harness.served_image = undefined;
    expect(harness.request(update.envelope, true)).toMatchObject({ accepted: true });
    harness.run(update.image);
    expect(harness.restartRequested).toBe(true);
  });

  test('the HAL refuses the image at complete(): failed with its reason', () => {
    const device = new FakeDevice('1.0.0');
    device.refuseComplete = 'bad magic e9: not a thingkit app image';
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.last).toMatchObject({ state: 'failed', reason: 'the image was refused: bad magic e9: not a thingkit app image' });
    expect(device.bootSlot).toBe(0);
    expect(harness.restartRequested).toBe(false);
  });

  test('a server file of another size is refused at the response', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    harness.served_image = update.image.subarray(0, update.image.length - 10);
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.last).toMatchObject({ state: 'failed', reason: expect.stringMatching(/server's file has \d+ bytes; the manifest says/) });
    expect(harness.served).toBe(0);
  });

  test('more bytes than the manifest size are never written', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    const agent = harness.agent;
    harness.request(update.envelope);
    const id = harness.fetches[0].fetchId;
    harness.apply(agent.response(id, { status: 200, offset: 0 }, harness.now)); // no total: a chunked body
    harness.apply(agent.chunk(id, update.image, 0, harness.now));
    harness.apply(agent.chunk(id, new Uint8Array(100), update.image.length, harness.now));
    expect(harness.last).toMatchObject({ state: 'failed', reason: expect.stringMatching(/more than the manifest's/) });
    expect(device.stats.bytesWritten).toBeLessThanOrEqual(update.image.length);
  });
});

describe('server errors and backoff', () => {
  test('5xx are retried with exponential backoff and jitter, then the download completes', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device, { retry: { baseMs: 1_000, capMs: 60_000 } });
    const update = makeUpdate('1.1.0', { payloadBytes: 20_000 });
    harness.plans = [{ status: 503 }, { status: 500 }, { status: 502 }, { status: 429 }];
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.restartRequested).toBe(true);
    const gaps = harness.fetches.slice(1).map((fetch, i) => fetch.at - harness.fetches[i].at - 20);
    // Retry n waits between half and all of base * 2^(n-1).
    gaps.forEach((gap, i) => {
      const ceiling = 1_000 * 2 ** i;
      expect(gap).toBeGreaterThanOrEqual(ceiling / 2);
      expect(gap).toBeLessThanOrEqual(ceiling);
    });
    expect(harness.statuses.filter((status) => status.reason?.startsWith('retry')).map((status) => status.reason?.slice(0, 12))).toEqual([
      'retry 1 of 7',
      'retry 2 of 7',
      'retry 3 of 7',
      'retry 4 of 7',
    ]);
  });

  test('devices that failed together retry at different times (jitter)', () => {
    const delays = new Set<number>();
    for (let seed = 1; seed <= 8; seed++) {
      const device = new FakeDevice('1.0.0');
      const agent = new OtaAgent(portsFor(device, seed * 7919), { board: BOARD, runningVersion: '1.0.0', publicKey: KEYS.publicKeyRaw });
      agent.boot(0);
      const out = agent.request(makeUpdate('1.1.0', { payloadBytes: 1000 }).envelope, 0);
      const fetch = out.actions.find((action) => action.type === 'fetch');
      const failed = agent.fetchFailed(fetch?.type === 'fetch' ? fetch.fetchId : 0, { message: 'x', retryable: true }, 100);
      delays.add((failed.nextDeadline ?? 0) - 100);
    }
    expect(delays.size).toBeGreaterThan(4);
  });

  test('maxAttempts failures in a row without progress end the update', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device, { maxAttempts: 3 });
    const update = makeUpdate('1.1.0');
    harness.plans = [{ status: 503 }, { status: 503 }, { status: 503 }];
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.fetches).toHaveLength(3);
    expect(harness.last).toMatchObject({ state: 'failed', reason: expect.stringMatching(/failed 3 times in a row; last: .*503/) });
    expect(device.stats.aborts).toBe(1);
  });

  test('a 404 or 403 is not retried', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    harness.plans = [{ status: 404 }];
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.fetches).toHaveLength(1);
    expect(harness.last).toMatchObject({ state: 'failed', reason: expect.stringMatching(/download failed: .*404/) });
  });
});

describe('after the restart', () => {
  function applied(version = '1.1.0', options: { securityVersion?: number } = {}) {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate(version, options);
    harness.request(update.envelope);
    harness.run(update.image);
    expect(harness.restartRequested).toBe(true);
    harness.statuses.length = 0;
    harness.restart();
    return { device, harness, update };
  }

  test('self-test failure: rolled-back stored before the rollback, reported by the previous image', () => {
    const { device, harness, update } = applied('1.1.0', { securityVersion: 4 });
    harness.apply(harness.agent.selfTestFailed('no twin within 60 s', harness.now));
    expect(harness.rollbackRequested).toBe(true);
    expect(device.stats.markValid).toBe(0);
    expect(harness.last).toMatchObject({ state: 'rolled-back', version: '1.1.0', targetVersion: '1.1.0', reason: 'self-test failed: no twin within 60 s' });
    expect(JSON.parse(kv(device, OTA_KV_KEYS.last) as string)).toMatchObject({ state: 'rolled-back', targetVersion: '1.1.0' });
    expect(kv(device, OTA_KV_KEYS.securityVersion)).toBe(0); // not raised by an image that failed

    device.rollback(); // what hal.ota.rollback() does
    harness.statuses.length = 0;
    harness.powerOn();
    expect(device.version).toBe('1.0.0');
    expect(harness.statuses).toEqual([
      { state: 'rolled-back', version: '1.0.0', targetVersion: '1.1.0', reason: 'self-test failed: no twin within 60 s', updatedAt: 1_700_000_000_000 },
    ]);
    // The twin still asks for it: refused until forced.
    expect(harness.request(update.envelope)).toMatchObject({ accepted: false, reason: expect.stringMatching(/already rolled back .*force/) });
    expect(harness.request(update.envelope, true)).toMatchObject({ accepted: true });
  });

  test('a self-test that never answers: rollback at the deadline', () => {
    const { harness } = applied();
    harness.now += 119_999;
    harness.apply(harness.agent.tick(harness.now));
    expect(harness.rollbackRequested).toBe(false);
    harness.now += 1;
    harness.apply(harness.agent.tick(harness.now));
    expect(harness.rollbackRequested).toBe(true);
    expect(harness.last?.reason).toBe('self-test gave no result within 120000 ms');
    // a late answer changes nothing
    const late = harness.agent.selfTestPassed(harness.now);
    expect(late.actions).toEqual([]);
  });

  test('the new image restarting before its self-test: the bootloader goes back, and that is reported', () => {
    const { device, harness } = applied('1.3.0');
    harness.statuses.length = 0;
    harness.restart(); // crash or power cut while pending-verify
    expect(device.version).toBe('1.0.0');
    expect(harness.statuses).toEqual([
      expect.objectContaining({ state: 'rolled-back', version: '1.0.0', targetVersion: '1.3.0', reason: 'version 1.3.0 restarted before its self-test passed; the bootloader went back to 1.0.0' }),
    ]);
    expect(kv(device, OTA_KV_KEYS.applied)).toBeUndefined();
  });

  test('success raises the anti-rollback counter; an older securityVersion is refused afterwards', () => {
    const { device, harness } = applied('1.1.0', { securityVersion: 7 });
    harness.apply(harness.agent.selfTestPassed(harness.now));
    expect(kv(device, OTA_KV_KEYS.securityVersion)).toBe(7);
    expect(harness.request(makeUpdate('1.2.0', { securityVersion: 6 }).envelope)).toMatchObject({ accepted: false, reason: expect.stringMatching(/below .* counter 7/) });
  });

  test('power lost between activating the slot and storing the record: the job tells what the image is', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0', { securityVersion: 2 });
    harness.request(update.envelope);
    const job = kv(device, OTA_KV_KEYS.job) as string;
    harness.run(update.image);
    // As if the power went right after complete(): the job is still there, no applied record.
    device.kv.set(OTA_KV_DOMAIN, OTA_KV_KEYS.job, job);
    device.kv.delete(OTA_KV_DOMAIN, OTA_KV_KEYS.applied);
    harness.restart();
    expect(harness.selfTests).toBe(1);
    harness.apply(harness.agent.selfTestPassed(harness.now));
    expect(harness.last).toMatchObject({ state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' });
    expect(kv(device, OTA_KV_KEYS.securityVersion)).toBe(2);
    expect(kv(device, OTA_KV_KEYS.job)).toBeUndefined();
  });

  test('a securityVersion above NVS int32 is kept as a decimal string', () => {
    const { device, harness } = applied('1.1.0', { securityVersion: 3_000_000_000 });
    harness.apply(harness.agent.selfTestPassed(harness.now));
    expect(kv(device, OTA_KV_KEYS.securityVersion)).toBe('3000000000');
    expect(harness.agent.securityFloor).toBe(3_000_000_000);
    expect(harness.request(makeUpdate('1.2.0', { securityVersion: 2_999_999_999 }).envelope).reason).toMatch(/counter 3000000000/);
  });

  test('markValid failing counts as a failed self-test', () => {
    const { device, harness } = applied();
    device.markValid = () => {
      throw new Error('ESP_ERR_OTA_ROLLBACK_INVALID_STATE');
    };
    harness.apply(harness.agent.selfTestPassed(harness.now));
    expect(harness.rollbackRequested).toBe(true);
    expect(harness.last?.reason).toMatch(/marking the image valid failed/);
  });
});

describe('control', () => {
  test('a newer request supersedes the download in progress', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const first = makeUpdate('1.1.0');
    const second = makeUpdate('1.2.0');
    harness.plans = [{ dropAfter: 10_000 }];
    harness.request(first.envelope);
    harness.run(first.image, 0); // one fetch, dropped; a retry waits
    expect(harness.request(second.envelope)).toMatchObject({ accepted: true });
    expect(device.stats.aborts).toBe(1);
    harness.run(second.image);
    expect(harness.last).toMatchObject({ state: 'rebooting', targetVersion: '1.2.0' });
    expect(device.stats.opens).toEqual([false, false]);
  });

  test('cancel abandons the slot and forgets the job', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    harness.request(update.envelope);
    harness.apply(harness.agent.cancel('operator asked', harness.now));
    expect(harness.actions).toContainEqual({ type: 'cancel-fetch', fetchId: 1 });
    expect(harness.last).toMatchObject({ state: 'failed', reason: 'cancelled: operator asked' });
    expect(kv(device, OTA_KV_KEYS.job)).toBeUndefined();
    harness.run(update.image);
    expect(harness.served).toBe(0);
  });

  test('stale fetch events (after a cancel) are ignored', () => {
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0');
    harness.request(update.envelope);
    harness.apply(harness.agent.cancel('x', harness.now));
    expect(harness.agent.chunk(1, update.image.subarray(0, 100), 0, harness.now).actions).toEqual([]);
    expect(harness.agent.done(1, harness.now).actions).toEqual([]);
    expect(device.stats.bytesWritten).toBe(0);
  });

  test('KV names fit NVS (15 characters) and every value its limits', () => {
    for (const key of Object.values(OTA_KV_KEYS)) expect(key.length).toBeLessThanOrEqual(15);
    expect(OTA_KV_DOMAIN.length).toBeLessThanOrEqual(15);
    // FakeKv enforces checkKvEntry: a long signed URL still fits.
    const device = new FakeDevice('1.0.0');
    const harness = new AgentHarness(device);
    const update = makeUpdate('1.1.0', { url: `https://updates.example/fw.bin?${'sig='.padEnd(2000, 'x')}` });
    expect(harness.request(update.envelope)).toMatchObject({ accepted: true });
  });
});

/**
 * `thingkit sim --scenario FILE` (cli/sim-command.ts), in-process: a short scenario on the Node
 * engine prints its events and an account of every reading (text and --json); a missing or
 * invalid file, or options that do not go with a scenario, are usage errors (exit code 2).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../../cli/duration';
import { main } from '../../cli/main';
import { simCommand } from '../../cli/sim-command';

const MINUTE = 60_000;
const DURATION = 40 * MINUTE;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thingkit-sim-scenario-'));
const scenarioFile = path.join(dir, 'short-day.json');
const missingFile = path.join(dir, 'no-such-scenario.json');
const invalidFile = path.join(dir, 'late-event.json');
const notJsonFile = path.join(dir, 'not-json.json');
const cutShortFile = path.join(dir, 'cut-short.json');

beforeAll(() => {
  fs.writeFileSync(
    scenarioFile,
    JSON.stringify({
      description: 'a short bad day',
      duration: '40m',
      devices: 1,
      config: { telemetryIntervalMs: 60_000 },
      events: [
        { at: '10m', do: 'outage', for: '10m' },
        { at: '25m', do: 'restart' },
        { at: '30m', do: 'broker-restart', down: '1m' },
      ],
    }),
  );
  fs.writeFileSync(invalidFile, JSON.stringify({ duration: '1h', events: [{ at: '2h', do: 'outage', for: '1m' }] }));
  fs.writeFileSync(notJsonFile, 'duration: 1h\n');
  // Offline for the last 10 minutes and no time to settle: what was stored then never reaches the hub.
  fs.writeFileSync(cutShortFile, JSON.stringify({ duration: '20m', settle: '0s', config: { telemetryIntervalMs: 60_000 }, events: [{ at: '10m', do: 'outage', for: '10m' }] }));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function sim(...argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await simCommand(argv, (line) => lines.push(line));
  return { code, lines };
}

describe('thingkit sim --scenario FILE --engine node', () => {
  test('prints the scenario, its events as they happen and a summary: every reading accounted for, exit 0', async () => {
    const { code, lines } = await sim('--scenario', scenarioFile, '--engine', 'node');
    expect(code).toBe(0);
    expect(lines[0]).toBe('thingkit: scenario "a short bad day": 1 device(s) on node, 40m0s of virtual time, 3 event(s)');

    // The scenario's events, at simulation time, in order.
    const outage = lines.findIndex((l) => /^ +10m0s +- \[node\] scenario +event=outage kind=down devices=\["esp32-devkitc-001"\] forMs=600000$/.test(l));
    const restart = lines.findIndex((l) => /^ +25m0s +esp32-devkitc-001 \[node\] scenario +event=restart$/.test(l));
    const brokerRestart = lines.findIndex((l) => /^ +30m0s +- \[node\] scenario +event=broker-restart downMs=60000$/.test(l));
    expect(outage).toBeGreaterThan(0);
    expect(restart).toBeGreaterThan(outage);
    expect(brokerRestart).toBeGreaterThan(restart);
    // …and what they disturbed: the link dropped at the outage, the device restarted and booted again.
    expect(lines[outage + 1]).toMatch(/^ +10m0s +esp32-devkitc-001 \[node\] disconnected +reason=".*link is down"/);
    expect(lines.slice(restart)).toEqual(expect.arrayContaining([expect.stringMatching(/\[node\] restart +reason=software/), expect.stringMatching(/\[node\] boot +.*resetReason=software/)]));
    expect(lines.slice(brokerRestart + 1, brokerRestart + 2)).toEqual([expect.stringMatching(/\[node\] disconnected +reason=/)]);
    // Readings themselves are not printed in text mode.
    expect(lines.filter((l) => /\] telemetry /.test(l))).toEqual([]);

    const readings = lines.find((l) => l.startsWith('  readings: '));
    const match = /^  readings: sent (\d+), received (\d+), duplicates dropped (\d+), dropped by the outbox 0, lost 0, out of order 0$/.exec(readings ?? '');
    expect(match).not.toBeNull();
    const [sent, received, duplicates] = match!.slice(1).map(Number);
    expect(sent).toBeGreaterThanOrEqual(38); // a reading a minute for 40 minutes
    expect(sent).toBeLessThanOrEqual(41);
    expect(received).toBe(sent! + duplicates!);
    expect(lines).toContainEqual(expect.stringMatching(/^thingkit: scenario done: 40m0s simulated( \(.* of it delivering what was left\))? in [\d.]+ s$/));
    expect(lines).toContainEqual(expect.stringMatching(/^  hub: at most \d+ message\(s\) in one second \(the fleet's drain limit: 10\/s\)$/));
    const devices = lines.find((l) => l.startsWith('  devices: '));
    expect(devices).toMatch(/^  devices: \d+ connection\(s\), 1 restart\(s\), 0 power cut\(s\)$/);
    expect(Number(/(\d+) connection/.exec(devices!)![1])).toBeGreaterThanOrEqual(4); // boot, after the outage, the restart, the broker restart
    expect(lines[lines.length - 1]).toBe('thingkit: every reading accounted for');
  }, 120_000);

  test('--json: every line is JSON with `at`, the last a summary with nothing lost', async () => {
    const { code, lines } = await sim('--scenario', scenarioFile, '--engine', 'node', '--json');
    expect(code).toBe(0);
    const objects = lines.map((l) => JSON.parse(l) as { [key: string]: unknown });
    const summary = objects[objects.length - 1]!;
    expect(summary).toEqual(
      expect.objectContaining({
        type: 'summary',
        wallSeconds: expect.any(Number),
        devices: 1,
        lost: 0,
        outOfOrder: 0,
        dropped: 0,
        restarts: 1,
        powerCuts: 0,
        drainLimitPerSecond: 10,
        perDevice: [expect.objectContaining({ device: 'esp32-devkitc-001', lost: 0, outOfOrder: 0 })],
      }),
    );
    expect(summary.simulatedMs).toBeGreaterThanOrEqual(DURATION);
    expect(summary.received).toBe((summary.unique as number) + (summary.duplicates as number));
    expect(summary.unique).toBe(summary.sent);

    const events = objects.slice(0, -1);
    for (const event of events) expect(event).toEqual(expect.objectContaining({ device: expect.any(String), engine: 'node', type: expect.any(String), at: expect.any(Number) }));
    const scenarioEvents = events.filter((e) => e.type === 'scenario');
    expect(scenarioEvents.map((e) => e.event)).toEqual(['outage', 'restart', 'broker-restart']);
    expect(scenarioEvents.map((e) => Math.round((e.at as number) / MINUTE))).toEqual([10, 25, 30]);
    expect(scenarioEvents[0]).toMatchObject({ forMs: 600_000, devices: ['esp32-devkitc-001'] });
    expect(scenarioEvents[2]).toMatchObject({ downMs: 60_000 });
    // The summary counts the readings stored during the 40 minutes, as the events show them.
    const stored = events.filter((e) => (e.type === 'telemetry' || e.type === 'alert') && e.sent === true && (e.at as number) < DURATION);
    expect(stored).toHaveLength(summary.sent as number);
    expect(new Set(stored.map((e) => e.mid)).size).toBe(stored.length);
  }, 120_000);
});

describe('thingkit sim --scenario: an account that does not balance', () => {
  test('readings stored and never received are counted lost, named on the last line, and the exit code is 1', async () => {
    const { code, lines } = await sim('--scenario', cutShortFile, '--engine', 'node');
    expect(code).toBe(1);
    const readings = lines.find((l) => l.startsWith('  readings: '));
    const match = /^  readings: sent (\d+), received (\d+), duplicates dropped 0, dropped by the outbox 0, lost (\d+), out of order 0$/.exec(readings ?? '');
    expect(match).not.toBeNull();
    const [sent, received, lost] = match!.slice(1).map(Number) as [number, number, number];
    expect(lost).toBeGreaterThanOrEqual(9); // one a minute while offline
    expect(received + lost).toBe(sent);
    expect(lines[lines.length - 1]).toBe(`thingkit: ${lost} reading(s) lost`);
  }, 120_000);
});

describe('thingkit sim --scenario: usage errors', () => {
  test('a missing file: a UsageError naming it', async () => {
    await expect(sim('--scenario', missingFile, '--engine', 'node')).rejects.toThrow(UsageError);
    await expect(sim('--scenario', missingFile, '--engine', 'node')).rejects.toThrow(`--scenario ${missingFile}: no such file`);
  });

  test('an invalid file: a UsageError naming the file and what is wrong', async () => {
    await expect(sim('--scenario', invalidFile, '--engine', 'node')).rejects.toThrow(UsageError);
    await expect(sim('--scenario', invalidFile, '--engine', 'node')).rejects.toThrow(`${invalidFile}: event 1 is at 2h, after the scenario ends`);
    await expect(sim('--scenario', notJsonFile)).rejects.toThrow(new RegExp(`^${notJsonFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not JSON: `));
  });

  test('a directory instead of a file: a UsageError naming it', async () => {
    await expect(sim('--scenario', dir)).rejects.toThrow(UsageError);
    await expect(sim('--scenario', dir)).rejects.toThrow(`--scenario ${dir}: `);
  });

  test.each([
    [['--bare'], /--scenario runs against the local hub .*leave out --broker, --bare and --tls/],
    [['--tls'], /--scenario runs against the local hub/],
    [['--broker', 'mqtt://127.0.0.1:1883'], /--scenario runs against the local hub/],
    [['--for', '1h'], /--scenario: the scenario file says how long it runs \("duration"\); leave out --for/],
  ])('--scenario with %j is refused', async (extra, message) => {
    await expect(sim('--scenario', scenarioFile, '--engine', 'node', ...(extra as string[]))).rejects.toThrow(UsageError);
    await expect(sim('--scenario', scenarioFile, '--engine', 'node', ...(extra as string[]))).rejects.toThrow(message as RegExp);
  });

  test('through the command: one line on stderr and exit code 2', async () => {
    let stderr = '';
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    try {
      expect(await main(['sim', '--scenario', missingFile])).toBe(2);
      expect(stderr).toBe(`thingkit: --scenario ${missingFile}: no such file\n`);
      stderr = '';
      expect(await main(['sim', '--scenario', invalidFile, '--engine', 'node'])).toBe(2);
      expect(stderr).toBe(`thingkit: ${invalidFile}: event 1 is at 2h, after the scenario ends\n`);
      stderr = '';
      expect(await main(['sim', '--scenario', scenarioFile, '--bare'])).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^thingkit: --scenario runs against the local hub/);
    } finally {
      write.mockRestore();
    }
  });
});

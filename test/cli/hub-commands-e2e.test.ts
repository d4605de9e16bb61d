/**
 * The hub's command line against a simulated device, in real time: `thingkit twin set`
 * changes the device's telemetry interval, `thingkit method` gets an answer from the
 * firmware, `thingkit c2d` reaches it.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { startSimulation, type TestRun } from '../support/simulate';

const BIN = path.join(__dirname, '..', '..', 'cli', 'bin.js');
const DEVICE = 'esp32-devkitc-001';

function thingkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let run: TestRun;
let hubUrl: string;

beforeAll(async () => {
  run = await startSimulation({ engine: 'xs', hub: true, timeMode: 'realtime' });
  hubUrl = run.simulation.localHub!.httpUrl;
  for (let i = 0; i < 100 && run.of('connected').length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
});
afterAll(() => run?.simulation.stop());

test('the device is online for the commands', () => {
  expect(run.of('connected', DEVICE).length).toBeGreaterThanOrEqual(1);
});

test('thingkit twin set telemetryInterval=2000 applies at once and is acknowledged', async () => {
  const result = await thingkit('twin', 'set', DEVICE, 'telemetryInterval=2000', '--hub', hubUrl);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 7000));
  const twin = await thingkit('twin', 'get', DEVICE, '--hub', hubUrl, '--json');
  const document = JSON.parse(twin.stdout);
  expect(document.properties.reported.telemetryInterval).toMatchObject({ value: 2000, ac: 200 });
  const recent = run.of('telemetry', DEVICE).slice(-3).map((e) => e.t);
  // Real time: the interval is 2 s give or take the machine's scheduling, far from the old 60 s.
  expect(recent[2] - recent[1]).toBeGreaterThan(1500);
  expect(recent[2] - recent[1]).toBeLessThan(5000);
}, 30_000);

test('thingkit method getDiagnostics prints the firmware answer', async () => {
  const result = await thingkit('method', DEVICE, 'getDiagnostics', '--hub', hubUrl, '--json');
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({ status: 200, payload: { firmwareVersion: '1.0.0', telemetryInterval: 2000 } });
});

test('thingkit c2d reaches the device', async () => {
  const result = await thingkit('c2d', DEVICE, 'hello from the cli', '--property', 'kind=greeting', '--hub', hubUrl);
  expect(result.code).toBe(0);
  for (let i = 0; i < 50 && run.of('c2d', DEVICE).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(run.of('c2d', DEVICE).at(-1)).toMatchObject({ body: 'hello from the cli', properties: { kind: 'greeting' } });
});

test('a method on an unknown device is one line and exit 1', async () => {
  const result = await thingkit('method', 'no-such-device', 'getDiagnostics', '--hub', hubUrl);
  expect(result.code).toBe(1);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/no-such-device/);
});

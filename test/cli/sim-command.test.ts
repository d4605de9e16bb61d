/** `thingkit sim` as a user runs it: a real process, its output and its exit code. */
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

const BIN = path.join(__dirname, '..', '..', 'cli', 'bin.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function thingkit(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function jsonLines(stdout: string): { [key: string]: unknown }[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

describe('thingkit sim', () => {
  test.each([
    ['xs', '1'],
    ['node', '1'],
    ['xs', '20'],
    ['node', '20'],
  ])('--engine %s --devices %s --for 10m --virtual-time --json', async (engine, devices) => {
    const result = await thingkit('sim', '--engine', engine, '--devices', devices, '--for', '10m', '--virtual-time', '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const events = jsonLines(result.stdout);
    for (const event of events) {
      expect(event).toEqual(expect.objectContaining({ device: expect.any(String), engine, t: expect.any(Number), type: expect.any(String) }));
    }
    const ids = new Set(events.map((e) => e.device));
    expect(ids.size).toBe(Number(devices));
    for (const id of ids) {
      const telemetry = events.filter((e) => e.device === id && e.type === 'telemetry');
      expect(telemetry.length).toBeGreaterThanOrEqual(9);
      const { temperature, humidity } = (telemetry[0].readings as { sht31: { temperature: number; humidity: number } }).sht31;
      expect(temperature).toBeGreaterThan(-10);
      expect(temperature).toBeLessThan(45);
      expect(humidity).toBeGreaterThan(0);
      expect(humidity).toBeLessThan(100);
      expect(events.filter((e) => e.device === id && e.type === 'boot')).toHaveLength(1);
      expect(events.filter((e) => e.device === id && e.type === 'connected').length).toBeGreaterThanOrEqual(1);
      const meters = events.filter((e) => e.device === id && e.type === 'meter');
      if (engine === 'xs') {
        expect(meters.length).toBeGreaterThan(0);
        expect(meters[0]).toEqual(expect.objectContaining({ heapSlots: expect.any(Number), compute: expect.any(Number) }));
      } else {
        expect(meters).toHaveLength(0);
      }
    }
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  test('--sensors with all eight chips on the XS engine: telemetry carries every reading', async () => {
    const sensors = 'sht31,sht40,bme280,bh1750,scd41,ads1115,mpu6050,ina219';
    const result = await thingkit('sim', '--engine', 'xs', '--board', 'esp32-devkitc', '--sensors', sensors, '--for', '10m', '--virtual-time', '--json');
    expect(result.code).toBe(0);
    const telemetry = jsonLines(result.stdout).filter((e) => e.type === 'telemetry');
    expect(telemetry.length).toBeGreaterThanOrEqual(9);
    for (const event of telemetry) expect(Object.keys(event.readings as object).sort()).toEqual(sensors.split(',').sort());
  });

  test('in real time, prints boot, connect and telemetry lines for people', async () => {
    const result = await thingkit('sim', '--for', '6s');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/esp32-devkitc-001 \[xs\] boot +version=1\.0\.0/);
    expect(result.stdout).toMatch(/thingkit: 1 device\(s\) on xs, real time, local hub mqtts:\/\/127\.0\.0\.1:\d+ \(HTTP API http:\/\/127\.0\.0\.1:\d+\)/);
    expect(result.stdout).toMatch(/\[xs\] provisioned +hub=127\.0\.0\.1 deviceId=esp32-devkitc-001/);
    expect(result.stdout).toMatch(/\[xs\] connected/);
    expect(result.stdout).toMatch(/\[xs\] telemetry +seq=1 readings=\{"sht31":\{"temperature":[\d.-]+,"humidity":[\d.]+\}\}/);
    expect(result.stdout).toMatch(/thingkit: done in/);
  });

  test.each([
    [['--board', 'esp8266'], 2, /unknown board "esp8266"; known boards: esp32-devkitc/],
    [['--for', '10 minutes'], 2, /--for "10 minutes" is not a duration: write .* like 30s, 10m/],
    [['--engine', 'v8'], 2, /--engine must be xs or node/],
    [['--payload', 'xml'], 2, /--payload must be json or cbor \(got "xml"\)/],
    [['--devices', 'many'], 2, /--devices must be a whole number/],
    [['--colour'], 2, /Unknown option '--colour'/],
    [['--broker', 'localhost:1883'], 1, /is not a broker URL: write mqtt:\/\/HOST:PORT/],
    [['--ca', '/nonexistent.pem', '--broker', 'mqtts://127.0.0.1:8883'], 2, /--ca \/nonexistent.pem: no such file/],
    [['--cert', 'a.pem'], 2, /--cert and --key go together/],
    [['--tls', '--broker', 'mqtts://127.0.0.1:8883'], 2, /--tls is for the embedded broker/],
  ])('refuses %j with one line and exit code %i', async (args, code, message) => {
    const result = await thingkit('sim', ...(args as string[]));
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message as RegExp);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('an unreachable broker is one line naming it and the fix', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve)); // now nothing listens there
    const result = await thingkit('sim', '--broker', `mqtt://127.0.0.1:${port}`, '--for', '1m', '--virtual-time');
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `thingkit: cannot reach the broker at 127.0.0.1:${port} (ECONNREFUSED): start it, or leave out --broker to use the embedded one`,
    );
  });

  test('--tls runs the embedded broker with mutual TLS', async () => {
    const result = await thingkit('sim', '--tls', '--for', '3m', '--virtual-time', '--json');
    expect(result.code).toBe(0);
    const events = jsonLines(result.stdout);
    expect(events.filter((e) => e.type === 'connected')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'telemetry' && e.sent).length).toBeGreaterThanOrEqual(3);
    expect(events.filter((e) => e.type === 'log' && /without TLS/.test(e.message as string))).toEqual([]);
  });

  test('an unknown command names the commands', async () => {
    const result = await thingkit('simulate');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command "simulate"; commands: sim, hub, device, twin/);
  });
});

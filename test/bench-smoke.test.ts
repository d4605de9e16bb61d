/** The benchmarks still run and print their figures (their numbers are not asserted). */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

function runBench(script: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js'), '--transpile-only', path.join(ROOT, script), ...args], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${script} failed: ${stderr || error.message}`)) : resolve(stdout),
    );
  });
}

test('bench/footprint prints the XS footprint as JSON', async () => {
  const figures = JSON.parse(await runBench('bench/footprint.ts', '--minutes', '4'));
  expect(figures).toEqual(
    expect.objectContaining({
      bench: 'footprint',
      heapSlotsAfterGc: expect.any(Number),
      firmwareSlotsAfterGc: expect.any(Number),
      stateSlotsAfterGc: expect.any(Number),
      computePerTelemetryCycle: expect.any(Number),
      snapshotBytes: expect.any(Number),
    }),
  );
  expect(figures.stateSlotsAfterGc).toBeGreaterThan(0);
  expect(figures.firmwareSlotsAfterGc).toBeGreaterThan(figures.stateSlotsAfterGc);
  expect(figures.snapshotBytes).toBeGreaterThan(10_000);
});

test('bench/mqtt prints XS costs, wire bytes and Node throughput as JSON', async () => {
  const figures = JSON.parse(await runBench('bench/mqtt.ts', '--rounds', '2'));
  expect(figures.xs.computePerPublishEncode).toBeGreaterThan(0);
  expect(figures.xs.computePerPublishDecode).toBeGreaterThan(0);
  expect(figures.wire.identicalToMqttPacket).toBe(true);
  expect(figures.node.thingkitEncodePerSecond).toBeGreaterThan(0);
  expect(figures.node.mqttPacketDecodePerSecond).toBeGreaterThan(0);
});

test('bench/drivers prints compute per sample for every driver as JSON', async () => {
  const figures = JSON.parse(await runBench('bench/drivers.ts', '--rounds', '1'));
  expect(Object.keys(figures.drivers).sort()).toEqual(['ads1115', 'bh1750', 'bme280', 'ina219', 'mpu6050', 'scd41', 'sht31', 'sht40']);
  for (const driver of Object.values(figures.drivers) as { computePerSample: number; failures: number }[]) {
    expect(driver.computePerSample).toBeGreaterThan(0);
    expect(driver.failures).toBe(0);
  }
  expect(figures.heapSlotsForAllOpenDrivers).toBeGreaterThan(0);
});

test('bench/outbox prints XS costs, wear per day and drain time as JSON', async () => {
  const figures = JSON.parse(await runBench('bench/outbox.ts', '--rounds', '1'));
  expect(figures.xs.computePerAppend).toBeGreaterThan(0);
  expect(figures.xs.computePerDrainedRecord).toBeGreaterThan(0);
  expect(figures.wear.readingsPerDay).toBe(1440);
  expect(figures.wear.maxErasesPerSectorPerDay).toBeGreaterThanOrEqual(1);
  expect(figures.node.drained).toBeGreaterThan(1000);
});

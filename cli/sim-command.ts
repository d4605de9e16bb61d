/** `thingkit sim`: runs simulated devices against a broker and prints what they do. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { boards } from '../boards';
import { FirmwareError } from '../host-sim/engines/engine';
import type { SimEvent } from '../host-sim/sim-event';
import { Simulation, SimulationError } from '../host-sim/simulation';
import { publicKeyFromHex, publicKeyFromPem, publicKeyToHex } from '../host-sim/ota/keys';
import { formatDuration, parseDuration, UsageError } from './duration';
import { formatHuman, formatJson } from './format';
import { parseScenario, ScenarioError, startScenario, type Scenario, type ScenarioSummary } from '../host-sim/scenario';

export const SIM_USAGE = `usage: thingkit sim [options]

Runs simulated devices (the real firmware on the XS engine or on Node.js) against an MQTT
broker and prints what each device does.

  --engine xs|node     firmware engine (default xs: the real XS engine)
  --devices N          number of devices (default 1)
  --board NAME         board definition (default esp32-devkitc; known: ${Object.keys(boards).join(', ')})
  --for DURATION       stop after this much simulated time (30s, 10m, 2h, 1d); default: until Ctrl-C
  --virtual-time       run on virtual time: a simulated hour takes about a second
                       Without --broker or --bare: the local IoT hub starts (TLS, Azure IoT
                       Hub and DPS protocols, HTTP API) and devices provision through DPS.
  --broker URL         mqtt://HOST:PORT or mqtts://HOST:PORT of a running broker (generic MQTT)
  --bare               an embedded plain MQTT broker instead of the local hub
  --tls                with --bare: mutual TLS from a development PKI
  --hub-http-port N    the local hub's HTTP API port (default: a free one)
  --ca FILE            PEM CA that signed the broker's certificate (for an mqtts:// broker)
  --cert FILE          PEM client certificate for the devices (mutual TLS)
  --key FILE           PEM private key of that certificate
  --sensors LIST       chips to fit instead of the board's: MODEL[@0xADDRESS][/BUS],…
                       (models: sht31, sht40, bme280, bh1750, scd41, ads1115, mpu6050, ina219)
  --interval DURATION  telemetry interval (default 60s)
  --ota-key KEY        trust this OTA signing key (130 hex digits, or the ota-public-key.pem
                       thingkit ota keygen wrote) instead of the one built into the firmware
  --payload json|cbor  telemetry encoding (default json; cbor: content type application/cbor)
  --state DIR          keep device flash images in DIR (default: a temporary folder)
  --scenario FILE      run a scenario file on virtual time against the local hub: outages,
                       broker restarts, device restarts, power cuts and time sync at given
                       times (see docs/CONNECTIVITY.md); prints what happened and a summary
                       of every reading: sent, received, duplicates dropped, dropped, lost.
                       Exit code 1 when a reading was lost or arrived out of order.
  --json               one JSON object per line instead of text
`;

interface SimArguments {
  engine: 'xs' | 'node';
  devices: number;
  board: string;
  durationMs?: number;
  virtualTime: boolean;
  broker?: string;
  intervalMs?: number;
  payloadFormat?: 'json' | 'cbor';
  stateDir?: string;
  json: boolean;
  sensors?: string;
  bare: boolean;
  hubHttpPort?: number;
  tls: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  otaKey?: string;
  scenario?: Scenario;
  devicesGiven: boolean;
}

export function parseSimArguments(argv: string[]): SimArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        engine: { type: 'string', default: 'xs' },
        devices: { type: 'string', default: '1' },
        board: { type: 'string', default: 'esp32-devkitc' },
        for: { type: 'string' },
        'virtual-time': { type: 'boolean', default: false },
        broker: { type: 'string' },
        interval: { type: 'string' },
        payload: { type: 'string' },
        state: { type: 'string' },
        json: { type: 'boolean', default: false },
        tls: { type: 'boolean', default: false },
        bare: { type: 'boolean', default: false },
        'hub-http-port': { type: 'string' },
        sensors: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'ota-key': { type: 'string' },
        scenario: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see thingkit sim --help`);
  }
  const v = parsed.values;
  if (v.engine !== 'xs' && v.engine !== 'node') throw new UsageError(`--engine must be xs or node (got "${v.engine}")`);
  const devices = Number(v.devices);
  if (!/^\d+$/.test(v.devices!) || devices < 1 || devices > 10_000) {
    throw new UsageError(`--devices must be a whole number from 1 to 10000 (got "${v.devices}")`);
  }
  if (v.payload !== undefined && v.payload !== 'json' && v.payload !== 'cbor') throw new UsageError(`--payload must be json or cbor (got "${v.payload}")`);
  if (!(v.board! in boards)) {
    throw new UsageError(`unknown board "${v.board}"; known boards: ${Object.keys(boards).join(', ')}`);
  }
  if (v.scenario !== undefined) {
    if (v.broker || v.bare || v.tls) throw new UsageError('--scenario runs against the local hub (it de-duplicates and counts): leave out --broker, --bare and --tls');
    if (v.for !== undefined) throw new UsageError('--scenario: the scenario file says how long it runs ("duration"); leave out --for');
  }
  return {
    scenario: v.scenario === undefined ? undefined : readScenario(v.scenario),
    devicesGiven: argv.some((arg) => arg === '--devices' || arg.startsWith('--devices=')),
    engine: v.engine,
    devices,
    board: v.board!,
    durationMs: v.for === undefined ? undefined : parseDuration(v.for, '--for'),
    virtualTime: v['virtual-time']!,
    broker: v.broker,
    intervalMs: v.interval === undefined ? undefined : parseDuration(v.interval, '--interval'),
    payloadFormat: v.payload as SimArguments['payloadFormat'],
    stateDir: v.state,
    json: v.json!,
    tls: v.tls!,
    bare: v.bare! || v.tls!,
    hubHttpPort: v['hub-http-port'] === undefined ? undefined : port(v['hub-http-port'], '--hub-http-port'),
    sensors: v.sensors,
    ...tlsFiles(v),
    otaKey: v['ota-key'] === undefined ? undefined : otaKeyHex(v['ota-key']),
  };
}

function readScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--scenario ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    return parseScenario(text, file);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    throw error;
  }
}

/** --ota-key: hex of the raw public key, or a public key PEM file; returned as hex (config otaPublicKey). */
function otaKeyHex(value: string): string {
  try {
    if (/^[0-9a-fA-F]+$/.test(value.trim())) return publicKeyToHex(publicKeyFromHex(value));
    return publicKeyToHex(publicKeyFromPem(readFileSync(value, 'utf8')));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--ota-key ${value}: ${code === 'ENOENT' ? 'neither 130 hex digits nor an existing file' : (error as Error).message}`);
  }
}

function port(text: string, option: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 65535) throw new UsageError(`${option} must be a port number from 1 to 65535 (got "${text}")`);
  return value;
}

function tlsFiles(v: { tls?: boolean; broker?: string; ca?: string; cert?: string; key?: string }) {
  if (v.tls && v.broker) throw new UsageError('--tls is for the embedded broker; for your own broker use an mqtts:// URL with --ca (and --cert, --key)');
  if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('--cert and --key go together: give both or neither');
  if ((v.ca || v.cert) && !v.broker?.startsWith('mqtts://')) throw new UsageError('--ca, --cert and --key need an mqtts:// --broker');
  const read = (option: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      const text = readFileSync(file, 'utf8');
      if (!text.includes('-----BEGIN')) throw new Error('it holds no PEM block');
      return text;
    } catch (error) {
      throw new UsageError(`${option} ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  };
  return { ca: read('--ca', v.ca), cert: read('--cert', v.cert), key: read('--key', v.key) };
}

export async function simCommand(argv: string[], out: (line: string) => void = (line) => process.stdout.write(line + '\n')): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(SIM_USAGE);
    return 0;
  }
  const args = parseSimArguments(argv);
  if (args.scenario) return scenarioCommand(args, args.scenario, out);
  const counts = new Map<string, number>();
  const lastMeterAt = new Map<string, number>();
  const sink = (event: SimEvent) => {
    counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
    if (args.json) return out(formatJson(event));
    if (event.type === 'meter') {
      // People need a meter line now and then, not after every event.
      const last = lastMeterAt.get(event.device);
      if (last !== undefined && event.t >= last && event.t - last < 60_000) return;
      lastMeterAt.set(event.device, event.t);
    }
    out(formatHuman(event));
  };

  const config: { [key: string]: number | string } = {};
  if (args.intervalMs !== undefined) config.telemetryIntervalMs = args.intervalMs;
  if (args.otaKey !== undefined) config.otaPublicKey = args.otaKey;
  if (args.payloadFormat !== undefined) config.payloadFormat = args.payloadFormat;
  let simulation: Simulation;
  try {
    simulation = await Simulation.start({
      engine: args.engine,
      devices: args.devices,
      board: args.board,
      timeMode: args.virtualTime ? 'virtual' : 'realtime',
      broker: args.broker,
      stateDir: args.stateDir,
      sensors: args.sensors,
      hub: !args.broker && !args.bare,
      hubHttpPort: args.hubHttpPort,
      tls: args.tls ? {} : args.ca ? { ca: args.ca, clientCertificate: args.cert ? () => ({ cert: args.cert!, key: args.key! }) : undefined } : undefined,
      config,
      sink,
    });
  } catch (error) {
    if (error instanceof FirmwareError) throw new SimulationError(`the firmware failed at boot: ${error.message}`);
    throw error;
  }
  if (!args.json) {
    const until = args.durationMs === undefined ? 'until Ctrl-C' : `for ${formatDuration(args.durationMs)}`;
    const hub = simulation.localHub;
    const where = hub ? `local hub ${hub.mqttUrl} (HTTP API ${hub.httpUrl})` : `broker ${simulation.brokerUrl}`;
    out(`thingkit: ${args.devices} device(s) on ${args.engine}, ${args.virtualTime ? 'virtual' : 'real'} time, ${where}, ${until}`);
  }
  const interrupt = () => void simulation.stop();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const started = performance.now();
  try {
    await simulation.run(args.durationMs);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await simulation.stop();
  }
  if (!args.json) {
    const summary = [...counts].map(([type, n]) => `${type}=${n}`).join(' ');
    out(`thingkit: done in ${((performance.now() - started) / 1000).toFixed(1)} s of wall time: ${summary}`);
  }
  return 0;
}

/** `thingkit sim --scenario FILE`: the scenario's events as they happen, then the account. */
async function scenarioCommand(args: SimArguments, scenario: Scenario, out: (line: string) => void): Promise<number> {
  // Text output shows the scenario and what it disturbs, at simulation time, not every
  // reading nor every failed reconnect; --json shows everything, with `at` (simulation ms).
  const shown = new Set(['scenario', 'connected', 'disconnected', 'power-cut', 'restart', 'error', 'boot']);
  const online = new Map<string, boolean>();
  let now = () => 0;
  const sink = (event: SimEvent) => {
    if (args.json) return out(formatJson({ ...event, at: now() }));
    if (!shown.has(event.type)) return;
    if (event.type === 'connected' || event.type === 'disconnected') {
      const up = event.type === 'connected';
      if (online.get(event.device) === up) return;
      online.set(event.device, up);
    }
    out(formatHuman({ ...event, t: now() }));
  };
  const config: { [key: string]: number | string } = {};
  if (args.intervalMs !== undefined) config.telemetryIntervalMs = args.intervalMs;
  if (args.otaKey !== undefined) config.otaPublicKey = args.otaKey;
  if (args.payloadFormat !== undefined) config.payloadFormat = args.payloadFormat;
  const devices = args.devicesGiven ? args.devices : (scenario.devices ?? 1);
  if (!args.json) {
    const about = scenario.description ? ` "${scenario.description}"` : '';
    out(`thingkit: scenario${about}: ${devices} device(s) on ${args.engine}, ${formatDuration(scenario.durationMs)} of virtual time, ${scenario.events.length} event(s)`);
  }
  const started = performance.now();
  let run;
  try {
    run = await startScenario(scenario, { engine: args.engine, devices, board: args.board, stateDir: args.stateDir, sensors: args.sensors, hubHttpPort: args.hubHttpPort, config, sink });
  } catch (error) {
    if (error instanceof FirmwareError) throw new SimulationError(`the firmware failed at boot: ${error.message}`);
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    throw error;
  }
  now = () => run.simulation.scheduler.now();
  const interrupt = () => void run.simulation.stop();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let summary: ScenarioSummary;
  try {
    summary = await run.run();
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  if (args.json) out(JSON.stringify({ type: 'summary', wallSeconds: +wallSeconds.toFixed(1), ...summary }));
  else for (const line of summaryLines(summary, scenario, wallSeconds)) out(line);
  return summary.lost > 0 || summary.outOfOrder > 0 || summary.notStored > 0 ? 1 : 0;
}

function summaryLines(summary: ScenarioSummary, scenario: Scenario, wallSeconds: number): string[] {
  const settled = summary.simulatedMs - scenario.durationMs;
  const counts = (a: Omit<ScenarioSummary, 'devices' | 'perDevice' | 'simulatedMs' | 'peakPerSecond' | 'drainLimitPerSecond'>) =>
    `sent ${a.sent}, received ${a.received}, duplicates dropped ${a.duplicates}, dropped by the outbox ${a.dropped}, lost ${a.lost}, out of order ${a.outOfOrder}` +
    (a.notStored > 0 ? `, not stored ${a.notStored} (the device's telemetry events say why)` : '');
  const lines = [
    `thingkit: scenario done: ${formatDuration(summary.simulatedMs)} simulated${settled > 0 ? ` (${formatDuration(settled)} of it delivering what was left)` : ''} in ${wallSeconds.toFixed(1)} s`,
    `  readings: ${counts(summary)}`,
    `  hub: at most ${summary.peakPerSecond} message(s) in one second (the fleet's drain limit: ${summary.drainLimitPerSecond}/s)`,
    `  devices: ${summary.connections} connection(s), ${summary.restarts} restart(s), ${summary.powerCuts} power cut(s)`,
  ];
  if (summary.perDevice.length > 1 && summary.perDevice.length <= 20) for (const d of summary.perDevice) lines.push(`  ${d.device}: ${counts(d)}`);
  const problems = [
    summary.lost > 0 ? `${summary.lost} reading(s) lost` : '',
    summary.outOfOrder > 0 ? `${summary.outOfOrder} reading(s) out of order` : '',
    summary.notStored > 0 ? `${summary.notStored} reading(s) the device could not store` : '',
  ].filter(Boolean);
  lines.push(problems.length > 0 ? `thingkit: ${problems.join(', ')}` : 'thingkit: every reading accounted for');
  return lines;
}

/**
 * MQTT over TLS with mutual X.509, on both engines: against the embedded aedes broker and
 * against a real mosquitto with `require_certificate true`. Wrong credentials are refused,
 * reported with the reason, and retried with backoff, never in a tight loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { developmentPki, readPem } from '../../host-sim/tls/certificates';
import { Mosquitto } from '../support/mosquitto';
import { TestSubscriber } from '../support/mqtt-subscriber';
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const DEVICE = 'esp32-devkitc-001';
const TELEMETRY = 'devices/+/messages/events/#';

let mosquitto: Mosquitto;
beforeAll(async () => {
  mosquitto = await Mosquitto.start();
});
afterAll(() => mosquitto?.stop());

const pem = (files: { cert: string; key: string }) => ({ cert: readPem(files.cert), key: readPem(files.key) });

describe.each(ENGINES)('TLS on the %s engine', (engine) => {
  test('embedded broker: mutual TLS from a development PKI, telemetry delivered', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'thingkit-tls-'));
    const run = await startSimulation({ engine, tls: {}, stateDir });
    try {
      const pki = developmentPki(path.join(stateDir, 'pki'));
      const broker = run.simulation.embeddedBroker!;
      const subscriber = await TestSubscriber.connect(broker.host, broker.port, TELEMETRY, {
        tls: { ca: readPem(pki.ca.cert), ...pem(pki.client('test-subscriber')) },
      });
      await run.simulation.run(5 * 60_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      subscriber.close();
      expect(run.of('connected')).toHaveLength(1);
      const sent = run.of('telemetry').filter((e) => e.sent).map((e) => e.seq);
      expect(sent.length).toBeGreaterThanOrEqual(5);
      expect(subscriber.sequences(DEVICE)).toEqual(sent);
      expect(run.of('log').filter((e) => /without TLS/.test(e.message as string))).toEqual([]);
    } finally {
      await run.simulation.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('mosquitto with require_certificate: connects with its certificate and delivers QoS 1 telemetry', async () => {
    const pki = mosquitto.pki;
    const run = await startSimulation({
      engine,
      broker: mosquitto.url,
      tls: { ca: readPem(pki.ca.cert), clientCertificate: (id) => pem(pki.client(id)) },
    });
    try {
      const subscriber = await TestSubscriber.connect('127.0.0.1', mosquitto.port, TELEMETRY, {
        clientId: `subscriber-${engine}`,
        tls: { ca: readPem(pki.ca.cert), ...pem(pki.client(`subscriber-${engine}`)) },
      });
      await run.simulation.run(5 * 60_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      subscriber.close();
      expect(run.of('connected')).toHaveLength(1);
      const sent = run.of('telemetry').filter((e) => e.sent).map((e) => e.seq);
      expect(sent.length).toBeGreaterThanOrEqual(5);
      expect(subscriber.sequences(DEVICE)).toEqual(sent);
    } finally {
      await run.simulation.stop();
    }
  });

  test.each([
    ['no client certificate', () => undefined],
    ['an expired client certificate', (id: string) => pem(mosquitto.pki.client(id, { expired: true }))],
    ['a certificate from another CA', (id: string) => pem(developmentPki(mkdtempSync(path.join(os.tmpdir(), 'other-ca-')), 'rogue').client(id))],
  ])('mosquitto refuses %s; the device backs off', async (_what, clientCertificate) => {
    const run = await startSimulation({
      engine,
      broker: mosquitto.url,
      tls: { ca: readPem(mosquitto.pki.ca.cert), clientCertificate },
    });
    try {
      await run.simulation.run(10 * 60_000);
      expect(run.of('connected')).toEqual([]);
      const failures = run.of('disconnected');
      expect(failures.length).toBeGreaterThanOrEqual(3);
      // Full-jitter backoff up to a minute: far fewer attempts than a tight loop would make.
      expect(failures.length).toBeLessThan(40);
      for (const failure of failures) expect(failure.reason).toMatch(/tls|reset|closed|certificate|broker closed/i);
      expect(run.of('error')).toEqual([]);
    } finally {
      await run.simulation.stop();
    }
  });

  test('a device that does not trust the broker CA refuses the broker', async () => {
    const rogue = developmentPki(mkdtempSync(path.join(os.tmpdir(), 'rogue-ca-')), 'rogue');
    const run = await startSimulation({
      engine,
      broker: mosquitto.url,
      tls: { ca: readPem(rogue.ca.cert), clientCertificate: (id) => pem(mosquitto.pki.client(id)) },
    });
    try {
      await run.simulation.run(3 * 60_000);
      expect(run.of('connected')).toEqual([]);
      expect(run.of('disconnected')[0].reason).toMatch(/tls: .*(certificate|self.signed|verify)/i);
    } finally {
      await run.simulation.stop();
    }
  });
});

/**
 * Network faults on virtual time, on both engines: a broker restart mid-stream, a dropped
 * connection, a half-open connection (no PINGRESP), a CONNACK refusal. The device reconnects
 * with backoff each time, and every QoS 1 telemetry message it accepted reaches a
 * subscriber at least once (counted at the subscriber).
 */
import { readPem } from '../../host-sim/tls/certificates';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../host-sim/broker';
import { FaultLink } from '../../host-sim/fault-link';
import { Mosquitto } from '../support/mosquitto';
import { TestSubscriber } from '../support/mqtt-subscriber';
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const DEVICE = 'esp32-devkitc-001';
const TELEMETRY = 'devices/+/messages/events/#';
const MINUTE = 60_000;
/** Lets real sockets deliver what a fault caused before virtual time moves on. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

function acceptedSequences(run: TestRun): number[] {
  return run
    .of('telemetry')
    .filter((e) => e.sent)
    .map((e) => e.seq as number);
}

describe.each(ENGINES)('faults on the %s engine', (engine) => {
  let broker: EmbeddedBroker;
  let link: FaultLink;
  let subscriber: TestSubscriber;
  let run: TestRun;
  const marks: { [fault: string]: number } = {};

  beforeAll(async () => {
    broker = await startEmbeddedBroker();
    link = await FaultLink.start({ host: broker.host, port: broker.port });
    subscriber = await TestSubscriber.connect(broker.host, broker.port, TELEMETRY, { clientId: `faults-${engine}` });
    run = await startSimulation({ engine, broker: `mqtt://127.0.0.1:${link.port}` });
    const sim = run.simulation;

    await sim.run(2 * MINUTE + 20_000);
    marks.restart = sim.scheduler.now();
    await broker.restart();
    await subscriber.whenSubscribed();

    await sim.run(4 * MINUTE + 20_000);
    marks.drop = sim.scheduler.now();
    link.dropAll();
    await settle();

    await sim.run(6 * MINUTE + 20_000);
    await settle();
    marks.halfOpen = sim.scheduler.now();
    link.blackhole(true);
    await sim.run(9 * MINUTE + 20_000);
    link.blackhole(false);

    await sim.run(11 * MINUTE + 20_000);
    marks.refusal = sim.scheduler.now();
    broker.aedes.authenticate = (_client, _username, _password, done) =>
      done(Object.assign(new Error('not authorized'), { returnCode: 5 as const }), false);
    link.dropAll();
    await settle();
    await sim.run(13 * MINUTE + 20_000);
    broker.aedes.authenticate = (_client, _username, _password, done) => done(null, true);

    await sim.run(20 * MINUTE);
    await settle();
  });

  afterAll(async () => {
    await run?.simulation.stop();
    subscriber?.close();
    await link?.close();
    await broker?.close();
  });

  const disconnectsAfter = (from: number) => run.of('disconnected', DEVICE).filter((e) => e.t >= from);

  test('a broker restart: the device notices the closed connection and reconnects', () => {
    const [first] = disconnectsAfter(marks.restart);
    expect(first.t).toBe(marks.restart);
    expect(first.reason).toMatch(/closed|reset/);
  });

  test('a dropped connection: noticed at once, reconnected', () => {
    const [first] = disconnectsAfter(marks.drop);
    expect(first.t).toBe(marks.drop);
  });

  test('a half-open connection is detected by the ping timeout within 1.5 x keepalive', () => {
    const [first] = disconnectsAfter(marks.halfOpen);
    expect(first.reason).toMatch(/ping/i);
    expect(first.t - marks.halfOpen).toBeLessThanOrEqual(90_000);
  });

  test('a CONNACK refusal is reported with its reason and retried with backoff', () => {
    const refusals = disconnectsAfter(marks.refusal).filter((e) => /not authorized/.test(e.reason as string));
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    expect(refusals.length).toBeLessThan(20); // backoff, not a tight loop, over two minutes
    const delays = refusals.map((e) => e.retryInMs as number);
    expect(Math.max(...delays)).toBeGreaterThan(1000);
  });

  test('connected again at the end, after every fault', () => {
    const connects = run.of('connected', DEVICE);
    expect(connects.length).toBeGreaterThanOrEqual(5);
    expect(connects[connects.length - 1].t).toBeGreaterThan(marks.refusal);
    expect(run.of('error')).toEqual([]);
  });

  test('zero QoS 1 loss: every accepted telemetry message reached the subscriber', () => {
    const accepted = acceptedSequences(run);
    expect(accepted.length).toBeGreaterThanOrEqual(20);
    expect(subscriber.sequences(DEVICE)).toEqual(accepted);
  });
});

describe.each(ENGINES)('mosquitto restart on the %s engine', (engine) => {
  test('over mutual TLS, the device reconnects and loses no QoS 1 message', async () => {
    const mosquitto = await Mosquitto.start();
    const pki = mosquitto.pki;
    const pem = (files: { cert: string; key: string }) => ({ cert: readPem(files.cert), key: readPem(files.key) });
    const subscriber = await TestSubscriber.connect('127.0.0.1', mosquitto.port, TELEMETRY, {
      clientId: `restart-${engine}`,
      tls: { ca: readPem(pki.ca.cert), ...pem(pki.client(`restart-${engine}`)) },
    });
    const run = await startSimulation({ engine, broker: mosquitto.url, tls: { ca: readPem(pki.ca.cert), clientCertificate: (id) => pem(pki.client(id)) } });
    try {
      await run.simulation.run(3 * MINUTE + 30_000);
      await mosquitto.restart();
      await subscriber.whenSubscribed();
      await run.simulation.run(8 * MINUTE);
      await settle();
      expect(run.of('connected').length).toBeGreaterThanOrEqual(2);
      const accepted = acceptedSequences(run);
      expect(accepted.length).toBeGreaterThanOrEqual(8);
      expect(subscriber.sequences(DEVICE)).toEqual(accepted);
    } finally {
      await run.simulation.stop();
      subscriber.close();
      await mosquitto.stop();
    }
  });
});

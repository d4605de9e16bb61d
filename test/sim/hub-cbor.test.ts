/**
 * CBOR telemetry end to end, on both engines: with `payloadFormat: 'cbor'` the device sends
 * its telemetry as CBOR with content type application/cbor, and the local hub decodes the
 * readings for its store and HTTP API; over generic MQTT the topic carries `$.ct` too.
 */
import { decodeCbor } from '../../firmware/codec/cbor/decode';
import { telemetryView } from '../../hub/service';
import { TestSubscriber } from '../support/mqtt-subscriber';
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const DEVICE = 'esp32-devkitc-001';
const MINUTE = 60_000;

interface Telemetry {
  seq: number;
  uptimeMs: number;
  readings: { sht31: { temperature: number; humidity: number } };
}

describe.each(ENGINES)('CBOR telemetry to the local hub on the %s engine', (engine) => {
  let run: TestRun;

  beforeAll(async () => {
    run = await startSimulation({ engine, hub: true, config: { payloadFormat: 'cbor' } });
    await run.simulation.run(4 * MINUTE);
  });
  afterAll(() => run?.simulation.stop());

  test('the hub receives CBOR with content type application/cbor and decodes the readings', async () => {
    const hub = run.simulation.localHub!;
    const messages = hub.store.telemetry.recent(DEVICE);
    expect(messages.length).toBeGreaterThanOrEqual(3);
    const sent = new Map(run.of('telemetry', DEVICE).map((e) => [e.seq as number, e]));
    for (const message of messages) {
      // Binary: a content type and no content encoding.
      expect(message.systemProperties).toEqual(expect.objectContaining({ contentType: 'application/cbor' }));
      expect(message.systemProperties.contentEncoding).toBeUndefined();
      expect(message.payload[0]! >> 5).toBe(5); // a CBOR map, not JSON text
      expect('body' in message.cbor!).toBe(true);
      const body = (message.cbor as { body: Telemetry }).body;
      expect(body).toEqual({ seq: expect.any(Number), uptimeMs: expect.any(Number), readings: { sht31: { temperature: expect.any(Number), humidity: expect.any(Number) } } });
      // The readings the device logged are the ones the hub shows, exactly (no float rounding on the way).
      const event = sent.get(body.seq)!;
      expect(event).toBeDefined();
      expect(body.readings).toEqual(event.readings);
      expect(message.payload.length).toBe(event.bytes);
      expect(message.payload.length).toBeLessThan(Buffer.byteLength(JSON.stringify(body)));
      // The firmware's own decoder reads it the same way.
      expect(decodeCbor(message.payload)).toEqual(body);
      expect(telemetryView(message).body).toEqual(body);
    }
    expect(hub.log.recent({ event: 'telemetry.cbor' })).toEqual([]);
    const response = await fetch(`${hub.httpUrl}/devices/${DEVICE}/telemetry?limit=1`);
    const [view] = (await response.json()) as { body: Telemetry; systemProperties: { contentType: string } }[];
    expect(view.systemProperties.contentType).toBe('application/cbor');
    expect(view.body.readings.sht31.temperature).toBeGreaterThan(-10);
    expect(view.body.readings.sht31.temperature).toBeLessThan(45);
    expect(run.of('error')).toEqual([]);
  });
});

describe.each(ENGINES)('CBOR telemetry over generic MQTT on the %s engine', (engine) => {
  test('the topic carries $.ct=application/cbor and the payload is CBOR', async () => {
    const run = await startSimulation({ engine, config: { payloadFormat: 'cbor' } });
    const broker = run.simulation.embeddedBroker!;
    const subscriber = await TestSubscriber.connect(broker.host, broker.port, 'devices/+/messages/events/#');
    try {
      await run.simulation.run(3 * MINUTE);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(subscriber.messages.length).toBeGreaterThanOrEqual(2);
      for (const message of subscriber.messages) {
        // The simulator's devices know the wall clock: every reading carries its creation time.
        expect(message.topic).toMatch(
          new RegExp(`^devices/${DEVICE}/messages/events/%24\\.ct=application%2Fcbor&%24\\.mid=${DEVICE}-[0-9a-f]{8}-\\d+&%24\\.ctime=\\d{4}-\\d\\d-\\d\\dT\\d\\d%3A\\d\\d%3A\\d\\d\\.\\d{3}Z$`),
        );
        expect(decodeCbor(message.payload)).toMatchObject({ seq: expect.any(Number), readings: { sht31: { temperature: expect.any(Number) } } });
      }
    } finally {
      subscriber.close();
      await run.simulation.stop();
    }
  });
});

test('an unknown payloadFormat stops the firmware at boot with a clear message', async () => {
  await expect(startSimulation({ engine: 'node', config: { payloadFormat: 'xml' } })).rejects.toThrow(/config "payloadFormat" must be "json" or "cbor" \(got "xml"\)/);
});

/**
 * The walking skeleton end to end, on both engines: the firmware boots, reads the SHT31
 * model over I2C, connects to the embedded broker and publishes telemetry that a separate
 * subscriber receives.
 */
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';
import { TestSubscriber } from '../support/mqtt-subscriber';

describe.each(ENGINES)('telemetry on the %s engine', (engine) => {
  let run: TestRun;
  let subscriber: TestSubscriber;

  beforeAll(async () => {
    run = await startSimulation({ engine, devices: 2 });
    const broker = run.simulation.embeddedBroker!;
    subscriber = await TestSubscriber.connect(broker.host, broker.port, 'devices/+/messages/events/#');
    await run.simulation.run(10 * 60_000);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the last messages arrive
  });

  afterAll(async () => {
    subscriber?.close();
    await run?.simulation.stop();
  });

  test('each device boots once, from power-on, and connects', () => {
    for (const device of ['esp32-devkitc-001', 'esp32-devkitc-002']) {
      const boots = run.of('boot', device);
      expect(boots).toHaveLength(1);
      expect(boots[0]).toMatchObject({ engine, version: '1.0.0', board: 'esp32-devkitc', resetReason: 'power-on' });
      expect(run.of('connected', device).length).toBeGreaterThanOrEqual(1);
    }
    expect(run.of('error')).toEqual([]);
  });

  test('telemetry every minute with plausible SHT31 readings', () => {
    const telemetry = run.of('telemetry', 'esp32-devkitc-001');
    expect(telemetry.length).toBeGreaterThanOrEqual(10);
    for (const event of telemetry) {
      expect(event.sent).toBe(true);
      const reading = (event.readings as { sht31: { temperature: number; humidity: number } }).sht31;
      expect(reading.temperature).toBeGreaterThan(-10);
      expect(reading.temperature).toBeLessThan(45);
      expect(reading.humidity).toBeGreaterThan(0);
      expect(reading.humidity).toBeLessThan(100);
    }
    const times = telemetry.map((e) => e.t);
    for (let i = 2; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(60_000);
  });

  test('the subscriber receives every message the devices sent, as JSON on the IoT Hub topic', () => {
    const sent = run.of('telemetry').filter((e) => e.sent).length;
    expect(subscriber.messages).toHaveLength(sent);
    const first = subscriber.messages.find((m) => m.topic.startsWith('devices/esp32-devkitc-002/messages/events/'))!;
    // A stable message id for de-duplication, and the reading's creation time (the simulator's devices know the wall clock).
    expect(first.topic).toMatch(/^devices\/esp32-devkitc-002\/messages\/events\/%24\.mid=esp32-devkitc-002-[0-9a-f]{8}-\d+&%24\.ctime=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\d\.\d{3}Z$/);
    const body = JSON.parse(first.payload.toString());
    expect(body).toMatchObject({ seq: 1, readings: { sht31: { temperature: expect.any(Number), humidity: expect.any(Number) } } });
  });

  test('devices read their own sensors (different noise per device)', () => {
    const a = run.of('telemetry', 'esp32-devkitc-001').map((e) => JSON.stringify(e.readings));
    const b = run.of('telemetry', 'esp32-devkitc-002').map((e) => JSON.stringify(e.readings));
    expect(a).not.toEqual(b);
  });

  if (engine === 'xs') {
    test('the XS engine reports its meters after each batch', () => {
      const meters = run.of('meter', 'esp32-devkitc-001');
      expect(meters.length).toBeGreaterThan(10);
      for (const meter of meters) {
        expect(meter.heapSlots).toBeGreaterThan(meter.firmwareSlots as number);
        expect(meter.firmwareSlots).toBeGreaterThan(0);
        expect(meter.compute).toBeGreaterThan(0);
      }
    });
  } else {
    test('the Node engine reports no meters', () => {
      expect(run.of('meter')).toEqual([]);
    });
  }
});

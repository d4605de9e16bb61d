/**
 * Azure IoT Hub end to end, on both engines, against the local hub: the device provisions
 * through DPS (enrollment group key), connects with SAS, reports its twin, applies
 * `telemetryInterval` and acknowledges it, answers direct methods and receives C2D messages.
 */
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const DEVICE = 'esp32-devkitc-001';
const MINUTE = 60_000;

describe.each(ENGINES)('the local hub on the %s engine', (engine) => {
  let run: TestRun;
  /** The device's reported `outbox` patches, in order. */
  const outboxReports: { [key: string]: unknown }[] = [];

  beforeAll(async () => {
    run = await startSimulation({ engine, hub: true });
    run.simulation.localHub!.front.on('reported', ({ patch }: { patch: { outbox?: { [key: string]: unknown } } }) => {
      if (patch.outbox) outboxReports.push(patch.outbox);
    });
    await run.simulation.run(2 * MINUTE);
  });
  afterAll(() => run?.simulation.stop());

  const hub = () => run.simulation.localHub!;
  const reported = () => hub().store.twins.get(DEVICE)!.reported.properties as { [key: string]: unknown };
  /** Lets the device answer (virtual time runs) while the hub waits for it. */
  async function whileRunning<T>(work: Promise<T>, ms = 30_000): Promise<T> {
    await run.simulation.run(run.simulation.scheduler.now() + ms);
    return work;
  }

  test('provisions through DPS, connects with SAS and reports its twin', () => {
    expect(run.of('provisioned', DEVICE)).toHaveLength(1);
    expect(run.of('connected', DEVICE).length).toBeGreaterThanOrEqual(1);
    expect(hub().store.devices.get(DEVICE)).toBeDefined();
    expect(reported()).toMatchObject({ firmwareVersion: '1.0.0', board: 'esp32-devkitc', resetReason: 'power-on', sensors: ['sht31'] });
    expect(reported().freeHeap).toEqual(expect.any(Number));
    expect(hub().store.telemetry.recent(DEVICE).length).toBeGreaterThanOrEqual(2);
    expect(run.of('error')).toEqual([]);
  });

  test('telemetry carries its creation time; the outbox is reported with its oldest age, and again once the backlog is delivered', () => {
    const messages = hub().store.telemetry.recent(DEVICE);
    expect(messages.length).toBeGreaterThanOrEqual(2);
    for (const message of messages) {
      const created = Date.parse(message.systemProperties.creationTimeUtc!);
      expect(message.systemProperties.creationTimeUtc).toBe(new Date(created).toISOString());
      expect(created).toBeLessThanOrEqual(message.enqueuedAt);
    }
    // The first reading is taken while the device provisions: it is the backlog at connect.
    expect(outboxReports.length).toBeGreaterThanOrEqual(2);
    expect(outboxReports[0]).toEqual({ queued: 1, sent: 0, dropped: 0, capacity: expect.any(Number), oldestAgeMs: expect.any(Number) });
    expect(outboxReports[0]!.oldestAgeMs).toBeGreaterThan(0);
    expect(outboxReports[outboxReports.length - 1]).toEqual({ queued: 0, sent: 1, dropped: 0, capacity: expect.any(Number), oldestAgeMs: null });
    // null removes the property: the twin does not keep a stale age.
    expect(reported().outbox).toMatchObject({ queued: 0, dropped: 0 });
    expect(reported().outbox).not.toHaveProperty('oldestAgeMs');
  });

  test('a desired telemetryInterval applies at once and is acknowledged', async () => {
    const before = run.simulation.scheduler.now();
    const { notified } = hub().service.updateTwin(DEVICE, { properties: { desired: { telemetryInterval: 20_000 } } });
    expect(notified).toBe(true);
    await run.simulation.run(before + 2 * MINUTE);
    const ack = reported().telemetryInterval as { value: number; ac: number; av: number };
    expect(ack).toMatchObject({ value: 20_000, ac: 200 });
    expect(ack.av).toBe(hub().store.twins.get(DEVICE)!.desired.version);
    const times = run
      .of('telemetry', DEVICE)
      .filter((e) => e.t > before + 30_000)
      .map((e) => e.t);
    expect(times.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(20_000);
  });

  test('an invalid desired value is refused with ac 400 and a reason, and changes nothing', async () => {
    hub().service.updateTwin(DEVICE, { properties: { desired: { telemetryInterval: -5 } } });
    await run.simulation.run(run.simulation.scheduler.now() + MINUTE);
    const ack = reported().telemetryInterval as { ac: number; ad: string };
    expect(ack.ac).toBe(400);
    expect(ack.ad).toMatch(/telemetryInterval/);
    const last = run.of('configured', DEVICE).at(-1)!;
    expect(last.telemetryInterval).toBe(20_000);
  });

  test('direct methods: getDiagnostics answers, setLogLevel validates, unknown is 404', async () => {
    const diagnostics = await whileRunning(hub().service.invokeMethod(DEVICE, { methodName: 'getDiagnostics', responseTimeoutInSeconds: 10 }));
    expect(diagnostics.status).toBe(200);
    expect(diagnostics.payload).toMatchObject({ firmwareVersion: '1.0.0', connected: true, telemetryInterval: 20_000 });
    const bad = await whileRunning(hub().service.invokeMethod(DEVICE, { methodName: 'setLogLevel', payload: { level: 'loud' }, responseTimeoutInSeconds: 10 }));
    expect(bad.status).toBe(400);
    const good = await whileRunning(hub().service.invokeMethod(DEVICE, { methodName: 'setLogLevel', payload: { level: 'debug' }, responseTimeoutInSeconds: 10 }));
    expect(good).toMatchObject({ status: 200, payload: { level: 'debug' } });
    const unknown = await whileRunning(hub().service.invokeMethod(DEVICE, { methodName: 'selfDestruct', responseTimeoutInSeconds: 10 }));
    expect(unknown.status).toBe(404);
  });

  test('a cloud-to-device message arrives with its properties and is completed', async () => {
    const sent = hub().service.sendC2d(DEVICE, { payload: 'hello device', properties: { colour: 'green' }, ack: 'full' });
    await run.simulation.run(run.simulation.scheduler.now() + 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const received = run.of('c2d', DEVICE).at(-1)!;
    expect(received).toMatchObject({ body: 'hello device', properties: { colour: 'green' } });
    expect(hub().store.c2d.getBySeq(sent.seq)!.state).toBe('completed');
  });

  test('the reboot method restarts the device, which reconnects without provisioning again', async () => {
    const answer = await whileRunning(hub().service.invokeMethod(DEVICE, { methodName: 'reboot', responseTimeoutInSeconds: 10 }), MINUTE);
    expect(answer.status).toBe(200);
    expect(run.of('restart', DEVICE).map((e) => e.reason)).toContain('software');
    expect(run.of('boot', DEVICE).at(-1)!.resetReason).toBe('software');
    expect(run.of('provisioned', DEVICE)).toHaveLength(1); // the assignment came from settings
    expect(reported().resetReason).toBe('software');
  });
});

describe.each(ENGINES)('X.509 with the local hub on the %s engine', (engine) => {
  test('provisions by certificate thumbprint, connects with its certificate, answers a method', async () => {
    const run = await startSimulation({ engine, hub: true, hubAuth: 'x509' });
    try {
      await run.simulation.run(2 * MINUTE);
      const hub = run.simulation.localHub!;
      expect(run.of('provisioned', DEVICE)).toHaveLength(1);
      expect(run.of('connected', DEVICE).length).toBeGreaterThanOrEqual(1);
      expect(hub.log.recent({ deviceId: DEVICE, event: 'connect' }).at(-1)?.message).toMatch(/X\.509|certificate|thumbprint/i);
      const reported = hub.store.twins.get(DEVICE)!.reported.properties as { [key: string]: unknown };
      expect(reported.firmwareVersion).toBe('1.0.0');
      const answer = hub.service.invokeMethod(DEVICE, { methodName: 'getDiagnostics', responseTimeoutInSeconds: 10 });
      await run.simulation.run(run.simulation.scheduler.now() + 30_000);
      expect((await answer).status).toBe(200);
      expect(hub.store.telemetry.recent(DEVICE).length).toBeGreaterThanOrEqual(2);
    } finally {
      await run.simulation.stop();
    }
  });
});

describe.each(ENGINES)('credentials over time on the %s engine', (engine) => {
  test('SAS tokens are renewed by planned reconnects that lose no telemetry', async () => {
    const run = await startSimulation({ engine, hub: true, config: { sasTtlSeconds: 120, telemetryIntervalMs: 10_000 } });
    try {
      await run.simulation.run(12 * MINUTE);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const connects = run.of('connected', DEVICE).length;
      expect(connects).toBeGreaterThanOrEqual(6); // a renewal every 96 s
      const sent = run.of('telemetry', DEVICE).filter((e) => e.sent).map((e) => e.seq as number);
      const received = new Set(
        run.simulation.localHub!.store.telemetry.recent(DEVICE, { limit: 1000 }).map((m) => JSON.parse(m.payload.toString()).seq as number),
      );
      expect(sent.length).toBeGreaterThanOrEqual(60);
      expect(sent.filter((seq) => !received.has(seq))).toEqual([]);
      expect(run.of('error')).toEqual([]);
    } finally {
      await run.simulation.stop();
    }
  });

  test('a device the hub no longer knows provisions again through DPS', async () => {
    const run = await startSimulation({ engine, hub: true });
    try {
      await run.simulation.run(MINUTE);
      run.simulation.localHub!.service.deleteDevice(DEVICE);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await run.simulation.run(5 * MINUTE);
      expect(run.of('reprovisioning', DEVICE)).toHaveLength(1);
      expect(run.of('provisioned', DEVICE)).toHaveLength(2);
      expect(run.of('connected', DEVICE).at(-1)!.t).toBeGreaterThan(MINUTE);
      expect(run.simulation.localHub!.store.devices.get(DEVICE)).toBeDefined();
    } finally {
      await run.simulation.stop();
    }
  });
});

describe.each(ENGINES)('rules from the twin on the %s engine', (engine) => {
  test('a threshold set as a desired property raises one high-priority alert and clears it with hysteresis', async () => {
    const run = await startSimulation({ engine, hub: true, config: { telemetryIntervalMs: 10_000 } });
    try {
      await run.simulation.run(MINUTE);
      const hub = run.simulation.localHub!;
      const current = (run.of('telemetry', DEVICE).at(-1)!.readings as { sht31: { temperature: number } }).sht31.temperature;
      hub.service.updateTwin(DEVICE, { properties: { desired: { thresholds: { sht31: { temperature: { high: current - 5, hysteresis: 0.5 } } } } } });
      await run.simulation.run(3 * MINUTE);
      const alerts = run.of('alert', DEVICE);
      expect(alerts).toHaveLength(1); // noise around the reading does not chatter: raised once
      expect(alerts[0].alert).toMatchObject({ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'raised' });
      const atHub = hub.store.telemetry.recent(DEVICE, { limit: 1000 }).filter((m) => m.properties.priority === 'high');
      expect(atHub).toHaveLength(1);
      expect(JSON.parse(atHub[0].payload.toString()).alert.state).toBe('raised');
      const reported = hub.store.twins.get(DEVICE)!.reported.properties as { thresholds?: { ac: number; value: unknown } };
      expect(reported.thresholds).toMatchObject({ ac: 200, value: { sht31: { temperature: { high: current - 5, hysteresis: 0.5 } } } });
      hub.service.updateTwin(DEVICE, { properties: { desired: { thresholds: { sht31: { temperature: { high: current + 20, hysteresis: 0.5 } } } } } });
      await run.simulation.run(4 * MINUTE);
      expect(run.of('alert', DEVICE).map((e) => (e.alert as { state: string }).state)).toEqual(['raised', 'cleared']);
    } finally {
      await run.simulation.stop();
    }
  });
});

/**
 * The DPS registration core on fake time, with the response shapes of azure-sdk-for-c's
 * test_az_iot_provisioning_client_parser.c (202 assigning with an operationId and
 * retry-after; 200 assigned with registrationState; 401 with errorCode/trackingId/message;
 * 200 failed with errorCode 400207; disabled) and the DPS MQTT article's flow.
 */
import { DpsRegistration, type DpsEvent, type DpsOutput, type DpsRegistrationOptions } from '../../firmware/iot/azure/dps';
import { AzureError, type AzurePublish } from '../../firmware/iot/azure/types';
import { json, nodeCodec, text } from './support';

const OPERATION = '4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d';
const ASSIGNED = {
  operationId: OPERATION,
  status: 'assigned',
  registrationState: {
    x509: {},
    registrationId: 'myRegistrationId',
    createdDateTimeUtc: '2020-04-10T03:11:13.0276997Z',
    assignedHub: 'contoso.azure-devices.net',
    deviceId: 'my-device-id1',
    status: 'assigned',
    substatus: 'initialAssignment',
    lastUpdatedDateTimeUtc: '2020-04-10T03:11:13.2096201Z',
    etag: 'IjYxMDA4ZDQ2LTAwMDAtMDEwMC0wMDAwLTVlOGZlM2QxMDAwMCI=',
  },
};

class DpsHarness {
  readonly dps: DpsRegistration;
  now = 10_000;
  sent: AzurePublish[] = [];
  events: DpsEvent[] = [];
  private lastTopic = '';

  constructor(options: Partial<DpsRegistrationOptions> = {}) {
    this.dps = new DpsRegistration({ registrationId: 'myRegistrationId', ...options }, nodeCodec);
  }

  apply(out: DpsOutput): void {
    this.sent.push(...out.publish);
    this.events.push(...out.events);
    if (out.publish.length > 0) this.lastTopic = out.publish[out.publish.length - 1].topic;
    expect(out.nextDeadline).toBe(this.dps.nextDeadline());
  }

  start(): void {
    this.apply(this.dps.start(this.now));
    this.apply(this.dps.connected(this.now));
  }

  respond(status: number, body: unknown, retryAfter?: number, rid = this.lastRid()): void {
    const query = retryAfter === undefined ? `$rid=${rid}` : `$rid=${rid}&retry-after=${retryAfter}`;
    this.apply(this.dps.received(`$dps/registrations/res/${status}/?${query}`, json(body), this.now));
  }

  lastRid(): string {
    return /\$rid=([^&]+)/.exec(this.lastTopic)?.[1] as string;
  }

  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const deadline = this.dps.nextDeadline();
      if (deadline === undefined || deadline > target) break;
      this.now = Math.max(this.now, deadline);
      this.apply(this.dps.tick(this.now));
    }
    this.now = target;
  }

  take(): { sent: AzurePublish[]; events: DpsEvent[] } {
    const taken = { sent: this.sent, events: this.events };
    this.sent = [];
    this.events = [];
    return taken;
  }
}

describe('DPS registration', () => {
  test('register; 202 assigning with retry-after 3; poll after 3 s; 200 assigned', () => {
    const h = new DpsHarness({ payload: { modelId: 'dtmi:com:example:Thermostat;1' } });
    h.start();
    let { sent } = h.take();
    expect(sent).toHaveLength(1);
    expect(sent[0].topic).toBe('$dps/registrations/PUT/iotdps-register/?$rid=1');
    expect(JSON.parse(text(sent[0].payload))).toEqual({ registrationId: 'myRegistrationId', payload: { modelId: 'dtmi:com:example:Thermostat;1' } });
    expect(sent[0].qos).toBe(0);
    h.respond(202, { operationId: OPERATION, status: 'assigning' }, 3);
    expect(h.take().events).toEqual([{ type: 'assigning', operationId: OPERATION, retryAfterMs: 3_000 }]);
    h.advance(2_999);
    expect(h.take().sent).toEqual([]);
    h.advance(1);
    ({ sent } = h.take());
    expect(sent.map((message) => message.topic)).toEqual([`$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=${OPERATION}`]);
    expect(sent[0].payload).toEqual(new Uint8Array(0));
    h.respond(200, ASSIGNED);
    expect(h.take().events).toEqual([
      { type: 'assigned', assignment: { assignedHub: 'contoso.azure-devices.net', deviceId: 'my-device-id1', registrationId: 'myRegistrationId', substatus: 'initialAssignment' } },
    ]);
    expect(h.dps.state).toBe('assigned');
    expect(h.dps.nextDeadline()).toBeUndefined();
  });

  test('202 again keeps polling; without retry-after the default is 3 s; retry-after is clamped', () => {
    const h = new DpsHarness({ maxRetryAfterSeconds: 10 });
    h.start();
    h.respond(202, { operationId: OPERATION, status: 'assigning' }); // no retry-after
    expect(h.dps.nextDeadline()).toBe(h.now + 3_000);
    h.advance(3_000);
    h.respond(202, { operationId: OPERATION, status: 'assigning', registrationState: { registrationId: 'myRegistrationId', status: 'assigning' } }, 120);
    expect(h.dps.nextDeadline()).toBe(h.now + 10_000);
    h.advance(10_000);
    h.respond(202, { operationId: OPERATION, status: 'assigning' }, 0);
    expect(h.dps.nextDeadline()).toBe(h.now + 1_000);
    h.advance(1_000);
    expect(h.take().sent.filter((message) => message.topic.includes('operationstatus'))).toHaveLength(3);
  });

  test('the payload of an assignment is passed on', () => {
    const h = new DpsHarness();
    h.start();
    h.respond(200, { ...ASSIGNED, registrationState: { ...ASSIGNED.registrationState, payload: { tier: 'gold' } } });
    expect(h.dps.assignment?.payload).toEqual({ tier: 'gold' });
  });

  test('401 with errorCode, trackingId and message: unauthorized, not retried', () => {
    const h = new DpsHarness();
    h.start();
    h.respond(401, { errorCode: 401002, trackingId: '8ad0463c-6427-4479-9dfa-3e8bb7003e9b', message: 'Invalid certificate.', timestampUtc: '2020-04-10T05:24:22.4718526Z' });
    expect(h.take().events).toEqual([
      {
        type: 'failed',
        error: {
          code: 'unauthorized',
          status: 401,
          errorCode: 401002,
          trackingId: '8ad0463c-6427-4479-9dfa-3e8bb7003e9b',
          message: 'DPS refused the registration with status 401: Invalid certificate.',
        },
      },
    ]);
    expect(h.dps.state).toBe('failed');
    h.advance(600_000);
    expect(h.take().sent).toEqual([]);
  });

  test.each([
    [400, 'bad-request'],
    [403, 'forbidden'],
    [404, 'not-found'],
    [409, 'rejected'],
  ] as const)('status %i ends with %s', (status, code) => {
    const h = new DpsHarness();
    h.start();
    h.respond(status, { errorCode: status * 1000 + 1, message: 'no' });
    expect(h.dps.error).toMatchObject({ code, status, errorCode: status * 1000 + 1 });
  });

  test('status failed with an allocation error; disabled; unassigned', () => {
    const failed = new DpsHarness();
    failed.start();
    failed.respond(200, {
      operationId: OPERATION,
      status: 'failed',
      registrationState: { registrationId: 'myRegistrationId', status: 'failed', errorCode: 400207, errorMessage: 'Custom allocation failed with status code: 400' },
    });
    expect(failed.dps.error).toEqual({ code: 'failed', status: 200, errorCode: 400207, message: 'DPS registration failed: Custom allocation failed with status code: 400' });
    const disabled = new DpsHarness();
    disabled.start();
    disabled.respond(200, { operationId: '', status: 'disabled', registrationState: { registrationId: 'myRegistrationId', status: 'disabled' } });
    expect(disabled.dps.error).toMatchObject({ code: 'disabled', message: 'DPS registration disabled: no reason given' });
    const unassigned = new DpsHarness();
    unassigned.start();
    unassigned.respond(200, { operationId: OPERATION, status: 'unassigned' });
    expect(unassigned.dps.error?.code).toBe('unassigned');
  });

  test('429 waits retry-after and asks again; 5xx backs off; too many retries fail', () => {
    const h = new DpsHarness({ maxRetries: 2 });
    h.start();
    h.respond(429, { message: 'throttled' }, 5);
    expect(h.dps.nextDeadline()).toBe(h.now + 5_000);
    h.advance(5_000);
    expect(h.take().sent.map((message) => message.topic)).toEqual(['$dps/registrations/PUT/iotdps-register/?$rid=1', '$dps/registrations/PUT/iotdps-register/?$rid=2']);
    h.respond(503, {});
    expect(h.dps.nextDeadline()).toBe(h.now + 2_000); // second retry: 2 s
    h.advance(2_000);
    h.respond(500, {});
    expect(h.dps.error).toMatchObject({ code: 'unavailable', status: 500, message: expect.stringMatching(/after 2 retries/) });
  });

  test('lost responses are asked again; late answers to old request ids are ignored', () => {
    const h = new DpsHarness({ requestTimeoutMs: 5_000 });
    h.start();
    const firstRid = h.lastRid();
    h.advance(5_000 + 1_000);
    expect(h.lastRid()).toBe('2');
    h.respond(200, ASSIGNED, undefined, firstRid);
    expect(h.dps.state).toBe('registering');
    h.respond(200, ASSIGNED);
    expect(h.dps.state).toBe('assigned');
  });

  test('a reconnect: a register in flight is sent again; with an operation id, a poll; a planned wait is kept', () => {
    const h = new DpsHarness();
    h.start();
    h.apply(h.dps.disconnected(h.now));
    expect(h.dps.nextDeadline()).toBe(h.now + 120_000); // only the overall timeout while offline
    h.apply(h.dps.connected(h.now));
    expect(h.take().sent.map((message) => message.topic)).toEqual(['$dps/registrations/PUT/iotdps-register/?$rid=1', '$dps/registrations/PUT/iotdps-register/?$rid=2']);
    h.respond(202, { operationId: OPERATION, status: 'assigning' }, 3);
    h.apply(h.dps.disconnected(h.now));
    h.apply(h.dps.connected(h.now));
    expect(h.take().sent).toEqual([]); // the 3 s wait stands
    h.advance(3_000);
    expect(h.take().sent[0].topic).toContain('iotdps-get-operationstatus');
    h.apply(h.dps.disconnected(h.now));
    h.apply(h.dps.connected(h.now));
    expect(h.take().sent[0].topic).toContain('iotdps-get-operationstatus');
  });

  test('the overall timeout', () => {
    const h = new DpsHarness({ timeoutMs: 30_000, requestTimeoutMs: 60_000 });
    h.start();
    h.advance(30_000);
    expect(h.dps.error).toEqual({ code: 'timeout', message: 'no assignment from DPS within 30000 ms' });
  });

  test('responses that break the protocol end with bad-response', () => {
    for (const [status, body] of [
      [202, { status: 'assigning' }],
      [200, { operationId: OPERATION, status: 'assigned', registrationState: {} }],
      [200, { operationId: OPERATION, status: 'sleeping' }],
      [204, {}],
    ] as const) {
      const h = new DpsHarness();
      h.start();
      h.respond(status, body);
      expect(h.dps.error?.code).toBe('bad-response');
    }
    const h = new DpsHarness();
    h.start();
    h.apply(h.dps.received('$dps/registrations/res/200/?$rid=1', new TextEncoder().encode('not json'), h.now));
    expect(h.dps.error?.code).toBe('bad-response');
  });

  test('other topics are not handled; a custom payload JSON cannot carry is a clear error', () => {
    const h = new DpsHarness();
    expect(h.dps.received('$iothub/twin/res/200/?$rid=1', new Uint8Array(0), 0).handled).toBe(false);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => new DpsRegistration({ registrationId: 'r', payload: cyclic as never }, nodeCodec)).toThrow(AzureError);
  });
});

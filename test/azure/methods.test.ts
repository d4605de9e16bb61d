/**
 * Direct methods: request parsing (JSON or empty body, a clear error for bad JSON), response
 * encoding (the MQTT article's `$iothub/methods/res/{status}/?$rid={request id}` with a JSON
 * or empty body, at most 128 KB), and the handler registry (404 unknown, 500 on a throw,
 * bounded handlers and concurrency).
 */
import { badRequestReply, MAX_METHOD_PAYLOAD_BYTES, methodResponse, MethodRegistry, parseMethodRequest, type MethodRequest } from '../../firmware/iot/azure/methods';
import { AzureError } from '../../firmware/iot/azure/types';
import { nodeCodec, text, utf8 } from './support';

describe('parseMethodRequest', () => {
  test('name, request id and JSON payload', () => {
    expect(parseMethodRequest('$iothub/methods/POST/setLed/?$rid=7', utf8('{"on":true}'), nodeCodec)).toEqual({
      ok: true,
      request: { name: 'setLed', requestId: '7', payload: { on: true } },
    });
    expect(parseMethodRequest('$iothub/methods/POST/reboot/?$rid=8', utf8('5'), nodeCodec)).toMatchObject({ ok: true, request: { payload: 5 } });
  });

  test('an empty body is null', () => {
    expect(parseMethodRequest('$iothub/methods/POST/reboot/?$rid=1', new Uint8Array(0), nodeCodec)).toEqual({ ok: true, request: { name: 'reboot', requestId: '1', payload: null } });
  });

  test('bad JSON is a clear error that still names the request, so it can be answered 400', () => {
    const parsed = parseMethodRequest('$iothub/methods/POST/setLed/?$rid=9', utf8('{on:'), nodeCodec);
    expect(parsed).toMatchObject({ ok: false, code: 'bad-json', requestId: '9', name: 'setLed', message: expect.stringMatching(/payload of method "setLed" is not valid JSON/) });
    expect(badRequestReply('x')).toEqual({ status: 400, payload: { message: 'x' } });
  });

  test('other topics and broken method topics', () => {
    expect(parseMethodRequest('$iothub/twin/res/200/?$rid=1', new Uint8Array(0), nodeCodec)).toMatchObject({ ok: false, code: 'no-match' });
    expect(parseMethodRequest('$iothub/methods/POST/x', new Uint8Array(0), nodeCodec)).toMatchObject({ ok: false, code: 'malformed-topic' });
  });
});

describe('methodResponse', () => {
  test('topic with status and the request id; JSON payload or an empty body', () => {
    expect(methodResponse('7', 200, { led: 'on' }, nodeCodec)).toEqual({ topic: '$iothub/methods/res/200/?$rid=7', payload: utf8('{"led":"on"}'), qos: 0 });
    expect(methodResponse('7', 204, undefined, nodeCodec).payload).toEqual(new Uint8Array(0));
    expect(methodResponse('7', 200, null, nodeCodec).payload).toEqual(new Uint8Array(0));
    expect(text(methodResponse('7', 200, 'text', nodeCodec).payload)).toBe('"text"');
  });

  test('limits: 128 KB payload, a status IoT Hub accepts', () => {
    expect(() => methodResponse('7', 200, 'x'.repeat(MAX_METHOD_PAYLOAD_BYTES), nodeCodec)).toThrow(expect.objectContaining({ code: 'too-large' }));
    expect(() => methodResponse('7', 1.5, null, nodeCodec)).toThrow(AzureError);
  });
});

describe('MethodRegistry', () => {
  const request = (name: string, payload: unknown = null): MethodRequest => ({ name, requestId: '1', payload: payload as MethodRequest['payload'] });

  test('a handler’s status and payload; sync and async handlers', async () => {
    const registry = new MethodRegistry();
    registry.set('echo', (payload) => ({ status: 200, payload }));
    registry.set('later', async () => ({ status: 202 }));
    await expect(registry.invoke(request('echo', { a: 1 }))).resolves.toEqual({ status: 200, payload: { a: 1 } });
    await expect(registry.invoke(request('later'))).resolves.toEqual({ status: 202, payload: undefined });
  });

  test('unknown method: 404 with a message', async () => {
    await expect(new MethodRegistry().invoke(request('nope'))).resolves.toEqual({ status: 404, payload: { message: 'no handler for method "nope" on this device' } });
  });

  test('a handler that throws or rejects: 500 with its message; one returning no status: 500', async () => {
    const registry = new MethodRegistry();
    registry.set('boom', () => {
      throw new Error('sensor offline');
    });
    registry.set('reject', () => Promise.reject(new Error('nope')));
    registry.set('bad', () => ({}) as never);
    await expect(registry.invoke(request('boom'))).resolves.toEqual({ status: 500, payload: { message: 'method "boom" failed: sensor offline' } });
    await expect(registry.invoke(request('reject'))).resolves.toEqual({ status: 500, payload: { message: 'method "reject" failed: nope' } });
    await expect(registry.invoke(request('bad'))).resolves.toMatchObject({ status: 500 });
  });

  test('bounded: handlers and concurrent invocations (503 beyond)', async () => {
    const registry = new MethodRegistry({ maxHandlers: 2, maxConcurrent: 1 });
    let release: () => void = () => undefined;
    registry.set('slow', () => new Promise((resolve) => (release = () => resolve({ status: 200 }))));
    registry.set('b', () => ({ status: 200 }));
    expect(() => registry.set('c', () => ({ status: 200 }))).toThrow(/maximum 2/);
    registry.set('b', () => ({ status: 201 })); // replacing is fine
    registry.set('b', undefined);
    expect(registry.has('b')).toBe(false);
    const first = registry.invoke(request('slow'));
    await expect(registry.invoke(request('slow'))).resolves.toMatchObject({ status: 503 });
    expect(registry.busy).toBe(1);
    release();
    await expect(first).resolves.toEqual({ status: 200, payload: undefined });
    expect(registry.busy).toBe(0);
    expect(() => registry.set('a/b', () => ({ status: 200 }))).toThrow(AzureError);
  });
});

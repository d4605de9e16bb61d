/** httpGet over a fake network on virtual time: 200 vs 206, redirects, errors, timeouts, abort. */
import { httpGet, type HttpGetOptions, type HttpResponseInfo } from '../../firmware/iot/http/client';
import type { HttpError } from '../../firmware/iot/http/errors';
import { fakeHttpHal, head } from './fake-net';

function run(setup: ReturnType<typeof fakeHttpHal>, options: Partial<HttpGetOptions> & { url: string }) {
  const result = {
    responses: [] as HttpResponseInfo[],
    chunks: [] as { bytes: Buffer; offset: number }[],
    done: undefined as HttpResponseInfo | undefined,
    error: undefined as HttpError | undefined,
    get body() {
      return Buffer.concat(this.chunks.map((chunk) => chunk.bytes)).toString('latin1');
    },
  };
  const request = httpGet(setup.hal, {
    onResponse: (info) => result.responses.push(info),
    onChunk: (bytes, offset) => result.chunks.push({ bytes: Buffer.from(bytes), offset }),
    onDone: (info) => {
      expect(result.done).toBeUndefined();
      result.done = info;
    },
    onError: (error) => {
      expect(result.error).toBeUndefined();
      result.error = error;
    },
    ...options,
  });
  return { result, request };
}

const IMAGE = 'abcdefghijklmnopqrstuvwxyz';

/** A server for IMAGE that honours `Range: bytes=N-` unless told not to. */
function imageServer(setup: ReturnType<typeof fakeHttpHal>, host = 'files.example', port = 80, options: { ignoreRange?: boolean; chunkedBody?: boolean } = {}) {
  setup.net.servers.set(`${host}:${port}`, (request, connection) => {
    const range = /bytes=(\d+)-/.exec(request.headers.get('range') ?? '');
    if (range && !options.ignoreRange) {
      const start = Number(range[1]);
      const part = IMAGE.slice(start);
      connection.send(head(206, 'Partial Content', [['Content-Range', `bytes ${start}-${IMAGE.length - 1}/${IMAGE.length}`], ['Content-Length', part.length]]) + part);
    } else if (options.chunkedBody) {
      connection.send(head(200, 'OK', [['Transfer-Encoding', 'chunked']]));
      connection.send(`a\r\n${IMAGE.slice(0, 10)}\r\n`);
      connection.send(`${(IMAGE.length - 10).toString(16)}\r\n${IMAGE.slice(10)}\r\n0\r\n\r\n`);
    } else {
      connection.send(head(200, 'OK', [['Content-Length', IMAGE.length]]));
      connection.send(IMAGE.slice(0, 7));
      connection.send(IMAGE.slice(7));
    }
    connection.close(5);
  });
}

test('a 200 download: request line, headers, body in pieces with offsets, done', async () => {
  const setup = fakeHttpHal();
  imageServer(setup);
  const { result } = run(setup, { url: 'http://files.example/fw.bin' });
  expect(setup.net.connections).toHaveLength(0); // nothing happens inside httpGet()
  await setup.time.advance(100);
  const request = setup.net.connections[0].request;
  expect(request?.text).toMatch(/^GET \/fw\.bin HTTP\/1\.1\r\nHost: files\.example\r\n/);
  expect(request?.text).toMatch(/Connection: close\r\n\r\n$/);
  expect(result.error).toBeUndefined();
  expect(result.body).toBe(IMAGE);
  expect(result.chunks.map((chunk) => chunk.offset)).toEqual([0, 7]);
  expect(result.responses[0]).toMatchObject({ status: 200, offset: 0, total: IMAGE.length });
  expect(result.done?.status).toBe(200);
  expect(setup.time.pendingTimers).toBe(0);
  expect(setup.log.lines.some((line) => /without TLS/.test(line.message))).toBe(true);
});

test('a chunked 200 body', async () => {
  const setup = fakeHttpHal();
  imageServer(setup, 'files.example', 80, { chunkedBody: true });
  const { result } = run(setup, { url: 'http://files.example/fw.bin' });
  await setup.time.advance(100);
  expect(result.body).toBe(IMAGE);
  expect(result.responses[0].total).toBeUndefined();
});

test('a ranged request answered with 206 starts at the range', async () => {
  const setup = fakeHttpHal();
  imageServer(setup);
  const { result } = run(setup, { url: 'http://files.example/fw.bin', rangeStart: 10 });
  await setup.time.advance(100);
  expect(setup.net.connections[0].request?.headers.get('range')).toBe('bytes=10-');
  expect(result.responses[0]).toMatchObject({ status: 206, offset: 10, total: IMAGE.length });
  expect(result.chunks[0].offset).toBe(10);
  expect(result.body).toBe(IMAGE.slice(10));
});

test('a ranged request answered with 200 (range ignored) reports offset 0', async () => {
  const setup = fakeHttpHal();
  imageServer(setup, 'files.example', 80, { ignoreRange: true });
  const { result } = run(setup, { url: 'http://files.example/fw.bin', rangeStart: 10 });
  await setup.time.advance(100);
  expect(result.responses[0]).toMatchObject({ status: 200, offset: 0 });
  expect(result.body).toBe(IMAGE);
});

test('a 206 starting elsewhere than asked is a range error', async () => {
  const setup = fakeHttpHal();
  setup.net.servers.set('files.example:80', (_request, connection) => {
    connection.send(head(206, 'Partial Content', [['Content-Range', 'bytes 0-3/26'], ['Content-Length', 4]]) + 'abcd');
  });
  const { result } = run(setup, { url: 'http://files.example/fw.bin', rangeStart: 10 });
  await setup.time.advance(100);
  expect(result.error?.code).toBe('range');
  expect(result.chunks).toEqual([]);
});

test('https: TLS with SNI from the URL host, and the caller CA', async () => {
  const setup = fakeHttpHal();
  imageServer(setup, 'secure.example', 443);
  const ca = new Uint8Array([1, 2, 3]);
  const { result } = run(setup, { url: 'https://secure.example/fw.bin', tls: { ca: [ca] } });
  await setup.time.advance(100);
  expect(result.body).toBe(IMAGE);
  expect(setup.net.connections[0].options.tls).toEqual({ ca: [ca], serverName: 'secure.example' });
});

test('redirects are followed with the range kept, up to maxRedirects', async () => {
  const setup = fakeHttpHal();
  setup.net.servers.set('short.example:80', (request, connection) => {
    connection.send(head(302, 'Found', [['Location', 'http://files.example/real.bin'], ['Content-Length', 3]]) + 'xyz');
  });
  imageServer(setup);
  const { result } = run(setup, { url: 'http://short.example/fw', rangeStart: 20 });
  await setup.time.advance(100);
  expect(result.body).toBe(IMAGE.slice(20));
  expect(setup.net.connections[1].request?.target).toBe('/real.bin');
  expect(setup.net.connections[1].request?.headers.get('range')).toBe('bytes=20-');
  expect(result.done?.url).toBe('http://files.example:80/real.bin');

  const loop = fakeHttpHal();
  loop.net.servers.set('loop.example:80', (_request, connection) => connection.send(head(301, 'Moved', [['Location', '/again']])));
  const looped = run(loop, { url: 'http://loop.example/', maxRedirects: 2 });
  await loop.time.advance(100);
  expect(looped.result.error).toMatchObject({ code: 'status', status: 301 });
  expect(looped.result.error?.message).toMatch(/more than 2 redirects/);
  expect(loop.net.connections).toHaveLength(3);
});

test('error statuses fail with the status and retryability; the query stays out of messages', async () => {
  for (const [status, retryable] of [
    [404, false],
    [403, false],
    [503, true],
    [429, true],
  ] as const) {
    const setup = fakeHttpHal();
    setup.net.servers.set('files.example:80', (_request, connection) => connection.send(head(status, 'Nope', [['Content-Length', 0]])));
    const { result } = run(setup, { url: 'http://files.example/fw.bin?sig=SECRET' });
    await setup.time.advance(100);
    expect(result.error).toMatchObject({ code: 'status', status });
    expect(result.error?.retryable).toBe(retryable);
    expect(result.error?.message).not.toMatch(/SECRET/);
    expect(result.responses).toEqual([]);
  }
});

test('network failures: refused, reset mid-body (truncated), malformed', async () => {
  const refused = fakeHttpHal();
  const a = run(refused, { url: 'http://nowhere.example/x' });
  await refused.time.advance(100);
  expect(a.result.error).toMatchObject({ code: 'network' });
  expect(a.result.error?.retryable).toBe(true);

  const reset = fakeHttpHal();
  reset.net.servers.set('files.example:80', (_request, connection) => {
    connection.send(head(200, 'OK', [['Content-Length', 100]]) + 'partial');
    connection.close();
  });
  const b = run(reset, { url: 'http://files.example/x' });
  await reset.time.advance(100);
  expect(b.result.body).toBe('partial');
  expect(b.result.error).toMatchObject({ code: 'truncated' });
  expect(b.result.done).toBeUndefined();

  const garbage = fakeHttpHal();
  garbage.net.servers.set('files.example:80', (_request, connection) => connection.send('220 smtp.example ESMTP\r\n'));
  const c = run(garbage, { url: 'http://files.example/x' });
  await garbage.time.advance(100);
  expect(c.result.error).toMatchObject({ code: 'malformed' });
});

test('silence for timeoutMs is a timeout, measured from the last byte', async () => {
  const setup = fakeHttpHal();
  setup.net.servers.set('slow.example:80', (_request, connection) => {
    connection.send(head(200, 'OK', [['Content-Length', 4]]) + 'a', 1);
    connection.send('b', 900); // keeps the request alive
    connection.send('c', 1800);
  });
  const { result } = run(setup, { url: 'http://slow.example/x', timeoutMs: 1000 });
  await setup.time.advance(2500);
  expect(result.error).toBeUndefined();
  await setup.time.advance(400);
  expect(result.error).toMatchObject({ code: 'timeout' });
  expect(result.body).toBe('abc');
  expect(setup.time.pendingTimers).toBe(0);
});

test('abort stops every callback, even from inside onChunk', async () => {
  const setup = fakeHttpHal();
  imageServer(setup);
  let calls = 0;
  const holder: { request?: { abort(): void } } = {};
  holder.request = httpGet(setup.hal, {
    url: 'http://files.example/fw.bin',
    onChunk: () => {
      calls++;
      holder.request?.abort();
    },
    onDone: () => calls++,
    onError: () => calls++,
  });
  await setup.time.advance(100);
  expect(calls).toBe(1);
  expect(setup.time.pendingTimers).toBe(0);

  const before = fakeHttpHal();
  imageServer(before);
  const { result, request } = run(before, { url: 'http://files.example/fw.bin' });
  request.abort();
  await before.time.advance(100);
  expect(before.net.connections).toHaveLength(0);
  expect(result.done).toBeUndefined();
  expect(result.error).toBeUndefined();
});

test('a throwing callback closes the connection and the exception propagates', async () => {
  const setup = fakeHttpHal();
  imageServer(setup);
  run(setup, {
    url: 'http://files.example/fw.bin',
    onChunk: () => {
      throw new Error('disk full');
    },
  });
  await expect(setup.time.advance(100)).rejects.toThrow('disk full');
});

test('a bad URL fails through onError, not by throwing', async () => {
  const setup = fakeHttpHal();
  const { result } = run(setup, { url: 'gopher://x' });
  expect(result.error).toBeUndefined();
  await setup.time.advance(1);
  expect(result.error).toMatchObject({ code: 'url' });
});

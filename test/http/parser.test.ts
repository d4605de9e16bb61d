/**
 * The sans-I/O HTTP response parser: framing (Content-Length, chunked, until close), 206 and
 * Content-Range, interim responses, limits, and malformed input, in every split.
 */
import fc from 'fast-check';
import { HttpError } from '../../firmware/iot/http/errors';
import { HttpResponseParser, headerValue, parseContentRange, type HttpParserOptions, type HttpResponseHead } from '../../firmware/iot/http/response';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));

interface Parsed {
  head?: HttpResponseHead;
  body: Uint8Array;
  ended: boolean;
  bodyEvents: number;
}

/** Parses `input` pushed in pieces cut at `cuts` (sorted offsets); `close` calls finish() at the end. */
function parse(input: Uint8Array, cuts: number[] = [], options: { close?: boolean; parser?: HttpParserOptions } = {}): Parsed {
  const parser = new HttpResponseParser(options.parser);
  const result: Parsed = { body: new Uint8Array(0), ended: false, bodyEvents: 0 };
  const parts: Uint8Array[] = [];
  let at = 0;
  const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < input.length))].sort((a, b) => a - b);
  const handle = (events: ReturnType<HttpResponseParser['push']>) => {
    for (const event of events) {
      if (event.type === 'head') result.head = event.head;
      else if (event.type === 'body') {
        parts.push(event.bytes.slice());
        result.bodyEvents++;
      } else result.ended = true;
    }
  };
  for (const point of [...points, input.length]) {
    // A fresh copy per push: body events must be views of the pushed bytes only.
    handle(parser.push(input.slice(at, point)));
    at = point;
  }
  if (options.close) handle(parser.finish());
  result.body = new Uint8Array(Buffer.concat(parts));
  return result;
}

function chunked(body: Uint8Array, sizes: number[], extras = ''): Uint8Array {
  const out: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < body.length) {
    const size = Math.max(1, Math.min(sizes[i++ % Math.max(1, sizes.length)] ?? 1, body.length - at));
    out.push(Buffer.from(`${size.toString(16)}${i % 2 ? extras : ''}\r\n`, 'latin1'), Buffer.from(body.subarray(at, at + size)), Buffer.from('\r\n'));
    at += size;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return new Uint8Array(Buffer.concat(out));
}

function expectError(run: () => unknown, code: HttpError['code'], message?: RegExp): HttpError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe(code);
    if (message) expect((error as HttpError).message).toMatch(message);
    return error as HttpError;
  }
  throw new Error('expected an HttpError');
}

describe('framing', () => {
  test('Content-Length: head, body, end; headers lower-cased and trimmed', () => {
    const response = bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing:   a b  \r\nServer: t\r\n\r\nhello');
    const parsed = parse(response);
    expect(parsed.head).toMatchObject({ status: 200, reason: 'OK', minorVersion: 1, contentLength: 5, chunked: false });
    expect(parsed.head?.headers).toEqual([
      ['content-length', '5'],
      ['x-thing', 'a b'],
      ['server', 't'],
    ]);
    expect(Buffer.from(parsed.body).toString()).toBe('hello');
    expect(parsed.ended).toBe(true);
  });

  test('body events are views of the pushed bytes (no copy, no buffering)', () => {
    const parser = new HttpResponseParser();
    parser.push(bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'));
    const piece = bytes('0123456789');
    const events = parser.push(piece);
    const body = events.find((event) => event.type === 'body');
    expect(body?.type === 'body' && body.bytes.buffer).toBe(piece.buffer);
  });

  test('bytes after the end are ignored', () => {
    const parsed = parse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA'));
    expect(Buffer.from(parsed.body).toString()).toBe('ok');
    expect(parsed.ended).toBe(true);
  });

  test('a body without length runs until the connection closes', () => {
    const response = bytes('HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nall of it');
    const open = parse(response);
    expect(open.ended).toBe(false);
    const closed = parse(response, [20, 60], { close: true });
    expect(closed.head?.minorVersion).toBe(0);
    expect(Buffer.from(closed.body).toString()).toBe('all of it');
    expect(closed.ended).toBe(true);
  });

  test('204 and 304 have no body; Content-Length 0 ends at once', () => {
    for (const status of [204, 304]) {
      const parsed = parse(bytes(`HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`));
      expect(parsed).toMatchObject({ ended: true, bodyEvents: 0 });
    }
    expect(parse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).ended).toBe(true);
  });

  test('chunked: extensions ignored, trailers discarded, Transfer-Encoding beats Content-Length', () => {
    const response = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n4;name=value\r\nWiki\r\n5 \r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n');
    const parsed = parse(response);
    expect(parsed.head?.chunked).toBe(true);
    expect(parsed.head?.contentLength).toBeUndefined();
    expect(Buffer.from(parsed.body).toString()).toBe('Wikipedia in\r\n\r\nchunks.');
    expect(parsed.ended).toBe(true);
  });

  test('a bare LF ends lines too', () => {
    const parsed = parse(bytes('HTTP/1.1 200 OK\nContent-Length: 2\n\nhi'));
    expect(Buffer.from(parsed.body).toString()).toBe('hi');
  });

  test('interim 1xx responses are skipped; 101 is an error', () => {
    const parsed = parse(bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'));
    expect(parsed.head?.status).toBe(200);
    expect(parsed.head?.headers).toEqual([['content-length', '1']]);
    expectError(() => parse(bytes('HTTP/1.1 101 Switching Protocols\r\n\r\n')), 'status');
  });

  test('repeated headers are joined; identical Content-Length values are accepted', () => {
    const parsed = parse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nVia: a\r\nVia: b\r\n\r\nabc'));
    expect(parsed.head?.contentLength).toBe(3);
    expect(headerValue(parsed.head as HttpResponseHead, 'via')).toBe('a, b');
    expect(headerValue(parsed.head as HttpResponseHead, 'missing')).toBeUndefined();
  });
});

describe('206 Partial Content', () => {
  test('Content-Range is parsed and checked against Content-Length', () => {
    const parsed = parse(bytes('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-104/2000\r\nContent-Length: 5\r\n\r\nabcde'));
    expect(parsed.head?.contentRange).toEqual({ start: 100, end: 104, total: 2000 });
    expectError(() => parse(bytes('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-104/2000\r\nContent-Length: 6\r\n\r\n')), 'malformed', /does not match/);
  });

  test('a 206 without a usable Content-Range, or multipart, is refused', () => {
    expectError(() => parse(bytes('HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\n')), 'malformed', /without Content-Range/);
    expectError(() => parse(bytes('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-1/10\r\n\r\n')), 'malformed');
    expectError(() => parse(bytes('HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=x\r\n\r\n')), 'unsupported');
  });

  test('parseContentRange', () => {
    expect(parseContentRange('bytes 0-0/1')).toEqual({ start: 0, end: 0, total: 1 });
    expect(parseContentRange('bytes 10-19/*')).toEqual({ start: 10, end: 19 });
    for (const bad of ['bytes 0-0/0', 'bytes 3-2/10', 'bytes */10', 'items 0-1/2', 'bytes 0-1', 'bytes -1-2/3']) expect(parseContentRange(bad)).toBeUndefined();
  });
});

describe('malformed and oversize responses', () => {
  test.each([
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', 'malformed'],
    ['HTTP/2 status line', 'HTTP/2 200 OK\r\n\r\n', 'malformed'],
    ['status of two digits', 'HTTP/1.1 20 OK\r\n\r\n', 'malformed'],
    ['status 700', 'HTTP/1.1 700 Odd\r\n\r\n', 'malformed'],
    ['header without colon', 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', 'malformed'],
    ['space before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n', 'malformed'],
    ['folded header', 'HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n', 'malformed'],
    ['control character in a value', 'HTTP/1.1 200 OK\r\nX: a\u0001b\r\n\r\n', 'malformed'],
    ['bare CR inside a line', 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', 'malformed'],
    ['Content-Length not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n', 'malformed'],
    ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'malformed'],
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', 'malformed'],
    ['gzip transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'unsupported'],
    ['chunked twice', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 'malformed'],
    ['chunk size not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'malformed'],
    ['chunk data too long', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', 'malformed'],
    ['chunk size too large', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n', 'too-large'],
  ])('%s', (_name, text, code) => {
    expectError(() => parse(bytes(text)), code as HttpError['code']);
  });

  test('status line and headers beyond maxHeaderBytes: too-large, even split byte by byte', () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300)}\r\n\r\n`;
    const input = bytes(big);
    expectError(() => parse(input, [], { parser: { maxHeaderBytes: 256 } }), 'too-large', /256 bytes/);
    expectError(() => parse(input, Array.from({ length: input.length }, (_, i) => i), { parser: { maxHeaderBytes: 256 } }), 'too-large');
    expect(parse(input, [], { parser: { maxHeaderBytes: input.length } }).head?.status).toBe(200);
    expectError(() => parse(input, [], { parser: { maxHeaderBytes: input.length - 1 } }), 'too-large');
  });

  test('more than maxHeaders fields: too-large; trailers have the same limits', () => {
    const many = `HTTP/1.1 200 OK\r\n${Array.from({ length: 5 }, (_, i) => `X-${i}: ${i}\r\n`).join('')}\r\n`;
    expectError(() => parse(bytes(many), [], { parser: { maxHeaders: 4 } }), 'too-large', /more than 4/);
    const trailers = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${Array.from({ length: 5 }, (_, i) => `T-${i}: ${i}\r\n`).join('')}\r\n`;
    expectError(() => parse(bytes(trailers), [], { parser: { maxHeaders: 4 } }), 'too-large');
  });

  test('a chunk-size line of more than 256 bytes is refused', () => {
    expectError(() => parse(bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'x'.repeat(300)}\r\n`)), 'too-large');
  });

  test('the connection closing early: truncated, saying where', () => {
    expectError(() => parse(bytes(''), [], { close: true }), 'truncated', /before any response/);
    expectError(() => parse(bytes('HTTP/1.1 200 OK\r\nContent-'), [], { close: true }), 'truncated', /headers/);
    expectError(() => parse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), [], { close: true }), 'truncated', /after 3 of 10 body bytes/);
    expectError(() => parse(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), [], { close: true }), 'truncated', /chunked/);
  });

  test('after an error every call throws the same error', () => {
    const parser = new HttpResponseParser();
    const first = expectError(() => parser.push(bytes('garbage\r\n')), 'malformed');
    expect(() => parser.push(bytes('HTTP/1.1 200 OK\r\n'))).toThrow(first);
    expect(() => parser.finish()).toThrow(first);
  });

  test('status errors carry the status; retryable follows the kind', () => {
    expect(new HttpError('status', 'x', 503).retryable).toBe(true);
    expect(new HttpError('status', 'x', 429).retryable).toBe(true);
    expect(new HttpError('status', 'x', 404).retryable).toBe(false);
    expect(new HttpError('status', 'x', 301).retryable).toBe(false);
    expect(new HttpError('timeout', 'x').retryable).toBe(true);
    expect(new HttpError('url', 'x').retryable).toBe(false);
  });
});

describe('any split gives the same result (fast-check)', () => {
  const body = fc.uint8Array({ minLength: 0, maxLength: 600 });
  const cuts = fc.array(fc.nat({ max: 2000 }), { maxLength: 30 });
  const headerPairs = fc.array(
    fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/), fc.stringMatching(/^[ -~]{0,40}$/).map((value) => value.trim())),
    { maxLength: 6 },
  );

  test('Content-Length bodies', () => {
    fc.assert(
      fc.property(body, headerPairs, cuts, (payload, pairs, points) => {
        const head = `HTTP/1.1 200 OK\r\n${pairs.map(([name, value]) => `${name}: ${value}\r\n`).join('')}Content-Length: ${payload.length}\r\n\r\n`;
        const input = new Uint8Array(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(payload)]));
        const parsed = parse(input, points);
        expect(parsed.ended).toBe(true);
        expect(parsed.body).toEqual(payload);
        expect(parsed.head?.headers.slice(0, pairs.length)).toEqual(pairs.map(([name, value]) => [name.toLowerCase(), value]));
      }),
      { numRuns: 300 },
    );
  });

  test('chunked bodies, any chunk sizes, with extensions', () => {
    fc.assert(
      fc.property(body, fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), cuts, fc.boolean(), (payload, sizes, points, extensions) => {
        const input = new Uint8Array(
          Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), Buffer.from(chunked(payload, sizes, extensions ? ';ext="1"' : ''))]),
        );
        const parsed = parse(input, points);
        expect(parsed.ended).toBe(true);
        expect(parsed.body).toEqual(payload);
      }),
      { numRuns: 300 },
    );
  });

  test('206 ranges', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.nat({ max: 10_000 }), cuts, (payload, start, points) => {
        const end = start + payload.length - 1;
        const head = `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${start}-${end}/${end + 1}\r\nContent-Length: ${payload.length}\r\n\r\n`;
        const parsed = parse(new Uint8Array(Buffer.concat([Buffer.from(head), Buffer.from(payload)])), points);
        expect(parsed.head?.contentRange).toEqual({ start, end, total: end + 1 });
        expect(parsed.body).toEqual(payload);
      }),
      { numRuns: 200 },
    );
  });

  test('random bytes never crash the parser: events or an HttpError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, fc.boolean(), (noise, points, prefix) => {
        const input = prefix ? new Uint8Array(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), Buffer.from(noise)])) : noise;
        try {
          parse(input, points, { close: true, parser: { maxHeaderBytes: 256, maxHeaders: 8 } });
        } catch (error) {
          expect(error).toBeInstanceOf(HttpError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

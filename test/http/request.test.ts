/** URLs and the GET request. */
import { HttpError } from '../../firmware/iot/http/errors';
import { buildGetRequest, getRequestText } from '../../firmware/iot/http/request';
import { hostHeader, parseHttpUrl, resolveLocation } from '../../firmware/iot/http/url';

describe('parseHttpUrl', () => {
  test.each([
    ['http://example.com', { secure: false, host: 'example.com', port: 80, target: '/' }],
    ['HTTPS://Example.COM/fw.bin', { secure: true, host: 'example.com', port: 443, target: '/fw.bin' }],
    ['https://cdn.example.com:8443/a/b.bin?sv=2024&sig=abc%2B#frag', { secure: true, host: 'cdn.example.com', port: 8443, target: '/a/b.bin?sv=2024&sig=abc%2B' }],
    ['http://10.0.0.5:8080?x=1', { secure: false, host: '10.0.0.5', port: 8080, target: '/?x=1' }],
    ['http://[::1]:9000/img', { secure: false, host: '::1', port: 9000, target: '/img' }],
    ['http://[fe80::1]/', { secure: false, host: 'fe80::1', port: 80, target: '/' }],
  ])('%s', (url, expected) => {
    expect(parseHttpUrl(url)).toEqual(expected);
  });

  test.each([
    ['', /empty/],
    ['ftp://example.com/x', /not an http/],
    ['example.com/x', /not an http/],
    ['http://user:pass@example.com/', /user information/],
    ['http://example.com:0/', /port/],
    ['http://example.com:70000/', /port/],
    ['http://exa mple.com/', /spaces/],
    ['http://example.com/é', /non-ASCII/],
    ['http:///path', /has no host|not a valid host/],
    ['http://[::1/', /unterminated/],
  ])('refuses %s', (url, message) => {
    expect(() => parseHttpUrl(url)).toThrow(HttpError);
    expect(() => parseHttpUrl(url)).toThrow(message);
  });

  test('messages never show the query (a signed URL is a secret)', () => {
    expect(() => parseHttpUrl('ftp://h/x?sig=SECRET')).toThrow(/^(?!.*SECRET)/);
  });

  test('Host header and redirects', () => {
    expect(hostHeader(parseHttpUrl('http://a.example:80/'))).toBe('a.example');
    expect(hostHeader(parseHttpUrl('https://a.example:8443/'))).toBe('a.example:8443');
    expect(hostHeader(parseHttpUrl('http://[::1]:81/'))).toBe('[::1]:81');
    const base = parseHttpUrl('https://a.example/x/y?q=1');
    expect(resolveLocation(base, 'http://b.example/z')).toEqual(parseHttpUrl('http://b.example/z'));
    expect(resolveLocation(base, '//c.example/w')).toEqual(parseHttpUrl('https://c.example/w'));
    expect(resolveLocation(base, '/other?p=2#f')).toEqual({ ...base, target: '/other?p=2' });
    expect(() => resolveLocation(base, 'relative/path')).toThrow(/relative redirect/);
  });
});

describe('GET request', () => {
  const url = parseHttpUrl('https://cdn.example.com/fw.bin?sig=x');

  test('GET with Host, identity encoding and Connection: close; Range only from a non-zero start', () => {
    expect(getRequestText(url)).toBe(
      'GET /fw.bin?sig=x HTTP/1.1\r\nHost: cdn.example.com\r\nUser-Agent: thingkit\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n',
    );
    expect(getRequestText(url, { rangeStart: 4096 })).toContain('\r\nRange: bytes=4096-\r\n');
    expect(getRequestText(url, { rangeStart: 0 })).not.toContain('Range');
    expect(Buffer.from(buildGetRequest(url, { rangeStart: 7 })).toString('latin1')).toBe(getRequestText(url, { rangeStart: 7 }));
  });

  test('extra headers are checked: no injection, no overriding the framing', () => {
    expect(getRequestText(url, { headers: [['Authorization', 'Bearer t']] })).toContain('\r\nAuthorization: Bearer t\r\nConnection: close');
    expect(() => getRequestText(url, { headers: [['X', 'a\r\nInjected: 1']] })).toThrow(/control/);
    expect(() => getRequestText(url, { headers: [['Bad Name', 'v']] })).toThrow(/header name/);
    expect(() => getRequestText(url, { headers: [['Range', 'bytes=0-']] })).toThrow(/set by the client/);
    expect(() => getRequestText(url, { rangeStart: -1 })).toThrow(RangeError);
    expect(() => getRequestText(url, { headers: Array.from({ length: 9 }, (_, i) => [`X-${i}`, 'v'] as const) })).toThrow(/at most 8/);
  });
});

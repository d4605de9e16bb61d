/**
 * OTA over the hub's HTTP API and its HTTPS image endpoint: publishing (what is checked, what is refused),
 * serving image bytes with byte ranges (200, 206, 416, HEAD, If-Range), and the campaign routes.
 */
import * as https from 'node:https';
import * as nodeHttp from 'node:http';
import type { Hub } from '../../hub/hub';
import { parseRange } from '../../hub/ota/images';
import { generateKeyPair } from '../../host-sim/ota/keys';
import { signImage, verifyManifest } from '../../host-sim/ota/manifest';
import { http, startTestHub } from './support';

const BOARD = 'esp32-devkitc';
const keys = generateKeyPair();

interface Raw {
  status: number;
  headers: nodeHttp.IncomingHttpHeaders;
  body: Buffer;
}

function fetchRaw(url: string, options: { method?: string; headers?: { [name: string]: string }; ca?: string } = {}): Promise<Raw> {
  const client = url.startsWith('https:') ? https : nodeHttp;
  return new Promise((resolve, reject) => {
    const request = client.request(url, { method: options.method ?? 'GET', headers: options.headers, ...(options.ca ? { ca: options.ca } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** A signed image whose manifest points at this hub. */
function signed(hub: Hub, version: string, options: { bundle?: string; board?: string; base?: string; privateKeyPem?: string } = {}) {
  const board = options.board ?? BOARD;
  const url = `${options.base ?? hub.otaUrl}/ota/images/${board}-${version}.bin`;
  const { image, envelope } = signImage({ bundle: options.bundle ?? `/* ${version} */ ${'x'.repeat(5000)}`, version, board, url, privateKeyPem: options.privateKeyPem ?? keys.privateKeyPem });
  return { image, envelope, body: { envelope, image: Buffer.from(image).toString('base64') } };
}

describe('byte ranges (parseRange)', () => {
  test.each([
    ['bytes=0-', { start: 0, end: 999 }],
    ['bytes=100-', { start: 100, end: 999 }],
    ['bytes=100-199', { start: 100, end: 199 }],
    ['bytes=100-5000', { start: 100, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['BYTES = 5 - 9', { start: 5, end: 9 }],
    ['bytes=999-', { start: 999, end: 999 }],
  ])('%s of 1000 bytes', (header, range) => {
    expect(parseRange(header, 1000)).toEqual(range);
  });

  test.each([['bytes=1000-'], ['bytes=2000-3000'], ['bytes=-0']])('%s of 1000 bytes cannot be satisfied', (header) => {
    expect(parseRange(header, 1000)).toBe('unsatisfiable');
  });

  test.each([[undefined], ['bytes=5-1'], ['bytes=-'], ['items=0-5'], ['bytes=0-5,10-20'], ['bytes=abc']])('%s: the whole file', (header) => {
    expect(parseRange(header, 1000)).toBeUndefined();
  });
});

describe('the hub with TLS', () => {
  let hub: Hub;
  let ca: string;

  beforeAll(async () => {
    const started = await startTestHub({ secure: true, otaTickMs: 0 });
    hub = started.hub;
    ca = started.ca!;
  });
  afterAll(() => hub?.close());

  test('serves images on an HTTPS port of its own, with the development certificate', async () => {
    expect(hub.otaUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const info = await http(hub, 'GET', '/ota');
    expect(info.body).toMatchObject({ imageBaseUrl: hub.otaUrl, images: 0, runningCampaigns: [] });
    expect((await http(hub, 'GET', '/')).body.routes).toEqual(expect.arrayContaining(['GET|POST /ota/campaigns']));
  });

  test('publish: 201, then the bytes over HTTPS with ranges; the same again is 200; other bytes are 409', async () => {
    const { image, envelope, body } = signed(hub, '1.1.0');
    const published = await http(hub, 'POST', '/ota/images', body);
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({
      name: 'esp32-devkitc-1.1.0.bin',
      board: BOARD,
      version: '1.1.0',
      size: image.length,
      sha256: envelope.manifest.sha256,
      url: `${hub.otaUrl}/ota/images/esp32-devkitc-1.1.0.bin`,
      urlPointsHere: true,
      envelope,
    });
    // The envelope is stored as signed: it still verifies.
    const listed = await http(hub, 'GET', '/ota/images');
    expect(verifyManifest(listed.body[0].envelope, keys.publicKeyRaw)).toEqual(envelope.manifest);

    const url = envelope.manifest.url;
    const whole = await fetchRaw(url, { ca });
    expect(whole.status).toBe(200);
    expect(whole.headers).toMatchObject({ 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': String(image.length), etag: `"${envelope.manifest.sha256}"` });
    expect(Buffer.compare(whole.body, Buffer.from(image))).toBe(0);

    const tail = await fetchRaw(url, { ca, headers: { range: 'bytes=4096-' } });
    expect(tail.status).toBe(206);
    expect(tail.headers['content-range']).toBe(`bytes 4096-${image.length - 1}/${image.length}`);
    expect(Buffer.compare(tail.body, Buffer.from(image.subarray(4096)))).toBe(0);

    const middle = await fetchRaw(url, { ca, headers: { range: 'bytes=10-19' } });
    expect(middle).toMatchObject({ status: 206, headers: { 'content-length': '10', 'content-range': `bytes 10-19/${image.length}` } });
    expect(Buffer.compare(middle.body, Buffer.from(image.subarray(10, 20)))).toBe(0);

    const beyond = await fetchRaw(url, { ca, headers: { range: `bytes=${image.length}-` } });
    expect(beyond).toMatchObject({ status: 416, headers: { 'content-range': `bytes */${image.length}` } });
    expect(beyond.body).toHaveLength(0);

    const changed = await fetchRaw(url, { ca, headers: { range: 'bytes=10-', 'if-range': '"something-else"' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toHaveLength(image.length);
    const same = await fetchRaw(url, { ca, headers: { range: 'bytes=10-', 'if-range': `"${envelope.manifest.sha256}"` } });
    expect(same.status).toBe(206);

    const head = await fetchRaw(url, { ca, method: 'HEAD', headers: { range: 'bytes=100-' } });
    expect(head).toMatchObject({ status: 206, headers: { 'content-length': String(image.length - 100) } });
    expect(head.body).toHaveLength(0);

    const missing = await fetchRaw(`${hub.otaUrl}/ota/images/nothing.bin`, { ca });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).message).toMatch(/nothing\.bin/);
    expect((await fetchRaw(`${hub.otaUrl}/devices`, { ca })).status).toBe(404);
    expect((await fetchRaw(url, { ca, method: 'DELETE' })).status).toBe(405);

    // The HTTP API serves the same bytes (for tools, and for hubs without TLS).
    const plain = await fetchRaw(`${hub.httpUrl}/ota/images/esp32-devkitc-1.1.0.bin`, { headers: { range: 'bytes=-16' } });
    expect(plain.status).toBe(206);
    expect(Buffer.compare(plain.body, Buffer.from(image.subarray(image.length - 16)))).toBe(0);

    // Republishing the same bytes (signed again) replaces the envelope; other bytes are refused.
    const again = signed(hub, '1.1.0');
    expect((await http(hub, 'POST', '/ota/images', again.body)).status).toBe(200);
    const different = signed(hub, '1.1.0', { bundle: '/* another build */' });
    const refused = await http(hub, 'POST', '/ota/images', different.body);
    expect(refused.status).toBe(409);
    expect(refused.body.hint).toMatch(/new version/);
  });

  test('what publishing refuses: malformed envelopes and images that are not what the manifest says', async () => {
    const good = signed(hub, '1.3.0');
    const refusals: [unknown, RegExp][] = [
      [undefined, /JSON object/],
      [{ image: good.body.image }, /envelope/],
      [{ envelope: { ...good.envelope, extra: 1 }, image: good.body.image }, /extra/],
      [{ envelope: { ...good.envelope, manifest: { ...good.envelope.manifest, version: 'one' } }, image: good.body.image }, /version/],
      [{ envelope: { ...good.envelope, signature: 'abc' }, image: good.body.image }, /signature/],
      [{ envelope: good.envelope, image: '***' }, /base64/],
      [{ envelope: good.envelope, image: Buffer.from('not an image').toString('base64') }, /does not match/],
      [{ envelope: good.envelope, image: signed(hub, '1.3.0', { bundle: 'other' }).body.image }, /does not match/],
      [{ envelope: signed(hub, '1.3.0', { board: 'esp32-s3-devkitc-1' }).envelope, image: good.body.image }, /does not match/],
    ];
    for (const [body, message] of refusals) {
      const answer = await http(hub, 'POST', '/ota/images', body ?? 'null');
      expect({ status: answer.status, message: answer.body.message }).toEqual({ status: 400, message: expect.stringMatching(message) });
    }
    expect((await http(hub, 'GET', '/ota/images')).body.map((i: { name: string }) => i.name)).not.toContain('esp32-devkitc-1.3.0.bin');
  });

  test('a manifest pointing elsewhere is accepted, and said to point elsewhere', async () => {
    const { body } = signed(hub, '1.4.0', { base: 'https://cdn.example.com' });
    const published = await http(hub, 'PUT', '/ota/images', body);
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({ urlPointsHere: false, url: 'https://cdn.example.com/ota/images/esp32-devkitc-1.4.0.bin', downloadUrl: `${hub.otaUrl}/ota/images/esp32-devkitc-1.4.0.bin` });
    expect(hub.log.recent({ event: 'ota.published' }).at(-1)).toMatchObject({ level: 'warn', reason: expect.stringMatching(/cdn\.example\.com/) });
    expect((await http(hub, 'DELETE', '/ota/images/esp32-devkitc-1.4.0.bin')).status).toBe(204);
    expect((await http(hub, 'DELETE', '/ota/images/esp32-devkitc-1.4.0.bin')).status).toBe(404);
  });

  test('campaign routes: start, list, one with its devices, refusals, cancel', async () => {
    for (const id of ['c1', 'c2', 'c3']) {
      await http(hub, 'POST', '/devices', { deviceId: id });
      hub.store.twins.patchReported(id, { board: BOARD, firmwareVersion: '1.0.0' });
    }
    const started = await http(hub, 'POST', '/ota/campaigns', { version: '1.1.0', percent: 34, stepPercent: 33, stepIntervalSeconds: 3600, maxFailureRate: 0.25 });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ id: 1, version: '1.1.0', board: null, state: 'running', percent: 34, stepPercent: 33, stepIntervalSeconds: 3600, maxFailureRate: 0.25, population: 3, counts: { targeted: 1, pending: 1 }, halted: false });
    expect(started.body.devices).toHaveLength(1);
    const device = started.body.devices[0].deviceId;
    expect((await http(hub, 'GET', `/twins/${device}`)).body.properties.desired.firmware.manifest.version).toBe('1.1.0');
    expect(started.body.nextStepTime).toBe(new Date(Date.parse(started.body.lastStepTime) + 3600_000).toISOString());

    const list = await http(hub, 'GET', '/ota/campaigns');
    expect(list.body).toHaveLength(1);
    expect(list.body[0].devices).toBeUndefined();
    expect((await http(hub, 'GET', '/ota/campaigns/1')).body.devices).toHaveLength(1);
    expect((await http(hub, 'GET', '/ota/campaigns/7')).status).toBe(404);
    expect((await http(hub, 'GET', '/ota/campaigns/abc')).status).toBe(404);
    expect((await http(hub, 'POST', '/ota/campaigns', { version: '1.1.0', percent: 10 })).status).toBe(409);
    expect((await http(hub, 'POST', '/ota/campaigns', { version: '9.9.9', percent: 10 })).status).toBe(404);
    expect((await http(hub, 'POST', '/ota/campaigns', { version: '1.1.0' })).status).toBe(400);
    expect((await http(hub, 'GET', '/ota')).body.runningCampaigns).toEqual([1]);
    const busy = await http(hub, 'DELETE', '/ota/images/esp32-devkitc-1.1.0.bin');
    expect(busy.status).toBe(409);
    expect(busy.body.hint).toMatch(/cancel/);

    const cancelled = await http(hub, 'POST', '/ota/campaigns/1/cancel');
    expect(cancelled.body).toMatchObject({ state: 'cancelled', counts: { withdrawn: 1 } });
    expect((await http(hub, 'GET', `/twins/${device}`)).body.properties.desired.firmware).toBeUndefined();
    expect((await http(hub, 'POST', '/ota/campaigns/1/cancel')).status).toBe(409);
  });
});

describe('the hub without TLS', () => {
  test('images are downloaded from the HTTP API, and otaPublicUrl replaces the base', async () => {
    const { hub } = await startTestHub({ otaTickMs: 0 });
    try {
      expect(hub.otaUrl).toBe(hub.httpUrl);
      const { image, body } = signed(hub, '2.0.0');
      expect((await http(hub, 'POST', '/ota/images', body)).body.urlPointsHere).toBe(true);
      const got = await fetchRaw(`${hub.httpUrl}/ota/images/esp32-devkitc-2.0.0.bin`, { headers: { range: 'bytes=0-' } });
      expect(got.status).toBe(206);
      expect(got.body).toHaveLength(image.length);
    } finally {
      await hub.close();
    }
    const { hub: other } = await startTestHub({ otaTickMs: 0, otaPublicUrl: 'https://my-pc.lan:8443/' });
    try {
      expect(other.otaUrl).toBe('https://my-pc.lan:8443');
      expect((await http(other, 'GET', '/ota')).body.imageBaseUrl).toBe('https://my-pc.lan:8443');
    } finally {
      await other.close();
    }
  });
});

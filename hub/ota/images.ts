/**
 * Published OTA images: what the hub checks when an image and its signed envelope are uploaded, and how it
 * serves the bytes to devices — GET and HEAD with single byte ranges (RFC 9110 §14): `Range: bytes=N-`,
 * `bytes=N-M` and `bytes=-N` answer 206 with Content-Range; a range that starts past the end answers 416
 * with `Content-Range: bytes * /size`; anything else (no Range, a malformed one, several ranges, an If-Range
 * that does not match the ETag) gets the whole file with 200. The OTA agent resumes with `bytes=N-`.
 *
 * The hub holds no signing key and rewrites nothing in the envelope: it checks that the envelope is well
 * formed and describes exactly these bytes (size, SHA-256, and the header's version, board and security
 * version), and stores both. Whether the signature is good is for the devices to say: they hold the public
 * key, and a bad signature shows up as `failed` in their reported `firmwareUpdate` (and halts a campaign).
 */
import type * as http from 'node:http';
import { ImageError } from '../../host-sim/ota/image';
import { checkImageAgainstManifest, ManifestError, manifestProblems, type UpdateManifest } from '../../host-sim/ota/manifest';
import { badRequest, conflict, HubError, notFound } from '../errors';
import type { HubLog } from '../log';
import type { HubStore, OtaImage } from '../store';

/** The largest image the hub takes (an ESP32 app partition is at most a few MB). */
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
/** The upload is JSON with the image in base64. */
export const MAX_UPLOAD_BODY = Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 64 * 1024;

const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

/** The name an image is stored and served under: `{board}-{version}.bin`. */
export function imageName(board: string, version: string): string {
  return `${board}-${version}.bin`;
}

/** The download path of an image on the hub (what the signed manifest's url should end with). */
export function imagePath(name: string): string {
  return `/ota/images/${encodeURIComponent(name)}`;
}

export interface PublishResult {
  image: OtaImage;
  created: boolean;
  /** Whether the manifest's url is this hub's download path for the image. */
  urlPointsHere: boolean;
}

/** Checks and stores an uploaded image and its signed envelope (the body of POST /ota/images). */
export function publishImage(store: HubStore, log: HubLog, body: unknown, baseUrls: string[]): PublishResult {
  const hint = 'send {"envelope": {"manifest": {...}, "signature": "..."}, "image": "<base64 of the image file>"}; thingkit ota publish does this';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the upload must be a JSON object', hint);
  const { envelope, image } = body as { envelope?: unknown; image?: unknown };
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) throw badRequest('"envelope" is missing or not an object', hint);
  const extra = Object.keys(envelope).filter((key) => key !== 'manifest' && key !== 'signature');
  if (extra.length) throw badRequest(`the envelope has fields devices refuse: ${extra.join(', ')}`, 'an envelope is exactly {"manifest": {...}, "signature": "..."}');
  const { manifest, signature } = envelope as { manifest?: unknown; signature?: unknown };
  const problems = manifestProblems(manifest);
  if (problems.length) throw badRequest(`the manifest is malformed: ${problems.join('; ')}`, 'sign the image with thingkit ota sign or thingkit ota publish');
  if (typeof signature !== 'string' || !SIGNATURE_BASE64.test(signature)) {
    throw badRequest('the signature is not 64 bytes (r ‖ s) in padded base64 (88 characters)', 'sign the image with thingkit ota sign or thingkit ota publish');
  }
  if (typeof image !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(image) || image.length % 4 !== 0) throw badRequest('"image" is missing or not base64', hint);
  const bytes = new Uint8Array(Buffer.from(image, 'base64'));
  if (bytes.length > MAX_IMAGE_BYTES) throw new HubError(413, 413000, `the image is ${bytes.length} bytes; the hub takes at most ${MAX_IMAGE_BYTES}`);
  const m = manifest as UpdateManifest;
  try {
    checkImageAgainstManifest(bytes, m);
  } catch (error) {
    if (error instanceof ManifestError || error instanceof ImageError) {
      throw badRequest(`the image does not match its manifest: ${error.message}`, 'sign the very file you upload (thingkit ota publish --image FILE signs and uploads it in one go)');
    }
    throw error;
  }
  const name = imageName(m.board, m.version);
  const existing = store.ota.getImage(name);
  if (existing && existing.sha256 !== m.sha256) {
    throw conflict(
      `${name} is already published with other bytes (SHA-256 ${existing.sha256.slice(0, 12)}…)`,
      `give the new build a new version (thingkit build --version …), or delete the old one first (DELETE ${imagePath(name)})`,
    );
  }
  const running = store.ota.listCampaigns({ state: 'running' }).find((c) => c.version === m.version && (c.board === null || c.board === m.board));
  if (existing && running && existing.envelope.signature !== signature) {
    throw conflict(`${name} is in running campaign ${running.id}: its envelope cannot change now`, `cancel the campaign first (POST /ota/campaigns/${running.id}/cancel)`);
  }
  const { image: stored, created } = store.ota.putImage(
    { name, board: m.board, version: m.version, securityVersion: m.securityVersion, size: m.size, sha256: m.sha256, url: m.url, envelope: { manifest: { ...m }, signature } },
    bytes,
  );
  const path = imagePath(name);
  const urlPointsHere = baseUrls.some((base) => m.url === `${base}${path}`);
  log.write({
    level: urlPointsHere ? 'info' : 'warn',
    event: 'ota.published',
    message: `${created ? 'published' : 'republished'} ${name} (${m.size} bytes, sha256 ${m.sha256.slice(0, 12)}…, url ${m.url})`,
    ...(urlPointsHere ? {} : { reason: `the manifest's url is not this hub's ${path}: devices will download from ${m.url}` }),
  });
  return { image: stored, created, urlPointsHere };
}

/** What the HTTP API shows of an image (not its bytes). */
export function imageView(image: OtaImage): { [key: string]: unknown } {
  return {
    name: image.name,
    board: image.board,
    version: image.version,
    securityVersion: image.securityVersion,
    size: image.size,
    sha256: image.sha256,
    url: image.url,
    publishedTime: new Date(image.publishedAt).toISOString(),
    updatedTime: new Date(image.updatedAt).toISOString(),
    envelope: image.envelope,
  };
}

/** A byte range of a `size`-byte resource: inclusive `start` … `end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The one byte range a Range header asks for: a range, 'unsatisfiable' (416), or undefined when the header
 * is absent, malformed or asks for several ranges (then the whole resource is sent, as RFC 9110 allows).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // bytes=-N: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** Answers GET or HEAD of an image: 200 whole, 206 a range, 416, or 404. */
export function serveImage(store: HubStore, name: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const image = store.ota.getImage(name);
  const bytes = image && store.ota.imageBytes(name);
  if (!image || !bytes) {
    const body = JSON.stringify(notFound(`image "${name}"`, 'GET /ota/images lists the published images').toJSON());
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const etag = `"${image.sha256}"`;
  const common = { 'accept-ranges': 'bytes', etag, 'content-type': 'application/octet-stream', 'cache-control': 'no-cache' };
  const ifRange = req.headers['if-range'];
  let range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, bytes.length);
  if (range !== undefined && ifRange !== undefined && ifRange !== etag) range = undefined;
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'content-range': `bytes */${bytes.length}`, 'content-length': '0' });
    res.end();
    return;
  }
  const part = range ? bytes.subarray(range.start, range.end + 1) : bytes;
  res.writeHead(range ? 206 : 200, {
    ...common,
    'content-length': String(part.length),
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${bytes.length}` } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : part);
}

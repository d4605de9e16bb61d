/**
 * ECDSA P-256 verification over a precomputed SHA-256 digest, as the device's `crypt` ECDSA
 * does it. Node's crypto always hashes the message itself, so the host verifies with this
 * (FIPS 186-4 §6.4.2, curve parameters from SEC 2 secp256r1). Verification only: public data.
 */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Jacobian = [bigint, bigint, bigint]; // (X, Y, Z) with x = X/Z², y = Y/Z³; Z = 0 is infinity

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [low, high, lm, hm] = [mod(a, m), m, 1n, 0n];
  while (low > 1n) {
    const ratio = high / low;
    [lm, hm] = [hm - lm * ratio, lm];
    [low, high] = [high - low * ratio, low];
  }
  return mod(lm, m);
}

function double([x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const ysq = mod(y * y, P);
  const s = mod(4n * x * ysq, P);
  const zsq = mod(z * z, P);
  const m = mod(3n * x * x + A * zsq * zsq, P);
  const nx = mod(m * m - 2n * s, P);
  const ny = mod(m * (s - nx) - 8n * ysq * ysq, P);
  return [nx, ny, mod(2n * y * z, P)];
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const z1sq = mod(p[2] * p[2], P);
  const z2sq = mod(q[2] * q[2], P);
  const u1 = mod(p[0] * z2sq, P);
  const u2 = mod(q[0] * z1sq, P);
  const s1 = mod(p[1] * z2sq * q[2], P);
  const s2 = mod(q[1] * z1sq * p[2], P);
  if (u1 === u2) return s1 === s2 ? double(p) : [0n, 1n, 0n];
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const h2 = mod(h * h, P);
  const h3 = mod(h * h2, P);
  const u1h2 = mod(u1 * h2, P);
  const nx = mod(r * r - h3 - 2n * u1h2, P);
  const ny = mod(r * (u1h2 - nx) - s1 * h3, P);
  return [nx, ny, mod(h * p[2] * q[2], P)];
}

function multiply(point: Jacobian, k: bigint): Jacobian {
  let result: Jacobian = [0n, 1n, 0n];
  for (let bit = BigInt(k.toString(2).length - 1); bit >= 0n; bit--) {
    result = double(result);
    if ((k >> bit) & 1n) result = add(result, point);
  }
  return result;
}

const toBigInt = (bytes: Uint8Array) => bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);

/** True when `signature` (r‖s, 64 bytes) is valid for `digest` under `publicKey` (0x04‖X‖Y). */
export function verifyP256(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 65 || publicKey[0] !== 0x04 || signature.length !== 64 || digest.length !== 32) return false;
  const qx = toBigInt(publicKey.subarray(1, 33));
  const qy = toBigInt(publicKey.subarray(33));
  if (qx >= P || qy >= P || mod(qy * qy - (qx * qx * qx + A * qx + B), P) !== 0n) return false;
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32));
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const e = toBigInt(digest);
  const w = inverse(s, N);
  const sum = add(multiply([GX, GY, 1n], mod(e * w, N)), multiply([qx, qy, 1n], mod(r * w, N)));
  if (sum[2] === 0n) return false;
  const zinv = inverse(sum[2], P);
  return mod(sum[0] * zinv * zinv, P) % N === r;
}

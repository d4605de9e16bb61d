import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { verifyP256 } from '../../host-sim/crypto/ecdsa-p256';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { raw: new Uint8Array(raw), privateKey };
}

describe('ECDSA P-256 verification over a digest', () => {
  const { raw, privateKey } = keyPair();
  const message = Buffer.from('thingkit firmware 1.1.0');
  const digest = new Uint8Array(createHash('sha256').update(message).digest());
  const signature = new Uint8Array(sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }));

  test('accepts a signature made by Node (OpenSSL)', () => {
    expect(verifyP256(raw, digest, signature)).toBe(true);
  });

  test('refuses a flipped digest bit, a flipped signature bit and another key', () => {
    const badDigest = digest.slice();
    badDigest[0] ^= 1;
    expect(verifyP256(raw, badDigest, signature)).toBe(false);
    const badSignature = signature.slice();
    badSignature[40] ^= 0x80;
    expect(verifyP256(raw, digest, badSignature)).toBe(false);
    expect(verifyP256(keyPair().raw, digest, signature)).toBe(false);
  });

  test('refuses malformed inputs instead of throwing', () => {
    expect(verifyP256(raw.subarray(1), digest, signature)).toBe(false);
    const offCurve = raw.slice();
    offCurve[64] ^= 1;
    expect(verifyP256(offCurve, digest, signature)).toBe(false);
    expect(verifyP256(raw, digest, new Uint8Array(64))).toBe(false);
  });
});

/**
 * Cryptography over Moddable's `crypt` library:
 * - SHA-256: `new Digest("SHA256")`, `write`, `close()` (documentation/crypt/crypt.md);
 * - HMAC-SHA256: `new HMAC(new Digest("SHA256"), key)`, `update`, `close()`
 *   (modules/crypt/etc/hmac.js, specifier "hmac" from modules/crypt/tls_common.json);
 * - ECDSA P-256: `new ECDSA(ECPoint.fromOctetString(key), new Curve("secp256r1"))`,
 *   `verify(digest, r || s)` (modules/crypt/etc/ecdsa.js, curve.js, arith/ecp.js, as
 *   modules/crypt/ssl/ssl_cert.js uses them for certificates);
 * - random bytes: ESP-IDF `esp_fill_random` through XS FFI (hardware RNG). Moddable's `rng`
 *   module is RC4 seeded from `c_rand()` (modules/crypt/etc/rng.c): not a key source.
 *
 * Moddable's digest and HMAC take ArrayBuffers (or strings), so views are copied to exact
 * buffers first.
 */
import Curve from "curve";
import { Digest as CryptDigest } from "crypt";
import ECDSA from "ecdsa";
import ECPoint from "ecp";
import HMAC from "hmac";
import type { Crypto, Digest } from "../crypto";
import { nativeCalls } from "./native";

/** The order n of P-256; a valid signature has 0 < r, s < n. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** Random bytes drawn at most in one call (bounded memory). */
export const MAX_RANDOM_BYTES = 4096;

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : bytes.slice().buffer;
}

function bigIntOf(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

class Sha256 implements Digest {
  #digest: CryptDigest | undefined = new CryptDigest("SHA256");

  update(bytes: Uint8Array): void {
    if (!this.#digest) throw new Error("SHA-256 digest already finished");
    if (bytes.length > 0) this.#digest.write(exactBuffer(bytes));
  }

  finish(): Uint8Array {
    if (!this.#digest) throw new Error("SHA-256 digest already finished");
    const digest = this.#digest;
    this.#digest = undefined;
    return new Uint8Array(digest.close());
  }
}

export class ModdableCrypto implements Crypto {
  sha256(): Digest {
    return new Sha256();
  }

  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    const hmac = new HMAC(new CryptDigest("SHA256"), exactBuffer(key));
    if (data.length > 0) hmac.update(exactBuffer(data));
    return new Uint8Array(hmac.close());
  }

  ecdsaP256Verify(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
    if (publicKey.length !== 65 || publicKey[0] !== 0x04) throw new RangeError("ECDSA P-256 public key must be 65 bytes, uncompressed (0x04 || X || Y)");
    if (digest.length !== 32) throw new RangeError("ECDSA P-256 verification takes a 32-byte SHA-256 digest");
    if (signature.length !== 64) return false;
    const r = bigIntOf(signature.subarray(0, 32));
    const s = bigIntOf(signature.subarray(32));
    // Moddable's ECDSA does not range-check r and s; a verifier must.
    if (r === 0n || s === 0n || r >= P256_ORDER || s >= P256_ORDER) return false;
    try {
      const verifier = new ECDSA(ECPoint.fromOctetString(publicKey.slice()), new Curve("secp256r1"));
      return verifier.verify(exactBuffer(digest), exactBuffer(signature)) === true;
    } catch {
      // A point off the curve or arithmetic on garbage: not a valid signature.
      return false;
    }
  }

  randomBytes(count: number): Uint8Array {
    if (!Number.isInteger(count) || count < 0 || count > MAX_RANDOM_BYTES) {
      throw new RangeError(`randomBytes takes 0 to ${MAX_RANDOM_BYTES} bytes (got ${count})`);
    }
    const buffer = new ArrayBuffer(count);
    if (count > 0) nativeCalls().thingkit_fill_random(buffer, 0, count);
    return new Uint8Array(buffer);
  }
}

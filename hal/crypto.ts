/** Cryptography the device has (Moddable: `crypt` Digest, HMAC and ECDSA over P-256). */
export interface Digest {
  update(bytes: Uint8Array): void;
  /** Finishes the digest; the object must not be used afterwards. */
  finish(): Uint8Array;
}

export interface Crypto {
  /** A streaming SHA-256. */
  sha256(): Digest;
  /** HMAC-SHA256 of `data` under `key`. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * Verifies an ECDSA P-256 signature over a SHA-256 digest.
   * `publicKey`: uncompressed point (65 bytes, 0x04 || X || Y); `signature`: r || s (64 bytes).
   */
  ecdsaP256Verify(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean;
  /** Cryptographically strong random bytes. */
  randomBytes(count: number): Uint8Array;
}

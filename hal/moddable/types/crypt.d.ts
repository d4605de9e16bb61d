/*
 * The parts of Moddable's `crypt` library thingkit uses (documentation/crypt/crypt.md for
 * Digest; modules/crypt/etc/hmac.js, ecdsa.js, curve.js and modules/crypt/arith/ecp.js for
 * the rest, which have no documentation). The specifiers are the ones
 * modules/crypt/tls_common.json gives them ("hmac", "ecdsa", "curve", and "ecp" from the
 * "*": arith/* entry); "crypt" comes from modules/crypt/digest/manifest.json.
 */
declare module "crypt" {
  type Bytes = ArrayBuffer | ArrayBufferView;

  /** Streaming hash: "MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512". */
  export class Digest {
    constructor(algorithm: string);
    /** Adds a String or ArrayBuffer to the hash. */
    write(message: string | Bytes): void;
    /** The digest; the object must not be used afterwards. */
    close(): ArrayBuffer;
    reset(): void;
    readonly blockSize: number;
    readonly outputSize: number;
  }
}

declare module "hmac" {
  import type { Digest } from "crypt";
  type Bytes = ArrayBuffer | ArrayBufferView;

  /** RFC 2104 HMAC over a `Digest` (which it resets and reuses). */
  export default class HMAC {
    constructor(digest: Digest, key: Bytes, bitLength?: number);
    update(...messages: (string | Bytes)[]): void;
    close(): ArrayBuffer;
    reset(): void;
  }
}

declare module "ecp" {
  /** An elliptic-curve point with BigInt coordinates. */
  export default class ECPoint {
    constructor(x: bigint, y: bigint, identity?: boolean);
    readonly X: bigint;
    readonly Y: bigint;
    /** From the uncompressed octet form 0x04 || X || Y; throws on other forms. */
    static fromOctetString(octets: Uint8Array): ECPoint;
  }
}

declare module "curve" {
  /** A named curve; thingkit only uses "secp256r1" (NIST P-256). */
  export default class Curve {
    constructor(name: "secp256r1");
    readonly orderSize: number;
  }
}

declare module "ecdsa" {
  import type Curve from "curve";
  import type ECPoint from "ecp";

  export default class ECDSA {
    /** For verification `key` is the public point. */
    constructor(key: ECPoint, curve: Curve);
    /** Verifies `signature` (r || s, or DER when `asn1`) over the digest `hash`. */
    verify(hash: ArrayBuffer, signature: ArrayBuffer, asn1?: boolean): boolean;
  }
}

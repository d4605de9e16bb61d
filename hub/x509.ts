/** X.509 client certificates as IoT Hub and DPS use them: thumbprints of the DER, the subject's common name. */
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export interface ClientCertificate {
  /** SHA-1 of the DER, upper-case hex (the "thumbprint" IoT Hub shows and takes). */
  sha1: string;
  /** SHA-256 of the DER, upper-case hex. */
  sha256: string;
  commonName: string | undefined;
  validFrom: number;
  validTo: number;
  /** Whether the chain verified against the hub's CA (TLS `authorized`). */
  chainTrusted: boolean;
  /** Why the chain did not verify, when it did not. */
  chainError: string | undefined;
}

/** Thumbprints of a certificate given as PEM or DER. */
export function thumbprints(certificate: string | Buffer): { sha1: string; sha256: string } {
  const der = typeof certificate === 'string' ? new X509Certificate(certificate).raw : certificate.subarray(0, 5).toString() === '-----' ? new X509Certificate(certificate).raw : certificate;
  return {
    sha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    sha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}

/** The client certificate a TLS socket presented, or undefined (plain TCP, or no certificate). */
export function clientCertificate(socket: unknown): ClientCertificate | undefined {
  const tlsSocket = socket as Partial<TLSSocket>;
  if (typeof tlsSocket.getPeerCertificate !== 'function') return undefined;
  const peer = tlsSocket.getPeerCertificate();
  if (!peer || !peer.raw) return undefined;
  const { sha1, sha256 } = thumbprints(peer.raw);
  const cn = peer.subject?.CN;
  return {
    sha1,
    sha256,
    commonName: Array.isArray(cn) ? cn[0] : cn,
    validFrom: Date.parse(peer.valid_from),
    validTo: Date.parse(peer.valid_to),
    chainTrusted: tlsSocket.authorized === true,
    chainError: tlsSocket.authorizationError ? String(tlsSocket.authorizationError) : undefined,
  };
}

/** Whether `certificate` matches one of the registered thumbprints (SHA-1 or SHA-256, either slot). */
export function matchesThumbprint(certificate: { sha1: string; sha256: string }, registered: readonly (string | null | undefined)[]): boolean {
  return registered.some((t) => !!t && (t.toUpperCase() === certificate.sha1 || t.toUpperCase() === certificate.sha256));
}

/**
 * Clock skew allowed around a certificate's validity: a device certificate made moments ago on
 * a machine whose clock runs a little ahead (or a hub on simulation time) is not refused for it.
 */
export const CERTIFICATE_CLOCK_SKEW_MS = 5 * 60_000;

/** Why the certificate is not valid at `nowMs` (give or take the allowed skew), or undefined when it is. */
export function validityProblem(certificate: ClientCertificate, nowMs: number): string | undefined {
  if (nowMs + CERTIFICATE_CLOCK_SKEW_MS >= certificate.validFrom && nowMs - CERTIFICATE_CLOCK_SKEW_MS <= certificate.validTo) return undefined;
  return `the client certificate is not valid now (valid ${new Date(certificate.validFrom).toISOString()} to ${new Date(certificate.validTo).toISOString()})`;
}

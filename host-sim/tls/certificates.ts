/**
 * A development PKI made with the `openssl` command: a CA, a server certificate for
 * loopback, and client certificates, as PEM files in a folder. Used by the tests (mutual TLS
 * against mosquitto and the embedded broker) and by `thingkit sim --tls`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface DevelopmentPki {
  dir: string;
  ca: CertificateFiles;
  server: CertificateFiles;
  /** Issues (or returns the existing) client certificate for `commonName`. */
  client(commonName: string, options?: { expired?: boolean }): CertificateFiles;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('the openssl command is missing: install it (Debian: apt-get install -y openssl)');
    }
    throw new Error(`openssl ${args[0]} failed: ${detail}`);
  }
}

/** EC P-256 keys: the curve the device's TLS (Moddable) supports. */
function newKey(file: string, dir: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
}

/** `openssl ca` (rather than `x509 -req`) because OpenSSL 3.0 can set validity dates only there. */
const CA_CONFIG = `[ ca ]
default_ca = dev
[ dev ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
`;

function sign(dir: string, name: string, subject: string, extensions: string, days: number, ca: CertificateFiles, startOffsetDays = 0): CertificateFiles {
  const key = `${name}.key.pem`;
  const cert = `${name}.cert.pem`;
  newKey(key, dir);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', `${name}.csr`], dir);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  if (!existsSync(path.join(dir, 'ca.cnf'))) {
    writeFileSync(path.join(dir, 'ca.cnf'), CA_CONFIG);
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'serial'), `${Date.now().toString(16).padStart(16, '0')}\n`);
  }
  openssl(
    ['ca', '-batch', '-config', 'ca.cnf', '-cert', ca.cert, '-keyfile', ca.key, '-in', `${name}.csr`, '-out', cert, '-notext',
      '-extfile', `${name}.ext`, '-startdate', openSslTime(startOffsetDays), '-enddate', openSslTime(startOffsetDays + days)],
    dir,
  );
  return { cert: path.join(dir, cert), key: path.join(dir, key) };
}

/** ASN.1 UTCTime (YYMMDDHHMMSSZ) `offsetDays` from now. */
function openSslTime(offsetDays: number): string {
  const date = new Date(Date.now() + offsetDays * 86_400_000);
  return date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

/** Creates (or reuses) a PKI in `dir`. */
export function developmentPki(dir: string, name = 'thingkit development'): DevelopmentPki {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: path.join(dir, 'ca.cert.pem'), key: path.join(dir, 'ca.key.pem') };
  if (!existsSync(ca.cert)) {
    newKey('ca.key.pem', dir);
    openssl(['req', '-x509', '-new', '-key', 'ca.key.pem', '-subj', `/CN=${name} CA`, '-days', '3650', '-sha256', '-out', 'ca.cert.pem'], dir);
  }
  const server = { cert: path.join(dir, 'server.cert.pem'), key: path.join(dir, 'server.key.pem') };
  if (!existsSync(server.cert)) {
    sign(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', 825, ca);
  }
  return {
    dir,
    ca: { cert: ca.cert, key: ca.key },
    server,
    client(commonName, options = {}) {
      const base = `client-${commonName.replace(/[^A-Za-z0-9._-]/g, '_')}${options.expired ? '-expired' : ''}`;
      const files = { cert: path.join(dir, `${base}.cert.pem`), key: path.join(dir, `${base}.key.pem`) };
      if (existsSync(files.cert)) return files;
      return sign(dir, base, `/CN=${commonName}`, 'extendedKeyUsage=clientAuth\n', options.expired ? 1 : 825, ca, options.expired ? -30 : 0);
    },
  };
}

/** PEM (one block) to DER bytes: the form the device's TLS and the HAL take. */
export function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  if (!body) throw new Error('not a PEM file: no BEGIN/END block');
  return new Uint8Array(Buffer.from(body, 'base64'));
}

export function readPem(file: string): string {
  return readFileSync(file, 'utf8');
}

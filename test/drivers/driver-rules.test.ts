/**
 * The firmware rules (DESIGN §1) for everything under firmware/drivers: imports stay inside
 * firmware/ and the HAL interfaces, and no global that an ESP32 build lacks, or that would
 * take time and randomness away from the HAL, appears in the code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const DRIVERS = join(ROOT, 'firmware/drivers');

const FORBIDDEN_GLOBALS = [
  'setTimeout',
  'setInterval',
  'setImmediate',
  'Buffer',
  'process',
  'require',
  'console',
  'TextEncoder',
  'TextDecoder',
  'structuredClone',
  'Date',
  'Math.random',
];

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The source without comments and string contents, so prose and messages do not count. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

const files = typescriptFiles(DRIVERS);

test('there are driver files to check', () => {
  expect(files.length).toBeGreaterThan(0);
});

describe.each(files.map((file) => [relative(ROOT, file), file]))('%s', (_name, file) => {
  const source = readFileSync(file, 'utf8');

  test('imports only firmware/ and the HAL interfaces', () => {
    for (const [, specifier] of source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      expect(specifier.startsWith('.')).toBe(true);
      const target = relative(ROOT, resolve(dirname(file), specifier));
      const allowed =
        target.startsWith('firmware/') ||
        (target.startsWith('hal/') && !target.startsWith('hal/host') && !target.startsWith('hal/moddable'));
      expect({ specifier, allowed }).toEqual({ specifier, allowed: true });
    }
  });

  test('uses no global the ESP32 build lacks, nor clock or randomness outside the HAL', () => {
    const code = codeOnly(source);
    const found = FORBIDDEN_GLOBALS.filter((name) =>
      new RegExp(`(?<![\\w.#])${name.replace('.', '\\.')}\\b`).test(code),
    );
    expect(found).toEqual([]);
  });
});

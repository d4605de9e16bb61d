/**
 * The firmware rules (DESIGN.md §1): code under firmware/ and hal/ must run on XS on an
 * ESP32. It imports no Node APIs and no npm packages, and uses none of the globals an ESP32
 * build lacks (or that would take time and randomness away from the HAL). hal/moddable may
 * import Moddable's own modules. The Node side of the simulator lives in host-sim/.
 */
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

const FORBIDDEN: { pattern: RegExp; why: string }[] = [
  { pattern: /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b/, why: 'global timers: use hal.timers' },
  { pattern: /\bBuffer\b/, why: 'Buffer is Node-only: use Uint8Array' },
  { pattern: /\bprocess\b/, why: 'process is Node-only' },
  { pattern: /\brequire\s*\(/, why: 'require is Node-only: use import' },
  { pattern: /\bconsole\b/, why: 'no console on ESP32: use hal.log' },
  { pattern: /\bTextEncoder\b|\bTextDecoder\b/, why: 'no TextEncoder/TextDecoder on ESP32: use hal.text' },
  { pattern: /\bstructuredClone\b|\bfetch\s*\(|\bURL\b/, why: 'not on ESP32' },
  { pattern: /\bMath\.random\b/, why: 'use hal.crypto.randomBytes (seedable in the simulator)' },
];
/** Wall-clock time bypasses the simulator's virtual clock; only the Moddable HAL may read it. */
const CLOCK_READS = { pattern: /\bDate\.now\b|\bnew Date\b/, why: 'use hal.clock' };

function typescriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The source without comments, so prose does not count. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

/** The source without comments and string contents, so prose and messages do not count. */
function codeOnly(source: string): string {
  return withoutComments(source).replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** What is wrong with one firmware file, as readable lines; empty when it follows the rules. */
function firmwareProblems(file: string, source: string): string[] {
  const relativePath = relative(ROOT, file);
  const moddable = relativePath.startsWith('hal/moddable/');
  const problems: string[] = [];
  for (const [, specifier] of withoutComments(source).matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]/g)) {
    if (specifier === undefined) continue;
    if (specifier.startsWith('.')) {
      const target = relative(ROOT, resolve(dirname(file), specifier));
      const inside = ['firmware', 'hal', 'boards'].some((dir) => target === dir || target.startsWith(`${dir}/`));
      if (!inside) problems.push(`imports ${specifier}: firmware may import only firmware/, hal/ and boards/`);
      if (!moddable && target.startsWith('hal/moddable')) problems.push(`imports ${specifier}: only the ESP32 build uses hal/moddable`);
    } else if (NODE_BUILTINS.has(specifier)) {
      problems.push(`imports the Node module ${specifier}`);
    } else if (!moddable || existsSync(join(ROOT, 'node_modules', specifier))) {
      problems.push(`imports the package ${specifier}: firmware uses no npm packages${moddable ? '' : ' (Moddable modules belong in hal/moddable)'}`);
    }
  }
  const code = codeOnly(source);
  for (const rule of moddable ? FORBIDDEN : [...FORBIDDEN, CLOCK_READS]) {
    const match = rule.pattern.exec(code);
    if (match) problems.push(`uses ${match[0]}: ${rule.why}`);
  }
  return problems;
}

const files = [...typescriptFiles(join(ROOT, 'firmware')), ...typescriptFiles(join(ROOT, 'hal'))].filter((f) => !f.endsWith('.d.ts'));

test('the check itself catches what it must', () => {
  const file = join(ROOT, 'firmware', 'example.ts');
  expect(firmwareProblems(file, "import { readFileSync } from 'node:fs';")).toEqual(['imports the Node module node:fs']);
  expect(firmwareProblems(file, "import mqtt from 'mqtt-packet';")[0]).toMatch(/package mqtt-packet/);
  expect(firmwareProblems(file, "import { x } from '../host-sim/device';")[0]).toMatch(/only firmware/);
  expect(firmwareProblems(file, 'const b = Buffer.from([1]);')[0]).toMatch(/Buffer/);
  expect(firmwareProblems(file, 'setTimeout(run, 5);')[0]).toMatch(/hal\.timers/);
  expect(firmwareProblems(file, 'const t = Date.now();')[0]).toMatch(/hal\.clock/);
  expect(firmwareProblems(file, "// setTimeout in a comment\nconst s = 'Buffer in a string';")).toEqual([]);
  expect(firmwareProblems(join(ROOT, 'hal', 'moddable', 'x.ts'), "import Timer from 'timer';\nconst t = Date.now();")).toEqual([]);
});

test('there are firmware files to check', () => {
  expect(files.length).toBeGreaterThan(20);
});

test.each(files.map((file) => [relative(ROOT, file), file]))('%s runs on XS', (_name, file) => {
  expect(firmwareProblems(file, readFileSync(file, 'utf8'))).toEqual([]);
});

/**
 * Sans-I/O cores take bytes, events and time as arguments: they import nothing but their own
 * folder and the shared pure codecs directly in firmware/codec (UTF-8), which do no I/O either.
 */
const SHARED_CODECS = 'firmware/codec';
const SANS_IO_CORES = [
  { dir: 'firmware/iot/mqtt', shells: ['client.ts'] },
  { dir: 'firmware/store/outbox', shells: [] },
  { dir: 'firmware/iot/azure', shells: ['hub-client.ts', 'dps-client.ts', 'hal-codec.ts'] },
  { dir: 'firmware/iot/http', shells: ['client.ts'] },
  { dir: 'firmware/ota', shells: ['ota-service.ts'] },
  { dir: 'firmware/app/rules', shells: [] },
  { dir: 'firmware/codec/cbor', shells: [] },
];

describe.each(SANS_IO_CORES)('$dir is a sans-I/O core', ({ dir, shells }) => {
  const core = typescriptFiles(join(ROOT, dir)).filter((file) => !shells.some((shell) => file.endsWith(`/${shell}`)));
  test.each(core.map((file) => [relative(ROOT, file), file]))('%s imports only its siblings and the shared codecs', (_name, file) => {
    const specifiers = [...withoutComments(readFileSync(file, 'utf8')).matchAll(/^(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    const sharedCodec = (specifier: string) => dirname(relative(ROOT, resolve(dirname(file), specifier))) === SHARED_CODECS;
    expect(specifiers.filter((specifier) => !specifier.startsWith('./') && !sharedCodec(specifier))).toEqual([]);
  });
});

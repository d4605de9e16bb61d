/**
 * What the Moddable build does with manifest.json, redone in Node for the tests: the module
 * list mcconfig derives from "modules" (tools/mcmanifest.js, ModulesRule), the tsconfig it
 * generates for the TypeScript modules (TSConfigFile) and the make rule that runs the
 * manifest's compiler on it, and the way XS on the device turns an import specifier into a
 * module name (xs/platforms/mc/xsHosts.c, fxFindModule). No Moddable SDK is needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
/** The build's compiler step: tsc, then module names XS can resolve (see the script). */
export const TSC_FOR_XS = join(ROOT, 'cli', 'build', 'tsc-for-xs.mjs');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Manifest {
  build?: { [key: string]: string };
  include?: string[];
  creation?: JsonObject;
  config?: JsonObject;
  typescript?: { compiler?: string; tsconfig?: { compilerOptions?: JsonObject } };
  modules?: { [target: string]: string | string[] };
  preload?: string[];
  ffi?: { sources?: string[]; functions?: { [name: string]: { arguments: string[]; returns: string } } };
  platforms?: { [platform: string]: JsonObject };
}

export function readManifest(): Manifest {
  return JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')) as Manifest;
}

/** A build variable of the manifest, as mcconfig resolves it ("./" → the manifest's folder). */
export function buildVariables(manifest: Manifest): { [name: string]: string } {
  const variables: { [name: string]: string } = {};
  for (const [name, value] of Object.entries(manifest.build ?? {})) {
    variables[name] = value === './' ? ROOT : value.startsWith('./') ? join(ROOT, value.slice(2)) : value;
  }
  return variables;
}

/** `$(NAME)` replaced as mcconfig does for strings in the tsconfig section. */
export function resolveVariables(value: string, variables: { [name: string]: string }): string {
  return value.replace(/\$\(([^)]+)\)/g, (_match, name: string) => variables[name] ?? process.env[name] ?? '');
}

export interface ModuleEntry {
  /** The module's name on the device (its import specifier). */
  specifier: string;
  /** The source file. */
  file: string;
  /** The manifest target it came from, e.g. "hal/*". */
  target: string;
}

export interface ModuleList {
  entries: ModuleEntry[];
  /** Sources or directories the manifest names that do not exist, and other mistakes. */
  problems: string[];
}

const MODULE_EXTENSIONS = ['.ts', '.js'];

function moduleNameOf(fileName: string): string | undefined {
  if (fileName.startsWith('.') || fileName.endsWith('.d.ts')) return undefined;
  const extension = MODULE_EXTENSIONS.find((ext) => fileName.endsWith(ext));
  return extension ? fileName.slice(0, -extension.length) : undefined;
}

/**
 * The JavaScript and TypeScript modules the manifest's "modules" object gives the image,
 * the way mcconfig matches them: a target "dir/*" with a source "./dir/*" names every module
 * file directly in that folder (not in sub-folders); other targets name one file, given
 * without extension. A source file mapped twice keeps its first name only.
 */
export function expandModules(modules: Manifest['modules']): ModuleList {
  const entries: ModuleEntry[] = [];
  const problems: string[] = [];
  const claimed = new Map<string, string>();
  const named = new Map<string, string>();
  for (const [target, value] of Object.entries(modules ?? {})) {
    if (target === '~') continue;
    for (const source of Array.isArray(value) ? value : [value]) {
      if (source.includes('$(')) continue; // an SDK path: not ours to check
      const path = resolve(ROOT, source);
      const found: ModuleEntry[] = [];
      if (path.endsWith('*')) {
        const directory = dirname(path);
        const prefix = basename(path).slice(0, -1);
        if (!existsSync(directory) || !statSync(directory).isDirectory()) {
          problems.push(`${target}: folder ${relative(ROOT, directory)} does not exist`);
          continue;
        }
        for (const name of readdirSync(directory).sort()) {
          const file = join(directory, name);
          const moduleName = moduleNameOf(name);
          if (!moduleName || !moduleName.startsWith(prefix) || !statSync(file).isFile()) continue;
          found.push({ specifier: target.replace('*', moduleName.slice(prefix.length)), file, target });
        }
        if (found.length === 0) problems.push(`${target}: no .ts or .js module in ${relative(ROOT, directory)}`);
      } else {
        const extension = MODULE_EXTENSIONS.find((ext) => existsSync(path + ext));
        if (extension) found.push({ specifier: target, file: path + extension, target });
        else problems.push(`${target}: ${source}.ts or .js does not exist`);
      }
      for (const entry of found) {
        const first = claimed.get(entry.file);
        if (first !== undefined) {
          problems.push(`${relative(ROOT, entry.file)} is named both "${first}" and "${entry.specifier}"; mcconfig keeps only "${first}"`);
          continue;
        }
        const other = named.get(entry.specifier);
        if (other !== undefined) {
          problems.push(`"${entry.specifier}" names both ${other} and ${relative(ROOT, entry.file)} (a stray compiled .js next to its .ts?)`);
          continue;
        }
        claimed.set(entry.file, entry.specifier);
        named.set(entry.specifier, relative(ROOT, entry.file));
        entries.push(entry);
      }
    }
  }
  return { entries, problems };
}

/**
 * The module name XS looks up for `specifier` imported by the module named `referrer`, as
 * fxFindModule in xs/platforms/mc/xsHosts.c computes it: a ".js"/".mjs" extension is dropped;
 * "./x" is taken from the referrer's folder and "../x" from its parent; a second "../" is
 * not understood (the name keeps it and matches no module). `undefined`: no name at all.
 */
export function xsModuleName(referrer: string, specifier: string): string | undefined {
  let name = specifier;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  const dot = lastPart.lastIndexOf('.');
  if (dot >= 0 && ['.js', '.mjs'].includes(lastPart.slice(dot))) name = name.slice(0, name.length - lastPart.length + dot);
  const dots = name.startsWith('./') ? 1 : name.startsWith('../') ? 2 : 0;
  if (dots === 0) return name;
  let buffer = '/' + referrer;
  let slash = buffer.lastIndexOf('/');
  if (dots === 2) {
    buffer = buffer.slice(0, slash);
    slash = buffer.lastIndexOf('/');
    if (slash < 0) return undefined;
  }
  return (buffer.slice(0, slash) + name.slice(dots)).slice(1);
}

/** The module specifiers a compiled module imports at run time (type imports are gone). */
export function runtimeImports(javascript: string): string[] {
  const specifiers: string[] = [];
  const code = javascript.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const pattern = /\b(?:import|export)\s[^'";]*?\bfrom\s*(['"])([^'"]+)\1|\bimport\s*(['"])([^'"]+)\3|\bimport\s*\(\s*(['"])([^'"]+)\5\s*\)/g;
  for (const match of code.matchAll(pattern)) specifiers.push((match[2] ?? match[4] ?? match[6])!);
  return specifiers;
}

/** The longest folder the sources share, as mcmanifest.js computes it for the make rules. */
export function commonDirectory(files: string[]): string {
  const directories = files.map((file) => dirname(file)).sort();
  const first = directories[0]!.split(sep);
  const last = directories[directories.length - 1]!.split(sep);
  let i = 0;
  while (i < Math.min(first.length, last.length) && first[i] === last[i]) i++;
  return first.slice(0, i).join(sep);
}

export interface Emission {
  outDir: string;
  entries: ModuleEntry[];
  /** Where each module's compiled JavaScript must be for mcconfig's xsc rule. */
  expected: Map<ModuleEntry, string>;
  status: number | null;
  output: string;
}

/**
 * Generates the tsconfig mcconfig writes into its modules folder (defaults of
 * TSConfigFile.generate, then the manifest's compilerOptions with variables and "types"
 * resolved, a "paths" entry per module, every TypeScript module in "files") and runs the
 * manifest's compiler on it, as the generated make rule does.
 */
export function emitLikeMcconfig(manifest: Manifest): Emission {
  const variables = buildVariables(manifest);
  const { entries } = expandModules(manifest.modules);
  const typescript = entries.filter((entry) => entry.file.endsWith('.ts'));
  const outDir = mkdtempSync(join(tmpdir(), 'thingkit-mcconfig-'));
  const compilerOptions = JSON.parse(JSON.stringify(manifest.typescript?.tsconfig?.compilerOptions ?? {}), (_key, value: unknown) =>
    typeof value === 'string' ? resolveVariables(value, variables) : value,
  ) as JsonObject;
  if (Array.isArray(compilerOptions.types)) compilerOptions.types = compilerOptions.types.map((type) => resolve(ROOT, String(type)));
  const paths: { [specifier: string]: string[] } = {};
  for (const entry of typescript) paths[entry.specifier] = [entry.file.slice(0, -3)];
  const tsconfig = {
    compilerOptions: {
      baseUrl: './',
      forceConsistentCasingInFileNames: true,
      module: 'es2020',
      outDir,
      paths,
      lib: ['es2020'],
      sourceMap: true,
      target: 'ES2020',
      ...compilerOptions,
    },
    files: typescript.map((entry) => entry.file),
  };
  const tsconfigPath = join(outDir, 'tsconfig.json');
  writeFileSync(tsconfigPath, JSON.stringify(tsconfig, null, '\t'));
  // The make rule: "\t<compiler> -p $(MODULES_DIR)/tsconfig.json", run by a shell.
  const compiler = resolveVariables(manifest.typescript?.compiler ?? 'tsc', { ...variables, MAIN_DIR: ROOT });
  const result = spawnSync(`${compiler} -p "${tsconfigPath}"`, { encoding: 'utf8', shell: true });
  const common = commonDirectory(typescript.map((entry) => entry.file));
  const expected = new Map<ModuleEntry, string>();
  for (const entry of typescript) expected.set(entry, join(outDir, entry.file.slice(common.length, -3) + '.js'));
  return { outDir, entries, expected, status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

/**
 * Modules the SDK manifests that manifest.json includes give the image, by the names the
 * HAL imports them with (modules/io/manifest.json, modules/io/flash/esp32/manifest.json,
 * modules/crypt/tls.json and tls_common.json, modules/crypt/digest/manifest.json,
 * modules/files/preference/manifest.json, examples/manifest_base.json and
 * manifest_net.json), plus "mc/config" and "mc/ffi", which mcconfig generates.
 */
export const SDK_MODULES: ReadonlySet<string> = new Set([
  'timer',
  'time',
  'instrumentation',
  'socket',
  'securesocket',
  'preference',
  'crypt',
  'hmac',
  'ecdsa',
  'curve',
  'ecp',
  'mc/config',
  'mc/ffi',
  'embedded:io/i2c',
  'embedded:io/digital',
  'embedded:io/analog',
  'embedded:io/serial',
  'embedded:storage/flash',
]);

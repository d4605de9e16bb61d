#!/usr/bin/env node
/**
 * The TypeScript compiler step of the ESP32 build (manifest.json "typescript.compiler"; runs
 * on the developer's computer under Node, never on the device). mcconfig's make rule calls it
 * as `<compiler> -p <modules dir>/tsconfig.json`; it runs the project's tsc with the same
 * arguments, then rewrites every relative import specifier in the emitted JavaScript to the
 * module name the manifest gives the imported file.
 *
 * Why: XS on the device resolves "./x" against the importer's folder and "../x" against its
 * parent, and nothing further up, and has no folder index (xs/platforms/mc/xsHosts.c,
 * fxFindModule), while tsc leaves specifiers as written. "../../../hal/i2c" in
 * firmware/drivers/sht3x/sht3x.ts becomes "hal/i2c", the name the manifest gives hal/i2c.ts.
 * The names come from the "paths" mcconfig writes into that tsconfig (one per module) and
 * its "rootDir" / "outDir"; a specifier that names no module of the image is left alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** Runs tsc with `args`; returns its exit status. */
function runTsc(args) {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, ...args], { stdio: 'inherit' });
  return result.status ?? 1;
}

/** Reads a tsconfig that may hold comments (mcconfig writes plain JSON). */
function readConfig(path) {
  const text = readFileSync(path, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  return JSON.parse(text);
}

function javascriptFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return javascriptFiles(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

/** Source path without extension → module name, from the generated "paths". */
function moduleNames(paths, configDir) {
  const names = new Map();
  for (const [specifier, targets] of Object.entries(paths ?? {})) {
    if (specifier.includes('*') || !Array.isArray(targets) || targets.length !== 1) continue;
    names.set(resolve(configDir, targets[0]), specifier);
  }
  return names;
}

/** The module name for `specifier` imported by `source`, or undefined to leave it as is. */
function canonicalName(source, specifier, names) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  let target = resolve(dirname(source), specifier);
  const extension = extname(target);
  if (['.js', '.mjs', '.ts'].includes(extension)) target = target.slice(0, -extension.length);
  return names.get(target) ?? names.get(join(target, 'index'));
}

const IMPORT = /(\b(?:import|export)\s[^'";]*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)(['"])([^'"]+)\2/g;

/** Rewrites the relative specifiers of every emitted module; returns how many changed. */
export function rewriteSpecifiers(configPath) {
  const configDir = dirname(resolve(configPath));
  const options = readConfig(configPath).compilerOptions ?? {};
  const outDir = resolve(configDir, options.outDir ?? '.');
  const rootDir = resolve(configDir, options.rootDir ?? '.');
  const names = moduleNames(options.paths, resolve(configDir, options.baseUrl ?? '.'));
  let changed = 0;
  for (const file of javascriptFiles(outDir)) {
    const source = join(rootDir, relative(outDir, file)).slice(0, -3) + '.ts';
    const code = readFileSync(file, 'utf8');
    const rewritten = code.replace(IMPORT, (match, head, quote, specifier) => {
      const name = canonicalName(source, specifier, names);
      if (name === undefined || name === specifier) return match;
      changed++;
      return `${head}${quote}${name}${quote}`;
    });
    if (rewritten !== code) writeFileSync(file, rewritten);
  }
  return changed;
}

function main(args) {
  const status = runTsc(args);
  if (status !== 0) return status;
  const at = args.findIndex((arg) => arg === '-p' || arg === '--project');
  if (at < 0) return 0;
  const project = args[at + 1];
  if (!project) {
    console.error('tsc-for-xs: -p needs a tsconfig path');
    return 2;
  }
  rewriteSpecifiers(project.endsWith('.json') ? project : join(project, 'tsconfig.json'));
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv.slice(2)));
}

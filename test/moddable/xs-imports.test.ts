/**
 * Module specifiers as XS on the ESP32 resolves them. XS looks a module up by name: "./x"
 * from the importer's folder, "../x" from its parent, and nothing further up
 * (xs/platforms/mc/xsHosts.c, fxFindModule); there is no "index" file for a folder and no
 * extension. tsc leaves specifiers as written, so the build's compiler step
 * (cli/build/tsc-for-xs.mjs) renames relative imports to the manifest's module
 * names. These tests compile the image as mcconfig does and check that every run-time import
 * of the result names a module the manifest lists or one the SDK provides. Type-only imports
 * disappear in compilation and do not count.
 */
import { readFileSync, rmSync } from 'node:fs';
import { emitLikeMcconfig, readManifest, runtimeImports, SDK_MODULES, xsModuleName, type Emission } from './moddable-build';

const manifest = readManifest();

describe('XS module names', () => {
  test('follow fxFindModule: one folder up at most, no index, .js dropped', () => {
    expect(xsModuleName('hal/moddable/main', './index')).toBe('hal/moddable/index');
    expect(xsModuleName('hal/moddable/index', '../kv')).toBe('hal/kv');
    expect(xsModuleName('firmware/main', '../hal')).toBe('hal');
    expect(xsModuleName('firmware/app/application', '../iot/mqtt/client')).toBe('firmware/iot/mqtt/client');
    expect(xsModuleName('firmware/drivers/sht3x/sht3x', '../../../hal/i2c')).toBe('firmware/drivers/../../hal/i2c');
    expect(xsModuleName('a/b', './c.js')).toBe('a/c');
    expect(xsModuleName('main', '../x')).toBeUndefined();
    expect(xsModuleName('hal/moddable/main', 'firmware/main')).toBe('firmware/main');
  });

  test('runtime imports are read from compiled JavaScript', () => {
    const js = 'import a from "x";\nimport { b } from \'./y\';\nexport { c } from "../z";\nexport * from "w";\nimport "side";\nconst m = import("lazy");\n// import q from "comment";\n';
    expect(runtimeImports(js)).toEqual(['x', './y', '../z', 'w', 'side', 'lazy']);
  });
});

describe('the image', () => {
  let emission: Emission;
  let imports: Map<string, { specifier: string; name: string | undefined }[]>;

  beforeAll(() => {
    emission = emitLikeMcconfig(manifest);
    imports = new Map();
    for (const [entry, file] of emission.expected) {
      imports.set(
        entry.specifier,
        runtimeImports(readFileSync(file, 'utf8')).map((specifier) => ({ specifier, name: xsModuleName(entry.specifier, specifier) })),
      );
    }
  });
  afterAll(() => {
    if (emission) rmSync(emission.outDir, { recursive: true, force: true });
  });

  test('compiles', () => {
    expect(emission.status).toBe(0);
  });

  test('the compiler step renames imports that climb folders to module names', () => {
    const main = imports.get('hal/moddable/main')?.map((item) => item.specifier);
    expect(main).toEqual(expect.arrayContaining(['boards/esp32-devkitc', 'firmware/main', 'firmware/version', 'hal/moddable/index']));
    for (const [, list] of imports) for (const { specifier } of list) expect(specifier.startsWith('../../')).toBe(false);
  });

  test('every run-time import resolves to a module of the image on XS', () => {
    const known = new Set([...imports.keys(), ...emission.entries.map((entry) => entry.specifier), ...SDK_MODULES]);
    const problems: string[] = [];
    for (const [module, list] of imports) {
      for (const { specifier, name } of list) {
        if (name === undefined || !known.has(name)) {
          problems.push(`${module} imports "${specifier}": XS looks for ${name === undefined ? 'nothing' : `"${name}"`}, which is not a module of the image`);
        }
      }
    }
    // A module missing here is missing from manifest.json "modules", or is not a module at all.
    expect(problems).toEqual([]);
  });

  test('preloaded modules import only preloaded or SDK modules', () => {
    const preload = new Set(manifest.preload ?? []);
    const problems: string[] = [];
    for (const module of preload) {
      for (const { specifier, name } of imports.get(module) ?? []) {
        if (name === undefined || !(preload.has(name) || SDK_MODULES.has(name))) problems.push(`${module} imports "${specifier}", which is not preloaded`);
      }
    }
    expect(problems).toEqual([]);
  });
});

/**
 * manifest.json, the ESP32 build of the firmware (mcconfig -d -m -p esp32), checked without
 * the Moddable SDK: its paths exist, it names every module the image needs, its settings
 * are the ones hal/moddable/README.md documents, and its TypeScript compiles under strict
 * XS-only types, both as hal/moddable/tsconfig.json checks it and as mcconfig's generated
 * tsconfig and make rule compile it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { buildVariables, emitLikeMcconfig, expandModules, readManifest, resolveVariables, ROOT, TSC, TSC_FOR_XS, type Emission, type Manifest } from './moddable-build';

const manifest: Manifest = readManifest();
const modules = expandModules(manifest.modules);
const specifiers = new Map(modules.entries.map((entry) => [entry.specifier, entry]));

/** The hal/moddable module of every HAL part, plus the program entry and the FFI glue. */
const HAL_MODDABLE_MODULES = ['main', 'index', 'clock', 'timers', 'i2c', 'gpio', 'text', 'net', 'flash', 'kv', 'crypto', 'system', 'log', 'native'];

function typescriptSources(dir: string, recursive: boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return recursive ? typescriptSources(path, true) : [];
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function platform(name: string) {
  const entry = manifest.platforms?.[name];
  if (!entry) throw new Error(`manifest.json has no platforms["${name}"]`);
  return entry as { include?: string[]; build?: { [key: string]: string }; error?: string; warning?: string };
}

describe('manifest.json', () => {
  test('is strict JSON with only keys mcconfig reads', () => {
    const known = ['build', 'include', 'creation', 'defines', 'config', 'strip', 'modules', 'preload', 'resources', 'data', 'platforms', 'typescript', 'ffi'];
    expect(Object.keys(manifest).filter((key) => !known.includes(key))).toEqual([]);
  });

  test('includes the SDK manifests the HAL is built on', () => {
    expect(manifest.include).toEqual(
      expect.arrayContaining([
        '$(MODDABLE)/modules/io/manifest.json', // embedded:io/*, System, and through it manifest_base (timer, time, instrumentation) and manifest_net (socket, Wi-Fi, SNTP)
        '$(MODDABLE)/modules/crypt/tls.json', // securesocket, crypt, hmac, ecdsa, curve, ecp
        '$(MODDABLE)/modules/files/preference/manifest.json',
      ]),
    );
    for (const name of ['esp32', 'esp32/*']) expect(platform(name).include).toContain('$(MODDABLE)/modules/io/flash/esp32/manifest.json');
  });

  test('every module path it lists exists in the repository, as .ts or .js', () => {
    expect(modules.problems).toEqual([]);
    for (const entry of modules.entries) expect(existsSync(entry.file)).toBe(true);
  });

  test('every firmware, board and HAL source is in the image', () => {
    const listed = new Set(modules.entries.map((entry) => entry.file));
    const sources = [
      ...typescriptSources(join(ROOT, 'firmware'), true),
      ...typescriptSources(join(ROOT, 'boards'), true),
      ...typescriptSources(join(ROOT, 'hal'), false),
      ...typescriptSources(join(ROOT, 'hal', 'moddable'), false),
    ];
    const missing = sources.filter((file) => !listed.has(file)).map((file) => relative(ROOT, file));
    // A new firmware folder needs a "firmware/<folder>/*" entry in "modules".
    expect(missing).toEqual([]);
  });

  test('lists the hal/moddable module of every HAL part, and the program entry is one of them', () => {
    for (const name of HAL_MODDABLE_MODULES) {
      const entry = specifiers.get(`hal/moddable/${name}`);
      expect(entry?.file).toBe(join(ROOT, 'hal', 'moddable', `${name}.ts`));
    }
    expect(manifest.creation?.main).toBe('hal/moddable/main');
    for (const name of ['firmware/main', 'firmware/version', 'boards/esp32-devkitc']) expect(specifiers.has(name)).toBe(true);
  });

  test('creation: the fixed XS machine of ESP32 targets (chunk 78848 bytes, heap 4928 slots, stack 512 slots)', () => {
    expect(manifest.creation).toMatchObject({
      static: 0,
      chunk: { initial: 78848, incremental: 0 },
      heap: { initial: 4928, incremental: 0 },
      stack: 512,
    });
  });

  test('platforms: esp32 and esp32/* build, every other platform is an error', () => {
    for (const name of ['esp32', 'esp32/*']) expect(platform(name).error).toBeUndefined();
    expect(platform('...').error).toMatch(/ESP32/);
    expect(Object.keys(manifest.platforms ?? {}).sort()).toEqual(['...', 'esp32', 'esp32/*']);
  });

  test('build: the board partition table and the sdkconfig overrides with app rollback', () => {
    for (const name of ['esp32', 'esp32/*']) {
      const build = platform(name).build ?? {};
      expect(build.PARTITIONS_FILE).toBe('./boards/esp32-devkitc/partitions.csv');
      expect(build.SDKCONFIGPATH).toBe('./hal/moddable/sdkconfig');
    }
    const partitions = readFileSync(join(ROOT, 'boards', 'esp32-devkitc', 'partitions.csv'), 'utf8');
    for (const label of ['nvs', 'otadata', 'ota_0', 'ota_1', 'outbox']) expect(partitions).toMatch(new RegExp(`^${label},`, 'm'));
    const sdkconfig = readFileSync(join(ROOT, 'hal', 'moddable', 'sdkconfig', 'sdkconfig.defaults'), 'utf8');
    expect(sdkconfig).toMatch(/^CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y$/m);
    expect(sdkconfig).toMatch(/^CONFIG_PARTITION_TABLE_CUSTOM=y$/m);
    // ota.autosplit would carve OTA slots out of a factory partition; this table has them already.
    expect(JSON.stringify(manifest)).not.toMatch(/autosplit/);
    expect(buildVariables(manifest).THINGKIT).toBe(ROOT);
  });

  test('config: placeholders the firmware reads, no secrets', () => {
    expect(manifest.config).toMatchObject({ deviceId: '', mqttHost: expect.any(String), mqttPort: 8883, telemetryIntervalMs: expect.any(Number) });
    for (const secret of ['password', 'ssid', 'mqttPassword', 'sasKey', 'privateKey']) expect(manifest.config).not.toHaveProperty(secret);
  });

  test('preload: listed modules only, none from hal/moddable', () => {
    const preload = manifest.preload ?? [];
    expect(preload.filter((name) => !specifiers.has(name))).toEqual([]);
    // hal/moddable reaches native code and stays out of the preloaded image.
    expect(preload.filter((name) => name.startsWith('hal/moddable/'))).toEqual([]);
  });

  test('typescript: the project compiler, and the same types hal/moddable/tsconfig.json checks with', () => {
    const variables = buildVariables(manifest);
    const compiler = resolveVariables(manifest.typescript?.compiler ?? '', variables);
    // The project's tsc (node_modules/typescript), run by the ESP32 build's wrapper.
    expect(compiler).toBe(`node ${TSC_FOR_XS}`);
    expect(existsSync(TSC_FOR_XS)).toBe(true);
    expect(readFileSync(TSC_FOR_XS, 'utf8')).toMatch(/require\.resolve\('typescript\/bin\/tsc'\)/);
    const options = manifest.typescript?.tsconfig?.compilerOptions ?? {};
    expect(options).toMatchObject({ strict: true, module: 'preserve', lib: ['es2025'], rootDir: '$(THINGKIT)' });
    const types = (options.types as string[]).map((type) => resolve(ROOT, type));
    for (const type of types) expect(existsSync(`${type}.d.ts`)).toBe(true);
    const local = JSON.parse(
      readFileSync(join(ROOT, 'hal', 'moddable', 'tsconfig.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''),
    ) as { compilerOptions: { types: string[] } };
    const localTypes = local.compilerOptions.types.map((type) =>
      type.startsWith('./') ? resolve(ROOT, 'hal', 'moddable', type) : join(ROOT, 'node_modules', type),
    );
    expect(types).toEqual(localTypes);
  });

  test('ffi: every declared function is implemented in C and typed for TypeScript', () => {
    const functions = Object.keys(manifest.ffi?.functions ?? {});
    expect(functions.length).toBeGreaterThan(0);
    const sources = (manifest.ffi?.sources ?? []).map((source) => readFileSync(resolve(ROOT, source), 'utf8')).join('\n');
    const typings = readFileSync(join(ROOT, 'hal', 'moddable', 'types', 'mc-ffi.d.ts'), 'utf8');
    for (const name of functions) {
      expect(sources).toMatch(new RegExp(`\\b${name}\\s*\\(`));
      expect(typings).toMatch(new RegExp(`\\b${name}\\(`));
    }
    const typed = [...typings.matchAll(/^\s+(thingkit_\w+)\(/gm)].map((match) => match[1]);
    expect(typed.sort()).toEqual([...functions].sort());
  });
});

describe('TypeScript for the device', () => {
  test('tsc -p hal/moddable/tsconfig.json --noEmit passes', () => {
    const result = spawnSync(TSC, ['-p', join(ROOT, 'hal', 'moddable', 'tsconfig.json'), '--noEmit'], { cwd: ROOT, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });

  describe('as mcconfig compiles it', () => {
    let emission: Emission;
    beforeAll(() => {
      emission = emitLikeMcconfig(manifest);
    });
    afterAll(() => {
      if (emission) rmSync(emission.outDir, { recursive: true, force: true });
    });

    test('the generated tsconfig compiles with the manifest compiler', () => {
      expect(emission.output).toBe('');
      expect(emission.status).toBe(0);
    });

    test('every TypeScript module is emitted where the make rule hands it to xsc', () => {
      const missing = [...emission.expected].filter(([, file]) => !existsSync(file) || statSync(file).size === 0).map(([entry]) => entry.specifier);
      expect(missing).toEqual([]);
    });
  });
});

/**
 * Bundles the firmware with the host HAL's XS side into one script per board, as the XS
 * engine runs it (what `mcconfig` does for the device, esbuild does for the host).
 */
import { buildSync } from 'esbuild';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const cache = new Map<string, string>();

export interface BundleOptions {
  board: string;
  /** Module that exports `boot(hal)`; the project's own firmware by default. */
  firmwareModule?: string;
  minify?: boolean;
}

export function bundleFirmware(options: BundleOptions): string {
  const firmwareModule = path.resolve(options.firmwareModule ?? path.join(ROOT, 'firmware', 'main'));
  const key = `${options.board}\0${firmwareModule}\0${options.minify ? 1 : 0}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const boardModule = path.join(ROOT, 'boards', options.board);
  const entry = [
    `import board from ${JSON.stringify(boardModule)};`,
    `import { boot } from ${JSON.stringify(firmwareModule)};`,
    `import { startXsFirmware } from ${JSON.stringify(path.join(ROOT, 'hal', 'host', 'xs-entry'))};`,
    'startXsFirmware(board, boot);',
  ].join('\n');
  const result = buildSync({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: `firmware-${options.board}.ts` },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    minify: options.minify ?? false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  cache.set(key, code);
  return code;
}

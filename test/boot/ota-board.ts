import type { BoardDefinition } from '../../hal/board';
import { buildImage } from '../../host-sim/ota/image';

/**
 * A board with ESP-IDF's two-OTA layout shrunk to 192 KB of flash (two 64 KB slots), so that
 * tests opening many images stay quick.
 */
export const otaBoard: BoardDefinition = {
  name: 'test-ota',
  target: 'esp32',
  moddablePlatform: 'esp32',
  flashSize: 0x30000,
  i2c: [],
  sensors: [],
  partitions: [
    { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 },
    { label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 },
    { label: 'ota_0', type: 'app', subtype: 'ota_0', offset: 0x10000, size: 0x10000 },
    { label: 'ota_1', type: 'app', subtype: 'ota_1', offset: 0x20000, size: 0x10000 },
  ],
};

/** A small app image for `otaBoard` whose bundle says which version it is; spans two sectors. */
export function appImage(version: string, options: { board?: string; securityVersion?: number } = {}): Uint8Array {
  const filler = '/* padding */\n'.repeat(400); // ≈ 5.6 KB: the image crosses a sector boundary
  return buildImage({
    version,
    board: options.board ?? otaBoard.name,
    securityVersion: options.securityVersion,
    bundle: `globalThis.firmwareVersion = ${JSON.stringify(version)};\n${filler}`,
  });
}

import type { BoardDefinition } from '../../hal/board';

/** A board with 128 KB of flash, so that tests creating many images stay quick. */
export const smallBoard: BoardDefinition = {
  name: 'test-small',
  target: 'esp32',
  moddablePlatform: 'esp32',
  flashSize: 0x20000,
  i2c: [],
  sensors: [],
  partitions: [
    { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 },
    { label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 },
    { label: 'ota_0', type: 'app', subtype: 'ota_0', offset: 0x10000, size: 0x10000 },
  ],
};

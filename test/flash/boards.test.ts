import * as fs from 'node:fs';
import * as path from 'node:path';
import { boards, findBoard } from '../../boards';
import esp32C3DevkitM1 from '../../boards/esp32-c3-devkitm-1';
import esp32DevkitC from '../../boards/esp32-devkitc';
import esp32S3DevkitC1 from '../../boards/esp32-s3-devkitc-1';
import m5stackCore2 from '../../boards/m5stack-core2';
import { renderPartitionsCsv } from '../../boards/partitions-csv';
import type { BoardDefinition } from '../../hal/board';
import { partitionTableProblems } from '../../host-sim/flash/partition-table';

const MB = 1024 * 1024;
const allBoards = Object.values(boards).map((board) => [board.name, board] as const);

describe('boards', () => {
  test('esp32-devkitc', () => {
    expect(esp32DevkitC).toMatchObject({
      name: 'esp32-devkitc',
      target: 'esp32',
      moddablePlatform: 'esp32',
      flashSize: 4 * MB,
      i2c: [{ port: 0, data: 21, clock: 22, hz: 100_000 }],
      sensors: [{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }],
    });
    expect(esp32DevkitC.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata', 'phy_init', 'ota_0', 'ota_1', 'outbox']);
  });

  test('esp32-s3-devkitc-1: ESP32-S3-WROOM-1-N8, Moddable esp32/esp32s3 I2C pins', () => {
    expect(esp32S3DevkitC1).toMatchObject({
      name: 'esp32-s3-devkitc-1',
      target: 'esp32s3',
      moddablePlatform: 'esp32/esp32s3',
      flashSize: 8 * MB,
      i2c: [{ port: 0, data: 4, clock: 5, hz: 100_000 }],
      sensors: [{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }],
    });
  });

  test('m5stack-core2: Port A on 32/33 and the internal bus on 21/22, no sensor fitted (no MPU6886 driver)', () => {
    expect(m5stackCore2).toMatchObject({
      name: 'm5stack-core2',
      target: 'esp32',
      moddablePlatform: 'esp32/m5stack_core2',
      flashSize: 16 * MB,
      i2c: [
        { port: 0, data: 32, clock: 33, hz: 100_000 },
        { port: 1, data: 21, clock: 22, hz: 400_000 },
      ],
      sensors: [],
    });
  });

  test('esp32-c3-devkitm-1: ESP32-C3-MINI-1 (4 MB), one I2C port', () => {
    expect(esp32C3DevkitM1).toMatchObject({
      name: 'esp32-c3-devkitm-1',
      target: 'esp32c3',
      moddablePlatform: 'esp32/esp32c3',
      flashSize: 4 * MB,
      i2c: [{ port: 0, data: 2, clock: 3, hz: 100_000 }],
      sensors: [{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }],
    });
  });

  test('every board is registered under its own name', () => {
    expect(Object.keys(boards).sort()).toEqual(['esp32-c3-devkitm-1', 'esp32-devkitc', 'esp32-s3-devkitc-1', 'm5stack-core2']);
    for (const [name, board] of allBoards) expect(findBoard(name)).toBe(board);
  });

  describe.each(allBoards)('%s', (_name, board: BoardDefinition) => {
    test('has a valid partition table that fits its flash', () => {
      expect(partitionTableProblems(board.partitions, board.flashSize)).toEqual([]);
    });

    test('has the partitions the firmware needs, in the two-OTA layout', () => {
      const find = (type: string, subtype: string) => board.partitions.filter((p) => p.type === type && p.subtype === subtype);
      expect(find('data', 'nvs')).toHaveLength(1);
      expect(find('data', 'ota')).toHaveLength(1);
      expect(find('data', 'phy')).toHaveLength(1);
      expect(find('app', 'ota_0')).toHaveLength(1);
      expect(find('app', 'ota_1')).toHaveLength(1);
      expect(find('app', 'factory')).toHaveLength(0);
      expect(board.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata', 'phy_init', 'ota_0', 'ota_1', 'outbox']);
    });

    test('two equal app slots, 64 KB aligned, each 3/8 of the flash; the outbox takes the rest to the end of flash', () => {
      const [ota0, ota1] = [board.partitions.find((p) => p.label === 'ota_0')!, board.partitions.find((p) => p.label === 'ota_1')!];
      expect(ota0.size).toBe(ota1.size);
      expect(ota0.size % 0x10000).toBe(0);
      expect(ota0.size).toBe((board.flashSize * 3) / 8);
      expect(ota1.offset).toBe(ota0.offset + ota0.size);
      const outbox = board.partitions.find((p) => p.label === 'outbox')!;
      expect(outbox).toMatchObject({ type: 'data', subtype: 'undefined', offset: ota1.offset + ota1.size });
      expect(outbox.offset + outbox.size).toBe(board.flashSize);
    });

    test('pins and sensors are consistent', () => {
      const ports = board.i2c.map((bus) => bus.port);
      expect(new Set(ports).size).toBe(ports.length);
      const pins = board.i2c.flatMap((bus) => [bus.data, bus.clock]);
      expect(new Set(pins).size).toBe(pins.length);
      for (const sensor of board.sensors) expect(ports).toContain(sensor.bus);
      // The ESP32-C3 has a single I2C controller.
      if (board.target === 'esp32c3') expect(ports).toEqual([0]);
    });
  });

  test('findBoard', () => {
    expect(findBoard('esp32-devkitc')).toBe(esp32DevkitC);
    expect(() => findBoard('esp32-nope')).toThrow(
      'Unknown board "esp32-nope"; known boards: esp32-c3-devkitm-1, esp32-devkitc, esp32-s3-devkitc-1, m5stack-core2',
    );
    expect(() => findBoard('toString')).toThrow(/Unknown board/);
  });
});

describe('partitions CSV', () => {
  test('renders ESP-IDF CSV', () => {
    const csv = renderPartitionsCsv(esp32DevkitC);
    const rows = csv
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(',').map((field) => field.trim()));
    expect(csv).toContain('# Name, Type, SubType, Offset, Size, Flags\n');
    expect(rows[0]).toEqual(['nvs', 'data', 'nvs', '0x9000', '0x4000', '']);
    expect(rows.at(-1)).toEqual(['outbox', 'data', 'undefined', '0x310000', '0xf0000', '']);
    expect(rows).toHaveLength(esp32DevkitC.partitions.length);
  });

  test.each(allBoards)('%s: the CSV parses back to the board table', (_name, board) => {
    const rows = renderPartitionsCsv(board)
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(',').map((field) => field.trim()));
    expect(rows.map(([label, type, subtype, offset, size]) => ({ label, type, subtype, offset: Number(offset), size: Number(size) }))).toEqual(
      board.partitions,
    );
  });

  // Set THINGKIT_UPDATE_PARTITIONS_CSV=1 to rewrite the committed files after changing a board.
  test.each(allBoards)('boards/%s/partitions.csv is up to date', (name, board) => {
    const file = path.join(__dirname, '../../boards', name, 'partitions.csv');
    const rendered = renderPartitionsCsv(board);
    if (process.env.THINGKIT_UPDATE_PARTITIONS_CSV === '1') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, rendered);
    }
    expect(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing)').toBe(rendered);
  });
});

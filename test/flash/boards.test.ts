import * as fs from 'node:fs';
import * as path from 'node:path';
import { boards, findBoard } from '../../boards';
import esp32DevkitC from '../../boards/esp32-devkitc';
import { renderPartitionsCsv } from '../../boards/partitions-csv';
import { partitionTableProblems } from '../../host-sim/flash/partition-table';

describe('boards', () => {
  test('esp32-devkitc', () => {
    expect(esp32DevkitC).toMatchObject({
      name: 'esp32-devkitc',
      target: 'esp32',
      moddablePlatform: 'esp32',
      flashSize: 4 * 1024 * 1024,
      i2c: [{ port: 0, data: 21, clock: 22, hz: 100_000 }],
      sensors: [{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }],
    });
    expect(esp32DevkitC.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata', 'phy_init', 'ota_0', 'ota_1', 'outbox']);
  });

  test('every board has a valid partition table that fits its flash, and the partitions the firmware needs', () => {
    for (const board of Object.values(boards)) {
      expect(partitionTableProblems(board.partitions, board.flashSize)).toEqual([]);
      const find = (type: string, subtype: string) => board.partitions.filter((p) => p.type === type && p.subtype === subtype);
      expect(find('data', 'nvs')).toHaveLength(1);
      expect(find('data', 'ota')).toHaveLength(1);
      expect(find('app', 'ota_0')).toHaveLength(1);
      expect(find('app', 'ota_1')).toHaveLength(1);
      expect(board.partitions.some((p) => p.label === 'outbox')).toBe(true);
    }
  });

  test('findBoard', () => {
    expect(findBoard('esp32-devkitc')).toBe(esp32DevkitC);
    expect(() => findBoard('esp32-nope')).toThrow('Unknown board "esp32-nope"; known boards: esp32-devkitc');
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

  // Set THINGKIT_UPDATE_PARTITIONS_CSV=1 to rewrite the committed files after changing a board.
  test.each(Object.values(boards).map((board) => [board.name, board] as const))('boards/%s/partitions.csv is up to date', (name, board) => {
    const file = path.join(__dirname, '../../boards', name, 'partitions.csv');
    const rendered = renderPartitionsCsv(board);
    if (process.env.THINGKIT_UPDATE_PARTITIONS_CSV === '1') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, rendered);
    }
    expect(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing)').toBe(rendered);
  });
});

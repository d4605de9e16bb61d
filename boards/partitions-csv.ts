import type { BoardDefinition } from '../hal/board';

const HEADER = '# Name, Type, SubType, Offset, Size, Flags';

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

function describeFlashSize(bytes: number): string {
  const mb = bytes / 0x100000;
  return Number.isInteger(mb) ? `${mb} MB` : `${hex(bytes)} bytes`;
}

/**
 * A board's partition table as an ESP-IDF partitions CSV (the input of gen_esp32part.py), for
 * a hardware build. Offsets and sizes are written in hex so that they are exact, and every
 * offset is explicit so that ESP-IDF places nothing itself. Pure: firmware-safe.
 */
export function renderPartitionsCsv(board: BoardDefinition): string {
  const rows = board.partitions.map((p) => [p.label, p.type, p.subtype, hex(p.offset), hex(p.size)]);
  const widths = [0, 1, 2, 3, 4].map((column) => Math.max(...rows.map((row) => row[column]!.length + 1)));
  const lines = [
    `# ESP-IDF partition table for board ${board.name} (${describeFlashSize(board.flashSize)} flash).`,
    `# Generated from boards/${board.name}.ts by boards/partitions-csv.ts: edit the board, not this file.`,
    HEADER,
    // The Flags column is left empty: thingkit uses neither `encrypted` nor `readonly`.
    ...rows.map((row) => row.map((field, column) => `${field},`.padEnd(widths[column]!)).join(' ').trimEnd()),
  ];
  return lines.join('\n') + '\n';
}

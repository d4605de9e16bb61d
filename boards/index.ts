import type { BoardDefinition } from '../hal/board';
import esp32C3DevkitM1 from './esp32-c3-devkitm-1';
import esp32DevkitC from './esp32-devkitc';
import esp32S3DevkitC1 from './esp32-s3-devkitc-1';
import m5stackCore2 from './m5stack-core2';

/** Every board thingkit knows, by name. */
export const boards: Record<string, BoardDefinition> = {
  [esp32DevkitC.name]: esp32DevkitC,
  [esp32S3DevkitC1.name]: esp32S3DevkitC1,
  [esp32C3DevkitM1.name]: esp32C3DevkitM1,
  [m5stackCore2.name]: m5stackCore2,
};

/** The board called `name`; throws naming the known boards when there is none. */
export function findBoard(name: string): BoardDefinition {
  const board = Object.prototype.hasOwnProperty.call(boards, name) ? boards[name] : undefined;
  if (!board) {
    throw new Error(`Unknown board "${name}"; known boards: ${Object.keys(boards).sort().join(', ')}`);
  }
  return board;
}

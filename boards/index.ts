import type { BoardDefinition } from '../hal/board';
import esp32DevkitC from './esp32-devkitc';

/** Every board thingkit knows, by name. */
export const boards: Record<string, BoardDefinition> = {
  [esp32DevkitC.name]: esp32DevkitC,
};

/** The board called `name`; throws naming the known boards when there is none. */
export function findBoard(name: string): BoardDefinition {
  const board = Object.prototype.hasOwnProperty.call(boards, name) ? boards[name] : undefined;
  if (!board) {
    throw new Error(`Unknown board "${name}"; known boards: ${Object.keys(boards).sort().join(', ')}`);
  }
  return board;
}

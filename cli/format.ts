/** How `thingkit sim` prints device events: one JSON object a line, or a line for people. */
import type { SimEvent } from '../host-sim/sim-event';
import { formatDuration } from './duration';

const SKIPPED = new Set(['device', 'engine', 't', 'type']);

function value(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toFixed(3));
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export function formatHuman(event: SimEvent): string {
  const fields = Object.keys(event)
    .filter((key) => !SKIPPED.has(key) && event[key] !== undefined)
    .map((key) => `${key}=${value(event[key])}`);
  const time = formatDuration(event.t).padStart(10);
  return `${time}  ${event.device} [${event.engine}] ${event.type.padEnd(12)} ${fields.join(' ')}`.trimEnd();
}

export function formatJson(event: SimEvent): string {
  return JSON.stringify(event);
}

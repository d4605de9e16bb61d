/** Durations on the command line: `90s`, `10m`, `1.5h`, `2d`, `250ms`. */
const UNITS: { [unit: string]: number } = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) {
    throw new UsageError(`${option} "${text}" is not a duration: write a positive number with a unit, like 30s, 10m, 2h or 1d`);
  }
  return Math.round(Number(match[1]) * UNITS[match[2]]);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(3)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${+(s % 60).toFixed(3)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${Math.floor(s % 60)}s`;
}

/** A mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * ISO 8601 UTC text for a Unix time in ms, exactly as `Date.prototype.toISOString` writes it
 * (`2024-05-01T12:34:56.789Z`; years outside 0-9999 as `+010000` / `-000001`). A pure
 * function: the firmware rules keep `new Date` out of firmware (it is how code reads the
 * wall clock behind the HAL's back), and this needs no clock. Runs on XS.
 */

/** The range of an ECMAScript time value: ±100 000 000 days around the epoch. */
const MAX_TIME_MS = 8.64e15;
const DAY_MS = 86_400_000;

function pad(value: number, digits: number): string {
  let text = String(value);
  while (text.length < digits) text = `0${text}`;
  return text;
}

/**
 * `2024-05-01T12:34:56.789Z` for `ms` since 1970-01-01T00:00:00Z (fractions of a ms are
 * dropped). Throws RangeError for a time `Date` could not hold (not finite, beyond ±8.64e15).
 */
export function isoTimeUtc(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) throw new RangeError(`${ms} is not a time ISO 8601 text can name`);
  const time = Math.floor(ms);
  const days = Math.floor(time / DAY_MS);
  let rest = time - days * DAY_MS;
  const milliseconds = rest % 1000;
  rest = (rest - milliseconds) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  // Days since the epoch to a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
  // Low-Level Date Algorithms", civil_from_days): eras of 400 years starting on March 1st.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
  return `${yearText}-${pad(month, 2)}-${pad(day, 2)}T${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(milliseconds, 3)}Z`;
}

// Fix and event times: strict RFC 3339 parsing (no Date.parse guesswork), the one UTC format
// every answer and event uses, and the schemas of a time in either of its wire forms.
import Type from "typebox";

/** Earliest accepted time: 1970-01-01T00:00:00.000Z. */
export const MIN_TS_MS = 0;
/**
 * Latest accepted time: 9999-12-31T23:59:59.999Z, the last instant RFC 3339 can write, so every
 * accepted time can be given back in the same format.
 */
export const MAX_TS_MS = 253_402_300_799_999;

/** RFC 3339 UTC with milliseconds, e.g. "2026-11-24T20:00:01.000Z". Throws a RangeError on a non-finite `ms`. */
export function formatTs(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Epoch milliseconds of a fix or event time, or null when it is not one.
 * Accepts an RFC 3339 date-time string (`T`/`t` separator, seconds required, optional fraction,
 * `Z`/`z` or `±hh:mm` offset; digits beyond milliseconds are truncated, and a leap second
 * 23:59:60Z reads as 23:59:59.999Z) or an integer number of epoch milliseconds. Either must lie
 * within MIN_TS_MS..MAX_TS_MS.
 */
export function parseTs(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= MIN_TS_MS && value <= MAX_TS_MS ? value : null;
  }
  if (typeof value === "string") return parseRfc3339(value);
  return null;
}

const CH_0 = 48;
const CH_DASH = 45;
const CH_COLON = 58;
const CH_DOT = 46;
const CH_PLUS = 43;
const CH_T = 84;
const CH_LOWER_T = 116;
const CH_Z = 90;
const CH_LOWER_Z = 122;

// Two or four ASCII digits at `at` as a number, or -1. Char codes, not a regex with captures:
// this runs for every fix that carries a string ts.
function digits(s: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - CH_0;
    if (!(d >= 0 && d <= 9)) return -1; // also refuses NaN, past the end of `s`
    n = n * 10 + d;
  }
  return n;
}

function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). Date.UTC is
// not used because it maps years 0..99 to 1900..1999.
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
function parseRfc3339(s: string): number | null {
  const len = s.length;
  if (len < 20) return null;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  let second = digits(s, 17, 2);
  const sep = s.charCodeAt(10);
  if (
    year < 0 ||
    s.charCodeAt(4) !== CH_DASH ||
    month < 1 ||
    month > 12 ||
    s.charCodeAt(7) !== CH_DASH ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    (sep !== CH_T && sep !== CH_LOWER_T) ||
    hour < 0 ||
    hour > 23 ||
    s.charCodeAt(13) !== CH_COLON ||
    minute < 0 ||
    minute > 59 ||
    s.charCodeAt(16) !== CH_COLON ||
    second < 0 ||
    second > 60
  ) {
    return null;
  }

  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === CH_DOT) {
    i++;
    const start = i;
    let scale = 100;
    for (; i < len; i++) {
      const d = s.charCodeAt(i) - CH_0;
      if (d < 0 || d > 9) break;
      // Digits past the third are read but dropped: truncation, never rounding up a second.
      ms += d * scale;
      scale = scale === 1 ? 0 : scale / 10;
    }
    if (i === start) return null;
  }

  let offsetMinutes: number;
  const z = s.charCodeAt(i);
  if (z === CH_Z || z === CH_LOWER_Z) {
    if (i + 1 !== len) return null;
    offsetMinutes = 0;
  } else if (z === CH_PLUS || z === CH_DASH) {
    if (i + 6 !== len || s.charCodeAt(i + 3) !== CH_COLON) return null;
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
    offsetMinutes = (z === CH_PLUS ? 1 : -1) * (oh * 60 + om);
  } else {
    return null;
  }

  const utcMinuteOfDay = (((hour * 60 + minute - offsetMinutes) % 1440) + 1440) % 1440;
  if (second === 60) {
    // RFC 3339 allows a leap second only as the day's last UTC second; epoch time has none,
    // so it is held at the end of the previous second to keep fixes in order.
    if (utcMinuteOfDay !== 1439) return null;
    second = 59;
    ms = 999;
  }

  const result =
    (daysFromCivil(year, month, day) * 1440 + hour * 60 + minute - offsetMinutes) * 60_000 +
    second * 1000 +
    ms;
  return result >= MIN_TS_MS && result <= MAX_TS_MS ? result : null;
}

/**
 * An RFC 3339 date-time string as `parseTs` reads it. TypeBox's `date-time` format alone would
 * also take RFC 9557 suffixes (`…Z[Europe/Paris]`) and times outside MIN_TS_MS..MAX_TS_MS, so the
 * parser itself is the schema's refinement: what the schema accepts, the decoders accept. The
 * refinement is not enumerable, so OpenAPI documents keep the plain `date-time`.
 */
export function timeStringSchema(description: string) {
  return Type.Refine(
    Type.String({ format: "date-time", description }),
    (s) => parseTs(s) !== null,
    () => "must be an RFC 3339 date-time between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z",
  );
}

/** A time as an integer number of epoch milliseconds, within MIN_TS_MS..MAX_TS_MS. */
export const EpochMsSchema = Type.Integer({
  minimum: MIN_TS_MS,
  maximum: MAX_TS_MS,
  description: "Epoch ms",
});

// The readings and times of phones and trackers (CONTRACT §9), as the apps write them: numbers
// that may come as text, −1 for "unknown", and the several time forms trackers use. Shared by
// the OwnTracks and OsmAnd decoders so that both read a field the same way.

import type { RejectReason } from "./decode.ts";
import { MAX_TS_MS, MIN_TS_MS, parseTs } from "./time.ts";

/** A reading that could not be read, or absent (undefined), or its value. */
export type Reading = number | undefined | RejectReason;

/**
 * A number as JSON or a query string carries it: a finite number, or text of one (`"12.5"`,
 * `" 7 "`). Null for anything else (`""`, `"abc"`, `"1e999"`, objects).
 */
export function numberOf(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string") return null;
  const text = value.trim();
  // Number("") is 0 and Number("0x10") is 16: only decimal notation is a reading.
  if (text === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/**
 * An optional reading that must not be negative (speed, heading, accuracy): absent when missing
 * or negative (apps send −1 for "unknown", CONTRACT §9), `reason` when it is not a number or
 * above `max`, else the value times `scale` (a unit conversion).
 */
export function nonNegative(
  value: unknown,
  reason: RejectReason,
  max = Number.MAX_VALUE,
  scale = 1,
): Reading {
  if (value === undefined || value === null || value === "") return undefined;
  const n = numberOf(value);
  if (n === null || n > max) return reason;
  return n < 0 ? undefined : n * scale;
}

/** An optional altitude, m: any finite number. */
export function altitudeOf(value: unknown): Reading {
  if (value === undefined || value === null || value === "") return undefined;
  return numberOf(value) ?? "invalid_altitude";
}

/** Knots to m/s (the OsmAnd query form's speed). */
export const KNOT_MS = 1852 / 3600;
/** km/h to m/s (OwnTracks' `vel`). */
export const KMH_MS = 1 / 3.6;

/**
 * Numbers below this are epoch seconds, above it epoch milliseconds: 2^31 − 1 s is in 2038,
 * and as milliseconds it is January 1970, a time no tracker sends.
 */
const SECONDS_BELOW = 2_147_483_647;

// yyyy-MM-dd HH:mm:ss or ISO 8601 with T, optional fraction, optional Z / ±hh:mm / ±hhmm / ±hh.
const DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Epoch ms of a tracker's time, or null when it is not one: epoch seconds or milliseconds (a
 * number or its digits; seconds may have a fraction), ISO 8601 / RFC 3339, or
 * `yyyy-MM-dd HH:mm:ss`. A time without an offset is UTC (GPS time is).
 */
export function parseDeviceTime(value: unknown): number | null {
  const n = numberOf(value);
  if (n !== null) {
    if (n < 0) return null;
    const ms = n < SECONDS_BELOW ? Math.round(n * 1000) : Math.round(n);
    return ms >= MIN_TS_MS && ms <= MAX_TS_MS ? ms : null;
  }
  if (typeof value !== "string" || value.length > 40) return null;
  const m = DATE_TIME.exec(value.trim());
  if (m === null) return null;
  let offset = m[4] ?? "Z";
  if (offset.length === 3) offset = `${offset}:00`;
  else if (offset.length === 5) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  // The strict RFC 3339 parser checks the calendar and the ranges.
  return parseTs(`${m[1]}T${m[2]}${m[3] ?? ""}${offset}`);
}

/** What a fix's time comes to: the device's (checked against `notAfter`), or the receive time. */
export function fixTime(
  value: unknown,
  receivedAt: number,
  notAfter: number,
): { ts: number; given: boolean } | RejectReason {
  if (value === undefined || value === null || value === "") {
    return { ts: receivedAt, given: false };
  }
  const ts = parseDeviceTime(value);
  if (ts === null) return "invalid_ts";
  if (ts > notAfter) return "future_ts";
  return { ts, given: true };
}

/** A latitude, or the reason it is not one. */
export function latitudeOf(value: unknown): number | RejectReason {
  const n = numberOf(value);
  return n !== null && n >= -90 && n <= 90 ? n : "invalid_latitude";
}

/** A longitude, or the reason it is not one. */
export function longitudeOf(value: unknown): number | RejectReason {
  const n = numberOf(value);
  return n !== null && n >= -180 && n <= 180 ? n : "invalid_longitude";
}

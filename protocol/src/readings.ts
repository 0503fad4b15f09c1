// A fix's optional readings (speed, heading, accuracy, altitude: CONTRACT §3), copied in one
// place, so that every layer keeps exactly the readings a fix has and invents none.

/** The optional readings of a fix, in the order the wire format lists them. */
export const FIX_READINGS = ["speed", "heading", "accuracy", "altitude"] as const;
export type FixReadingName = (typeof FIX_READINGS)[number];

/** A fix's readings, each present or absent. */
export type FixReadings = { [K in FixReadingName]?: number };

/** Readings as a source holds them: absent, undefined, or null (an SQL NULL). */
export type NullableFixReadings = { readonly [K in FixReadingName]?: number | null };

/**
 * Sets on `target` each reading `source` has (neither undefined nor null) and leaves the others
 * absent, not undefined, so that a copy compares equal to a fix that never had them. Other keys
 * of `source` are not copied. Returns `target`.
 */
export function copyReadings<T extends object>(
  target: T,
  source: NullableFixReadings,
): T & FixReadings {
  const out = target as T & FixReadings;
  // Spelled out rather than a loop over FIX_READINGS: the hub runs this for every fix it reads.
  const { speed, heading, accuracy, altitude } = source;
  if (speed != null) out.speed = speed;
  if (heading != null) out.heading = heading;
  if (accuracy != null) out.accuracy = accuracy;
  if (altitude != null) out.altitude = altitude;
  return out;
}

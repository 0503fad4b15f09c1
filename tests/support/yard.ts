// A small square geofence (the yard) and a vehicle's fixes around it, shared by the black-box
// tests that need a steady stream of fixes with events in it.

export const YARD_BASE_TS = Date.parse("2026-11-24T08:00:00Z");

/** A GeoJSON Feature for POST /api/v1/geofences: a square of about 700 m × 1.1 km. */
export const YARD = {
  type: "Feature",
  properties: { name: "yard" },
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [10, 50],
        [10.01, 50],
        [10.01, 50.01],
        [10, 50.01],
        [10, 50],
      ],
    ],
  },
};

/** Fix i of a vehicle: three outside, three inside, and so on (an event every third fix). */
export function yardFix(i: number) {
  const inside = Math.floor(i / 3) % 2 === 1;
  return {
    latitude: 50.005,
    longitude: inside ? 10.005 : 10.02,
    ts: YARD_BASE_TS + i * 1000,
    seq: i,
  };
}

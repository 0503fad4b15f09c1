// The motion model: road speeds, staying in the box, determinism, GPS noise and routes.

import { describe, expect, it } from "vitest";
import { ACCELERATION_MS2, BRAKING_MS2, MAX_CRUISE_MS, MIN_CRUISE_MS } from "./driver.ts";
import { type BBox, LocalFrame } from "./frame.ts";
import { MotionModel, type MotionSpec, trackFixes } from "./model.ts";
import { Random } from "./random.ts";
import { parseRoutes, RoutesError } from "./routes.ts";

const BOX: BBox = { west: -118.3, south: 34.0, east: -118.2, north: 34.08 };
const SMALL: BBox = { west: -118.255, south: 34.045, east: -118.25, north: 34.05 };

/** An L-shaped route in Los Angeles: 1.1 km east, then 0.9 km north. */
const L_ROUTE: [number, number][] = [
  [-118.26, 34.04],
  [-118.255, 34.04],
  [-118.248, 34.04],
  [-118.248, 34.048],
];

const SPECS: [string, MotionSpec][] = [
  ["grid", { kind: "grid", bbox: BOX }],
  ["grid in a 460 m box", { kind: "grid", bbox: SMALL }],
  ["waypoints", { kind: "waypoints", bbox: BOX }],
  ["waypoints in a 460 m box", { kind: "waypoints", bbox: SMALL }],
  ["routes", { kind: "routes", routes: [L_ROUTE] }],
];

describe("Random", () => {
  it("gives the same stream for the same seed, vehicle and stream, and another otherwise", () => {
    const draw = (seed: number, i: number, s: number) => {
      const r = new Random(seed, i, s);
      return Array.from({ length: 5 }, () => r.next());
    };
    expect(draw(7, 3, 1)).toEqual(draw(7, 3, 1));
    expect(draw(7, 3, 1)).not.toEqual(draw(8, 3, 1));
    expect(draw(7, 3, 1)).not.toEqual(draw(7, 4, 1));
    expect(draw(7, 3, 1)).not.toEqual(draw(7, 3, 2));
    expect(draw(2 ** 40 + 1, 0, 1)).not.toEqual(draw(1, 0, 1));
  });

  it("is uniform in [0, 1) and its gaussian has mean 0 and deviation 1", () => {
    const r = new Random(1, 0, 1);
    let sum = 0;
    let sq = 0;
    let min = 1;
    let max = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      min = Math.min(min, u);
      max = Math.max(max, u);
      const g = r.gaussian();
      sum += g;
      sq += g * g;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.sqrt(sq / n)).toBeCloseTo(1, 1);
  });
});

describe("LocalFrame", () => {
  it("round-trips positions and measures about 111 km per degree of latitude", () => {
    const f = LocalFrame.ofBox(BOX);
    expect(f.lon(f.x(-118.25))).toBeCloseTo(-118.25, 10);
    expect(f.lat(f.y(34.05))).toBeCloseTo(34.05, 10);
    expect(f.y(35) - f.y(34)).toBeCloseTo(111_195, -1);
    expect(f.x(-118.2) - f.x(-118.3)).toBeCloseTo(
      0.1 * 111_195 * Math.cos((34.04 * Math.PI) / 180),
      -1,
    );
  });
});

describe.each(SPECS)("motion on %s", (_name, spec) => {
  const exact = new MotionModel(spec, 0);
  const frame = exact.frame;

  it("drives at road speeds: 10-35 m/s when cruising, never above 35, with stops", () => {
    // Collected, then checked once: an expect per step would dominate the run time.
    const problems: string[] = [];
    let cruising = 0;
    let stopped = 0;
    let maxAccel = 0;
    let maxDecel = 0;
    const dt = 0.5;
    for (let v = 0; v < 20; v++) {
      const track = exact.track(11, v);
      let previous = track.truth();
      for (let k = 0; k < 1200; k++) {
        track.advance(dt);
        const t = track.truth();
        const at = `vehicle ${v} step ${k}`;
        if (t.speed < 0 || t.speed > MAX_CRUISE_MS + 1e-9) problems.push(`${at}: speed ${t.speed}`);
        if (t.phase === "cruising") {
          cruising++;
          if (t.speed < MIN_CRUISE_MS) problems.push(`${at}: cruising at ${t.speed}`);
        }
        if (t.phase === "stopped") {
          stopped++;
          if (t.speed !== 0) problems.push(`${at}: stopped at ${t.speed}`);
        }
        // Never further than the fastest speed allows, and on a straight as far as the speeds say.
        const moved = Math.hypot(t.x - previous.x, t.y - previous.y);
        if (moved > MAX_CRUISE_MS * dt + 1e-6) problems.push(`${at}: moved ${moved} m`);
        const expected = ((t.speed + previous.speed) / 2) * dt;
        if (
          t.heading === previous.heading &&
          t.phase !== "stopped" &&
          Math.abs(moved - expected) > 0.5
        ) {
          problems.push(`${at}: moved ${moved} m at speeds ${previous.speed}, ${t.speed}`);
        }
        const accel = (t.speed - previous.speed) / dt;
        maxAccel = Math.max(maxAccel, accel);
        maxDecel = Math.max(maxDecel, -accel);
        previous = t;
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(cruising).toBeGreaterThan(1000);
    expect(stopped).toBeGreaterThan(100);
    expect(maxAccel).toBeLessThanOrEqual(ACCELERATION_MS2 + 1e-9);
    // The step that reaches a stop line snaps to a standstill: a few percent over the rate.
    expect(maxDecel).toBeLessThanOrEqual(BRAKING_MS2 * 1.1);
  });

  it("is a pure function of seed, vehicle and step", () => {
    const model = new MotionModel(spec, 3);
    const a = trackFixes(model, 99, 4, 300, 1000);
    const b = trackFixes(new MotionModel(spec, 3), 99, 4, 300, 1000);
    expect(b).toEqual(a);
    expect(trackFixes(model, 100, 4, 300, 1000)).not.toEqual(a);
    expect(trackFixes(model, 99, 5, 300, 1000)).not.toEqual(a);
    // Vehicles start spread out, not all at one place.
    const starts = new Set(
      Array.from({ length: 20 }, (_, v) => JSON.stringify(trackFixes(model, 99, v, 1, 1000)[0])),
    );
    expect(starts.size).toBe(20);
  });

  if (spec.kind !== "routes") {
    it("stays inside the box, noise included", () => {
      const noisy = new MotionModel(spec, 10);
      const outside: string[] = [];
      for (let v = 0; v < 20; v++) {
        trackFixes(noisy, 5, v, 900, 1000).forEach((f, k) => {
          const { west, south, east, north } = spec.bbox;
          const inBox =
            f.longitude >= west &&
            f.longitude <= east &&
            f.latitude >= south &&
            f.latitude <= north;
          if (!inBox || !(f.heading >= 0 && f.heading < 360)) {
            outside.push(`vehicle ${v} fix ${k}: ${JSON.stringify(f)}`);
          }
        });
      }
      expect(outside.slice(0, 5)).toEqual([]);
    });
  }

  it("reports exact positions without noise", () => {
    const track = exact.track(1, 0);
    track.advance(10);
    const t = track.truth();
    const f = track.fix();
    expect(frame.x(f.longitude)).toBeCloseTo(t.x, 0);
    expect(frame.y(f.latitude)).toBeCloseTo(t.y, 0);
    expect(f.accuracy).toBe(0);
  });
});

describe("GPS noise", () => {
  it("is Gaussian with the given deviation, and accuracy is the radius holding 68% of it", () => {
    const spec: MotionSpec = { kind: "grid", bbox: BOX };
    const noisy = new MotionModel(spec, 3);
    const exact = new MotionModel(spec, 0);
    const frame = exact.frame;
    let sq = 0;
    let within = 0;
    let n = 0;
    let unequal = 0;
    let minAccuracy = Number.POSITIVE_INFINITY;
    let maxAccuracy = 0;
    for (let v = 0; v < 50; v++) {
      const a = trackFixes(noisy, 8, v, 200, 1000);
      const b = trackFixes(exact, 8, v, 200, 1000);
      a.forEach((f, k) => {
        const t = b[k] as (typeof b)[number];
        const dx = frame.x(f.longitude) - frame.x(t.longitude);
        const dy = frame.y(f.latitude) - frame.y(t.latitude);
        sq += dx * dx + dy * dy;
        if (Math.hypot(dx, dy) <= f.accuracy) within++;
        minAccuracy = Math.min(minAccuracy, f.accuracy);
        maxAccuracy = Math.max(maxAccuracy, f.accuracy);
        // Speed and heading are the vehicle's, not noisy.
        if (f.speed !== t.speed || f.heading !== t.heading) unequal++;
        n++;
      });
    }
    expect(unequal).toBe(0);
    // sigma · 1.51 with sigma in 3 m × [0.8, 1.25], rounded to 0.1 m.
    expect(minAccuracy).toBeGreaterThanOrEqual(3.6);
    expect(maxAccuracy).toBeLessThanOrEqual(5.7);
    // Per axis: sigma = 3 m × U(0.8, 1.25), so RMS ≈ 3.1 m.
    expect(Math.sqrt(sq / (2 * n))).toBeGreaterThan(2.8);
    expect(Math.sqrt(sq / (2 * n))).toBeLessThan(3.4);
    expect(within / n).toBeGreaterThan(0.64);
    expect(within / n).toBeLessThan(0.72);
  });
});

describe("routes", () => {
  it("keeps vehicles on the line, along and back, and spreads them over it", () => {
    const model = new MotionModel({ kind: "routes", routes: [L_ROUTE] }, 0);
    const f = model.frame;
    const corner = { x: f.x(-118.248), y: f.y(34.04) };
    const west = f.x(-118.26);
    const north = f.y(34.048);
    let reachedWest = false;
    let reachedNorth = false;
    let off = 0;
    for (let v = 0; v < 5; v++) {
      const track = model.track(3, v);
      for (let k = 0; k < 900; k++) {
        track.advance(1);
        const t = track.truth();
        const onEastWest = Math.abs(t.y - corner.y) < 1e-6 && t.x <= corner.x + 1e-6;
        const onNorthSouth = Math.abs(t.x - corner.x) < 1e-6 && t.y >= corner.y - 1e-6;
        if (!onEastWest && !onNorthSouth) off++;
        if (Math.abs(t.x - west) < 1e-3) reachedWest = true;
        if (Math.abs(t.y - north) < 1e-3) reachedNorth = true;
      }
    }
    expect(off).toBe(0);
    expect(reachedWest && reachedNorth).toBe(true);
  });

  it("assigns routes round-robin", () => {
    const east: [number, number][] = [
      [-118.2, 34.0],
      [-118.19, 34.0],
    ];
    const model = new MotionModel({ kind: "routes", routes: [L_ROUTE, east] }, 0);
    const lonOf = (v: number) =>
      (trackFixes(model, 1, v, 1, 1000)[0] as { longitude: number }).longitude;
    expect(lonOf(0)).toBeLessThanOrEqual(-118.248);
    expect(lonOf(1)).toBeGreaterThanOrEqual(-118.2);
    expect(lonOf(2)).toBeLessThanOrEqual(-118.248);
  });

  it("reads FeatureCollections, single Features, geometries and MultiLineStrings", () => {
    const line = { type: "LineString", coordinates: L_ROUTE };
    expect(parseRoutes(JSON.stringify(line))).toHaveLength(1);
    expect(
      parseRoutes(JSON.stringify({ type: "Feature", properties: {}, geometry: line })),
    ).toEqual([L_ROUTE]);
    const fc = {
      type: "FeatureCollection",
      features: [
        { type: "Feature", geometry: line, properties: {} },
        { type: "Feature", geometry: { type: "Point", coordinates: [0, 0] }, properties: {} },
        {
          type: "Feature",
          geometry: { type: "MultiLineString", coordinates: [L_ROUTE, L_ROUTE.slice(0, 2)] },
          properties: {},
        },
      ],
    };
    expect(parseRoutes(JSON.stringify(fc))).toHaveLength(3);
  });

  it.each([
    ["not json", /not JSON/],
    ['{"type":"Polygon","coordinates":[]}', /expected a GeoJSON/],
    ['{"type":"FeatureCollection","features":[]}', /no LineString/],
    ['{"type":"LineString","coordinates":[[0,0],[0,0]]}', /two distinct positions/],
    ['{"type":"LineString","coordinates":[[0,0],[200,0]]}', /position 1/],
  ])("refuses %s", (text, message) => {
    expect(() => parseRoutes(text)).toThrow(RoutesError);
    expect(() => parseRoutes(text)).toThrow(message);
  });
});

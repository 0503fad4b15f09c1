// Random circles and corridors, and points placed on, just inside and just outside their edges,
// for the tests that compare the memory index with PostGIS and with an independent oracle.
// Test support only: nothing in the hub imports it.

import type { Fence, Position } from "./fence.ts";
import type { LonLat } from "./fence-index.ts";
import { SPHERE_RADIUS_M, toUnit, type Unit } from "./sphere.ts";

/** Where a probe point was put relative to the edge of its fence. */
export type ShapeProbeKind =
  | "on edge"
  | "1 mm inside"
  | "1 mm outside"
  | "1 m either side"
  | "nearby";
export const SHAPE_PROBE_KINDS: readonly ShapeProbeKind[] = [
  "on edge",
  "1 mm inside",
  "1 mm outside",
  "1 m either side",
  "nearby",
];

/** A number in [min, max) spread evenly in log scale: metres from 1 m to 100 km alike. */
function logUniform(rand: () => number, min: number, max: number): number {
  return Math.exp(Math.log(min) + rand() * (Math.log(max) - Math.log(min)));
}

/** A latitude, one in four within a degree of a pole or the equator's antimeridian crossing. */
function somewhere(rand: () => number): Position {
  const r = rand();
  if (r < 0.125) return [rand() * 360 - 180, (rand() < 0.5 ? -1 : 1) * (89 + rand() * 0.99)];
  if (r < 0.25) return [(rand() < 0.5 ? -1 : 1) * (179 + rand()), rand() * 120 - 60];
  return [rand() * 360 - 180, rand() * 170 - 85];
}

export function toLonLat([x, y, z]: Unit): LonLat {
  return [(Math.atan2(y, x) * 180) / Math.PI, (Math.atan2(z, Math.hypot(x, y)) * 180) / Math.PI];
}

/** The point `angle` radians from `p` in the unit tangent direction `t` (t ⊥ p). */
function travel(p: Unit, t: Unit, angle: number): Unit {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [p[0] * c + t[0] * s, p[1] * c + t[1] * s, p[2] * c + t[2] * s];
}

function normalise([x, y, z]: readonly [number, number, number]): Unit {
  const length = Math.hypot(x, y, z);
  return [x / length, y / length, z / length];
}

function cross(a: Unit, b: Unit): Unit {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** A random unit vector tangent to the sphere at p. */
function randomTangent(rand: () => number, p: Unit): Unit {
  for (;;) {
    const v: Unit = [rand() * 2 - 1, rand() * 2 - 1, rand() * 2 - 1];
    const t = cross(p, v);
    if (Math.hypot(...t) > 0.1) return normalise(t);
  }
}

/** Random circles and corridors (2 to 6 positions, segments up to ~20 times the width). */
export function randomShapes(rand: () => number, count: number, prefix = "s"): Fence[] {
  const fences: Fence[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${i}`;
    const center = somewhere(rand);
    if (rand() < 0.5) {
      const radius_m = logUniform(rand, 1, 100_000);
      fences.push({ id, name: id, polygons: [], circle: { center, radius_m } });
      continue;
    }
    const width_m = logUniform(rand, 1, 100_000);
    const line: Position[] = [center];
    let at = toUnit(center[0], center[1]);
    const n = 2 + Math.floor(rand() * 5);
    for (let k = 1; k < n; k++) {
      const step = (logUniform(rand, 0.5, 20) * width_m) / SPHERE_RADIUS_M;
      at = normalise(travel(at, randomTangent(rand, at), step));
      line.push(toLonLat(at) as Position);
    }
    fences.push({ id, name: id, polygons: [], corridor: { line, width_m } });
  }
  return fences;
}

export interface ShapeProbes {
  points: LonLat[];
  kinds: ShapeProbeKind[];
}

/**
 * `perFence` points around each fence's edge of each kind: a circle's are at the radius (give or
 * take) in a random direction; a corridor's beside a random point of a random segment, at half
 * the width along the normal of the segment's great circle.
 */
export function shapeProbes(
  fences: readonly Fence[],
  rand: () => number,
  perFence: number,
): ShapeProbes {
  const probes: ShapeProbes = { points: [], kinds: [] };
  for (const fence of fences) {
    for (let k = 0; k < perFence; k++) {
      for (const kind of SHAPE_PROBE_KINDS) {
        const [base, direction, reach] = edgeStart(fence, rand);
        const offset =
          kind === "on edge"
            ? 0
            : kind === "1 mm inside"
              ? -0.001
              : kind === "1 mm outside"
                ? 0.001
                : kind === "1 m either side"
                  ? rand() < 0.5
                    ? -1
                    : 1
                  : (rand() * 2 - 1) * reach;
        const angle = Math.max(0, reach + offset) / SPHERE_RADIUS_M;
        probes.points.push(toLonLat(normalise(travel(base, direction, angle))));
        probes.kinds.push(kind);
      }
    }
  }
  return probes;
}

/** A point of the fence's centre or line, a tangent direction away from it, and the reach. */
function edgeStart(fence: Fence, rand: () => number): [Unit, Unit, number] {
  if (fence.circle !== undefined) {
    const [lon, lat] = fence.circle.center;
    const p = toUnit(lon, lat);
    return [p, randomTangent(rand, p), fence.circle.radius_m];
  }
  const corridor = fence.corridor;
  if (corridor === undefined) throw new Error(`${fence.id} is not a circle or a corridor`);
  const k = Math.floor(rand() * (corridor.line.length - 1));
  const [a, b] = [corridor.line[k], corridor.line[k + 1]] as [Position, Position];
  const [ua, ub] = [toUnit(a[0], a[1]), toUnit(b[0], b[1])];
  const t = rand();
  const p = normalise([
    ua[0] * (1 - t) + ub[0] * t,
    ua[1] * (1 - t) + ub[1] * t,
    ua[2] * (1 - t) + ub[2] * t,
  ]);
  const normal = normalise(cross(ua, ub));
  const side: Unit = rand() < 0.5 ? normal : [-normal[0], -normal[1], -normal[2]];
  return [p, side, corridor.width_m / 2];
}

/** The position `metres` from (lon, lat) on the initial bearing `bearing` (degrees from north). */
export function destination(lon: number, lat: number, bearing: number, metres: number): Position {
  const p = toUnit(lon, lat);
  const phi = (lat * Math.PI) / 180;
  const lambda = (lon * Math.PI) / 180;
  const theta = (bearing * Math.PI) / 180;
  // East and north unit vectors at p; at a pole, "north" is taken along the meridian lon.
  const east: Unit = [-Math.sin(lambda), Math.cos(lambda), 0];
  const north: Unit = [
    -Math.sin(phi) * Math.cos(lambda),
    -Math.sin(phi) * Math.sin(lambda),
    Math.cos(phi),
  ];
  const t: Unit = [
    north[0] * Math.cos(theta) + east[0] * Math.sin(theta),
    north[1] * Math.cos(theta) + east[1] * Math.sin(theta),
    north[2] * Math.cos(theta) + east[2] * Math.sin(theta),
  ];
  return toLonLat(normalise(travel(p, t, metres / SPHERE_RADIUS_M))) as Position;
}

/**
 * The position `metres` from the point a fraction `t` along the arc a–b, straight out to one side
 * (along the arc plane's normal): its distance to the arc's great circle is exactly `metres`.
 */
export function besideArc(
  a: Position,
  b: Position,
  t: number,
  left: boolean,
  metres: number,
): Position {
  const [ua, ub] = [toUnit(a[0], a[1]), toUnit(b[0], b[1])];
  const p = normalise([
    ua[0] * (1 - t) + ub[0] * t,
    ua[1] * (1 - t) + ub[1] * t,
    ua[2] * (1 - t) + ub[2] * t,
  ]);
  const n = normalise(cross(ua, ub));
  const side: Unit = left ? n : [-n[0], -n[1], -n[2]];
  return toLonLat(normalise(travel(p, side, metres / SPHERE_RADIUS_M))) as Position;
}

// Checks a geofence geometry from the REST API (RFC 7946, and OGC validity as PostGIS ST_IsValid
// judges it) and normalises it to what the engine stores: 2D MultiPolygon, RFC 7946 winding.

import type { MultiPolygonCoords, Position } from "./fence.ts";
import { orient } from "./orient.ts";
import { EdgeIndex, type EdgeMeeting } from "./segments.ts";

/** What is wrong with a geometry: where (a path into the Feature) and what to fix. */
export interface GeometryProblem {
  path: string;
  message: string;
}

export type GeometryCheck =
  | { ok: true; polygons: MultiPolygonCoords; vertexCount: number }
  | { ok: false; problem: GeometryProblem };

/** The contract's cap on positions in one geometry, closing positions included. */
export const MAX_GEOMETRY_VERTICES = 100_000;

/**
 * Points where rings touch, counted as pairs of edges meeting there, allowed per edge. Real
 * geofences have a handful; the bound keeps a crafted geometry from taking quadratic time.
 */
const TOUCHES_PER_EDGE = 4;

interface RingRef {
  polygon: number;
  ring: number;
}

/** A ring as read: 2D, consecutive repeats dropped, and each position's index in the input. */
interface ReadRing extends RingRef {
  positions: Position[];
  source: number[];
}

/**
 * Validates the `geometry` of a GeoJSON Feature, a Polygon or MultiPolygon, and returns it as
 * MultiPolygon coordinates: altitudes and consecutive repeated positions dropped, exterior rings
 * counter-clockwise and holes clockwise. `vertexCount` counts the returned positions.
 * Otherwise returns the first problem found. Never throws.
 *
 * Messages name rings by index ("ring 1 of polygon 0"; ring 0 is the exterior) and edges by the
 * index of the position they start at.
 *
 * Validity follows ST_IsValid, planar as for PostGIS geometry, except: an empty geometry is
 * rejected (a fence needs an area); rings are compared and closed in 2D, altitude ignored; a
 * ring with under 3 distinct positions or zero area gets that message rather than "too few
 * points" or "self-intersection"; and a geometry in which more than 100000 + 4 per edge pairs of
 * edges touch (thousands of rings meeting at one point) is rejected, as checking it would take
 * time quadratic in their number.
 */
export function validateGeometry(
  geometry: unknown,
  options: { maxVertices?: number } = {},
): GeometryCheck {
  const shape = readShape(geometry);
  if ("message" in shape) return { ok: false, problem: shape };
  const { names, polygons } = shape;
  const maxVertices = options.maxVertices ?? MAX_GEOMETRY_VERTICES;
  // Counted before any position is read, so an oversized body costs no more than this loop.
  let count = 0;
  for (const ringValues of polygons) {
    for (const ring of ringValues) count += Array.isArray(ring) ? ring.length : 0;
  }
  if (count > maxVertices) {
    const message = `geometry has ${count} vertices; the limit is ${maxVertices}`;
    return { ok: false, problem: { path: "geometry.coordinates", message } };
  }
  const rings: ReadRing[] = [];
  for (const [polygon, ringValues] of polygons.entries()) {
    for (const [ring, value] of ringValues.entries()) {
      const read = readRing(value, { polygon, ring }, names);
      if ("message" in read) return { ok: false, problem: read };
      rings.push(read);
    }
  }
  const index = new EdgeIndex(rings.map((ring) => ring.positions));
  const problem = checkTopology(rings, index, names);
  if (problem !== undefined) return { ok: false, problem };
  const result: Position[][][] = polygons.map(() => []);
  rings.forEach((ring, g) => {
    // RFC 7946 §3.1.6: exteriors counter-clockwise, holes clockwise.
    const wanted = ring.ring === 0 ? 1 : -1;
    const positions = index.orientation(g) === wanted ? ring.positions : ring.positions.reverse();
    result[ring.polygon]?.push(positions);
  });
  const vertexCount = rings.reduce((sum, ring) => sum + ring.positions.length, 0);
  return { ok: true, polygons: result, vertexCount };
}

/** How messages and paths name the parts of a Polygon or a MultiPolygon. */
class Names {
  constructor(private readonly multi: boolean) {}

  polygon(polygon: number): string {
    return this.multi ? `polygon ${polygon}` : "the polygon";
  }

  ring(ref: RingRef): string {
    return this.multi ? `ring ${ref.ring} of polygon ${ref.polygon}` : `ring ${ref.ring}`;
  }

  polygonPath(polygon: number): string {
    return this.multi ? `geometry.coordinates[${polygon}]` : "geometry.coordinates";
  }

  ringPath(ref: RingRef): string {
    return `${this.polygonPath(ref.polygon)}[${ref.ring}]`;
  }
}

function readShape(geometry: unknown): { names: Names; polygons: unknown[][] } | GeometryProblem {
  if (typeof geometry !== "object" || geometry === null || Array.isArray(geometry)) {
    const message = `geometry must be an object with "type" and "coordinates", found ${describe(geometry)}`;
    return { path: "geometry", message };
  }
  const { type, coordinates } = geometry as { type?: unknown; coordinates?: unknown };
  if (type !== "Polygon" && type !== "MultiPolygon") {
    const message = `geometry.type must be "Polygon" or "MultiPolygon" (or "Point" with properties.radius_m for a circle, "LineString" with properties.width_m for a corridor), found ${describe(type)}`;
    return { path: "geometry.type", message };
  }
  const names = new Names(type === "MultiPolygon");
  if (type === "Polygon") {
    const problem = checkRingList(coordinates, names.polygonPath(0));
    return problem ?? { names, polygons: [coordinates as unknown[]] };
  }
  if (!Array.isArray(coordinates) || coordinates.length === 0) {
    const message = `geometry.coordinates must be a non-empty array of polygons (each an array of rings), found ${describe(coordinates)}`;
    return { path: "geometry.coordinates", message };
  }
  for (const [polygon, rings] of coordinates.entries()) {
    const problem = checkRingList(rings, names.polygonPath(polygon));
    if (problem !== undefined) return problem;
  }
  return { names, polygons: coordinates as unknown[][] };
}

function checkRingList(value: unknown, path: string): GeometryProblem | undefined {
  if (Array.isArray(value) && value.length > 0) return undefined;
  const message = `${path} must be a non-empty array of rings (the exterior ring, then any holes), found ${describe(value)}`;
  return { path, message };
}

function readRing(value: unknown, ref: RingRef, names: Names): ReadRing | GeometryProblem {
  const path = names.ringPath(ref);
  const label = names.ring(ref);
  if (!Array.isArray(value)) {
    return {
      path,
      message: `${path} must be a ring (an array of positions), found ${describe(value)}`,
    };
  }
  const positions: Position[] = [];
  const source: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const position = readPosition(value[i], path, i);
    if ("message" in position) return position;
    const previous = positions[positions.length - 1];
    // Repeated positions are valid (as in PostGIS) but carry no shape; keep the first of a run.
    if (previous?.[0] === position[0] && previous[1] === position[1]) continue;
    positions.push(position);
    source.push(i);
  }
  // Read first, so a nesting mistake is reported as one rather than as a short ring.
  if (value.length < 4) {
    const message = `${label} has ${value.length} positions; a ring needs at least 4, the last repeating the first`;
    return { path, message };
  }
  const [first] = positions;
  const last = positions[positions.length - 1];
  if (first === undefined || last === undefined) return { path, message: `${label} is empty` };
  if (positions.length > 1 && (first[0] !== last[0] || first[1] !== last[1])) {
    const message = `${label} is not closed: its last position ${point(last)} differs from its first ${point(first)}; repeat the first position at the end`;
    return { path: `${path}[${value.length - 1}]`, message };
  }
  if (positions.length < 4) {
    const message = `${label} has fewer than 3 distinct positions; a ring must enclose an area`;
    return { path, message };
  }
  const second = positions[1] ?? first;
  if (positions.every(([x, y]) => orient(first[0], first[1], second[0], second[1], x, y) === 0)) {
    const message = `${label} has zero area: all its positions lie on one line`;
    return { path, message };
  }
  return { ...ref, positions, source };
}

const PARTS = ["longitude", "latitude", "altitude"];

// Called once per position, so paths are only spelt out for a problem.
export function readPosition(
  value: unknown,
  ringPath: string,
  index: number,
): Position | GeometryProblem {
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
    const path = `${ringPath}[${index}]`;
    const message = `${path} must be a position [longitude, latitude] or [longitude, latitude, altitude], found ${describe(value)}; check the nesting of the coordinates`;
    return { path, message };
  }
  for (let i = 0; i < value.length; i++) {
    const part: unknown = value[i];
    if (typeof part !== "number" || !Number.isFinite(part)) {
      const path = `${ringPath}[${index}][${i}]`;
      const message = `${path}, the ${PARTS[i]}, must be a finite number, found ${describe(part)}`;
      return { path, message };
    }
  }
  const x: number = value[0];
  const y: number = value[1];
  if (x < -180 || x > 180 || y < -90 || y > 90) {
    const [part, range] = x < -180 || x > 180 ? [0, "-180..180"] : [1, "-90..90"];
    const message = `${ringPath}[${index}] has ${PARTS[part]} ${value[part]}, outside ${range} (positions are [longitude, latitude])`;
    return { path: `${ringPath}[${index}][${part}]`, message };
  }
  return [x, y];
}

/** The OGC rules between edges and rings; run only on rings that are closed and enclose area. */
function checkTopology(
  rings: readonly ReadRing[],
  index: EdgeIndex,
  names: Names,
): GeometryProblem | undefined {
  const ring = (edge: number) => rings[index.ringOf(edge)] as ReadRing;
  const touches: EdgeMeeting[] = [];
  const conflict = index.firstConflict(touches, 100_000 + TOUCHES_PER_EDGE * index.edgeCount);
  if (conflict !== undefined) return describeConflict(conflict, ring, index, names);
  // A touch where one ring passes to the other side of another is a crossing at a vertex.
  const crossing = touches.find((touch) => index.crossesAt(touch));
  if (crossing !== undefined) {
    return ringsCross(ring(crossing.e1), ring(crossing.e2), crossing, names);
  }
  return checkNesting(rings, index, names) ?? checkConnected(rings, touches, index, names);
}

function describeConflict(
  meeting: EdgeMeeting,
  ring: (edge: number) => ReadRing,
  index: EdgeIndex,
  names: Names,
): GeometryProblem {
  const [a, b] = [ring(meeting.e1), ring(meeting.e2)];
  if (meeting.kind === "crowded") {
    const message = `geometry has too many places where rings touch (more than 100000 plus ${TOUCHES_PER_EDGE} per edge; the last near ${point([meeting.x, meeting.y])}); simplify it`;
    return { path: "geometry.coordinates", message };
  }
  if (a !== b) {
    if (meeting.kind === "cross") return ringsCross(a, b, meeting, names);
    const path = names.ringPath(a);
    const where = point([meeting.x, meeting.y]);
    if (a.polygon === b.polygon) {
      const message = `${names.ring(a)} and ring ${b.ring} share an edge near ${where}; the rings of a polygon may meet only at single points`;
      return { path, message };
    }
    const message = `polygons ${a.polygon} and ${b.polygon} share an edge near ${where}; the polygons of a MultiPolygon may meet only at single points, so merge or separate them`;
    return { path, message };
  }
  const [k1, k2] = [index.localEdge(meeting.e1), index.localEdge(meeting.e2)];
  const [edge1, edge2] = [a.source[k1] ?? k1, a.source[k2] ?? k2];
  const label = names.ring(a);
  const where = point([meeting.x, meeting.y]);
  const path = `${names.ringPath(a)}[${edge1}]`;
  switch (meeting.kind) {
    case "spike": {
      const at = k2 === k1 + 1 ? (a.source[k1 + 1] ?? k1 + 1) : 0;
      const message = `${label} turns back along itself at position ${at} ${where}, making a zero-width spike; remove the spike`;
      return { path: `${names.ringPath(a)}[${at}]`, message };
    }
    case "cross":
      return {
        path,
        message: `${label} crosses itself between edge ${edge1} and edge ${edge2} near ${where}`,
      };
    case "overlap":
      return {
        path,
        message: `${label} runs along itself between edge ${edge1} and edge ${edge2} near ${where}`,
      };
    default: {
      const message = `${label} touches itself at ${where} (edges ${edge1} and ${edge2}); a ring must not meet itself, so split it into separate rings or polygons`;
      return { path, message };
    }
  }
}

function ringsCross(a: ReadRing, b: ReadRing, at: EdgeMeeting, names: Names): GeometryProblem {
  const where = point([at.x, at.y]);
  const path = names.ringPath(a);
  if (a.polygon !== b.polygon) {
    const message = `polygons ${a.polygon} and ${b.polygon} overlap: ${names.ring(a)} crosses ${names.ring(b)} near ${where}`;
    return { path, message };
  }
  if (a.ring === 0 || b.ring === 0) {
    const hole = a.ring === 0 ? b : a;
    const message = `${names.ring(hole)} is a hole that crosses the exterior ring (ring 0) near ${where}; a hole must lie inside the exterior ring`;
    return { path: names.ringPath(hole), message };
  }
  const message = `holes ${names.ring(a)} and ring ${b.ring} cross near ${where}; holes must not overlap`;
  return { path, message };
}

/** Holes inside their exterior ring and not in one another; no polygon inside another. */
function checkNesting(
  rings: readonly ReadRing[],
  index: EdgeIndex,
  names: Names,
): GeometryProblem | undefined {
  const parents = index.parents();
  const parentOf = (g: number) => rings[parents[g] ?? -1];
  // An exterior directly inside another exterior is in that polygon's interior, not a hole of it.
  for (const [g, ring] of rings.entries()) {
    const parent = parentOf(g);
    if (ring.ring !== 0 || parent?.ring !== 0) continue;
    const message = `polygon ${ring.polygon} lies inside polygon ${parent.polygon}; the polygons of a MultiPolygon must not overlap`;
    return { path: names.polygonPath(ring.polygon), message };
  }
  for (const [g, ring] of rings.entries()) {
    const parent = parentOf(g);
    if (ring.ring === 0 || (parent?.polygon === ring.polygon && parent.ring === 0)) continue;
    // The nearest ring of its own polygon around the hole tells what is wrong.
    let up = parents[g] ?? -1;
    while (up >= 0 && rings[up]?.polygon !== ring.polygon) up = parents[up] ?? -1;
    const own = rings[up];
    const path = names.ringPath(ring);
    if (own === undefined) {
      const message = `${names.ring(ring)} is a hole outside the exterior ring (ring 0); a hole must lie inside it`;
      return { path, message };
    }
    if (own.ring !== 0) {
      const message = `${names.ring(ring)} is a hole inside ring ${own.ring}, another hole; holes must not nest, so make it a polygon of its own`;
      return { path, message };
    }
    const message = `${names.ring(ring)} is a hole of polygon ${ring.polygon} inside polygon ${parent?.polygon}; the polygons of a MultiPolygon must not overlap`;
    return { path, message };
  }
  return undefined;
}

/**
 * OGC requires a connected interior: rings of one polygon that touch in a cycle (a hole touching
 * the exterior twice, or a chain of holes from the exterior back to it) cut it in pieces. Rings
 * and touch points form a graph; a cycle in it is the problem.
 */
function checkConnected(
  rings: readonly ReadRing[],
  touches: readonly EdgeMeeting[],
  index: EdgeIndex,
  names: Names,
): GeometryProblem | undefined {
  const parent = rings.map((_, g) => g);
  const root = (node: number): number => {
    let at = node;
    while (parent[at] !== at) {
      const up = parent[at] ?? at;
      parent[at] = parent[up] ?? up;
      at = up;
    }
    return at;
  };
  const pointNodes = new Map<string, number>();
  const linked = new Set<string>();
  for (const touch of touches) {
    const [g1, g2] = [index.ringOf(touch.e1), index.ringOf(touch.e2)];
    const [a, b] = [rings[g1] as ReadRing, rings[g2] as ReadRing];
    if (a.polygon !== b.polygon) continue;
    const key = `${a.polygon} ${touch.x} ${touch.y}`;
    const node = pointNodes.get(key) ?? parent.length;
    if (node === parent.length) {
      parent.push(node);
      pointNodes.set(key, node);
    }
    for (const g of [g1, g2]) {
      if (linked.has(`${g} ${node}`)) continue;
      linked.add(`${g} ${node}`);
      const [top, other] = [root(g), root(node)];
      if (top === other) {
        const message = `${names.polygon(a.polygon)} has its interior cut in pieces: ${names.ring(a)} and ring ${b.ring} touch at ${point([touch.x, touch.y])}, closing a loop of touching rings around part of it; rings may touch, but not in a loop`;
        return { path: names.ringPath(a), message };
      }
      parent[top] = other;
    }
  }
  return undefined;
}

function point([x, y]: readonly [number, number]): string {
  const round = (value: number) => Math.round(value * 1e7) / 1e7;
  return `[${round(x)}, ${round(y)}]`;
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  }
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "object") return "an object";
  return typeof value === "undefined" ? "nothing" : `a ${typeof value}`;
}

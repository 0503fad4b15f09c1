// Checks a circle (a Point with `properties.radius_m`) or a corridor (a LineString with
// `properties.width_m`) from the REST API, and that polygons carry neither property: a width
// that would silently be ignored is refused instead, so a client learns its shape is not a circle.

import type { CircleShape, CorridorShape, Position } from "./fence.ts";
import { angleBetween, toUnit } from "./sphere.ts";
import { describe, type GeometryProblem, MAX_GEOMETRY_VERTICES, readPosition } from "./validate.ts";

/** The least and most a circle's radius or a corridor's width may be, metres. */
export const MIN_SHAPE_M = 1;
export const MAX_SHAPE_M = 100_000;

/** A segment's arc may not come this close (degrees) to half a great circle: its path is ambiguous. */
const MAX_SEGMENT_DEG = 179;

export type ShapeCheck =
  | { ok: true; circle: CircleShape; vertexCount: 1 }
  | { ok: true; corridor: CorridorShape; vertexCount: number }
  | { ok: false; problem: GeometryProblem };

/** Whether a Feature's geometry is one this file judges (a Point or a LineString). */
export function isShapeGeometry(geometry: unknown): boolean {
  if (typeof geometry !== "object" || geometry === null) return false;
  const type = (geometry as { type?: unknown }).type;
  return type === "Point" || type === "LineString";
}

/**
 * Validates a Point with `properties.radius_m` as a circle, or a LineString with
 * `properties.width_m` as a corridor. Altitudes and consecutive repeated positions are dropped.
 * Returns the first problem found; never throws.
 */
export function validateShape(
  geometry: { type?: unknown; coordinates?: unknown },
  properties: unknown,
  options: { maxVertices?: number } = {},
): ShapeCheck {
  const props = (typeof properties === "object" && properties !== null ? properties : {}) as Record<
    string,
    unknown
  >;
  if (geometry.type === "Point") {
    if ("width_m" in props) {
      return problem(
        "properties.width_m",
        "width_m belongs to a corridor (a LineString); a Point is a circle: give its radius_m instead",
      );
    }
    const radius = readMetres(props, "radius_m", "a Point is a circle and needs its radius");
    if (typeof radius !== "number") return { ok: false, problem: radius };
    const center = readPoint(geometry.coordinates);
    if ("message" in center) return { ok: false, problem: center };
    return { ok: true, circle: { center, radius_m: radius }, vertexCount: 1 };
  }
  if ("radius_m" in props) {
    return problem(
      "properties.radius_m",
      "radius_m belongs to a circle (a Point); a LineString is a corridor: give its width_m instead",
    );
  }
  const width = readMetres(props, "width_m", "a LineString is a corridor and needs its full width");
  if (typeof width !== "number") return { ok: false, problem: width };
  const line = readLine(geometry.coordinates, options.maxVertices ?? MAX_GEOMETRY_VERTICES);
  if (!Array.isArray(line)) return { ok: false, problem: line };
  return { ok: true, corridor: { line, width_m: width }, vertexCount: line.length };
}

/**
 * For a Polygon or MultiPolygon: a problem when `properties` has radius_m or width_m, which only
 * circles and corridors take.
 */
export function strayShapeProperty(properties: unknown): GeometryProblem | undefined {
  if (typeof properties !== "object" || properties === null) return undefined;
  for (const [key, kind] of [
    ["radius_m", "a circle: send a Point"],
    ["width_m", "a corridor: send a LineString"],
  ] as const) {
    if (key in properties) {
      return {
        path: `properties.${key}`,
        message: `${key} applies only to ${kind} geometry with it, or remove ${key} from a polygon`,
      };
    }
  }
  return undefined;
}

function problem(path: string, message: string): ShapeCheck {
  return { ok: false, problem: { path, message } };
}

function readMetres(
  props: Record<string, unknown>,
  key: "radius_m" | "width_m",
  why: string,
): number | GeometryProblem {
  const path = `properties.${key}`;
  const value = props[key];
  if (value === undefined) {
    return {
      path,
      message: `${key} is required: ${why} in metres, ${MIN_SHAPE_M} to ${MAX_SHAPE_M}`,
    };
  }
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < MIN_SHAPE_M ||
    value > MAX_SHAPE_M
  ) {
    return {
      path,
      message: `${key} must be a number of metres from ${MIN_SHAPE_M} to ${MAX_SHAPE_M}, found ${describe(value)}`,
    };
  }
  return value;
}

function readPoint(coordinates: unknown): Position | GeometryProblem {
  // readPosition names "geometry.coordinates[0]"; a Point's position is the coordinates itself.
  const read = readPosition(coordinates, "geometry", 0);
  if (!("message" in read)) return read;
  return {
    path: read.path.replaceAll("geometry[0]", "geometry.coordinates"),
    message: read.message.replaceAll("geometry[0]", "geometry.coordinates"),
  };
}

function readLine(coordinates: unknown, maxVertices: number): Position[] | GeometryProblem {
  const path = "geometry.coordinates";
  if (!Array.isArray(coordinates)) {
    return {
      path,
      message: `${path} of a LineString must be an array of positions, found ${describe(coordinates)}`,
    };
  }
  if (coordinates.length > maxVertices) {
    return {
      path,
      message: `geometry has ${coordinates.length} vertices; the limit is ${maxVertices}`,
    };
  }
  const line: Position[] = [];
  for (let i = 0; i < coordinates.length; i++) {
    const position = readPosition(coordinates[i], path, i);
    if ("message" in position) return position;
    const previous = line[line.length - 1];
    if (previous?.[0] === position[0] && previous[1] === position[1]) continue;
    if (previous !== undefined) {
      const arc = angleBetween(toUnit(previous[0], previous[1]), toUnit(position[0], position[1]));
      if ((arc * 180) / Math.PI > MAX_SEGMENT_DEG) {
        return {
          path: `${path}[${i}]`,
          message: `the segment ending at position ${i} spans more than ${MAX_SEGMENT_DEG}° of a great circle, so its path is ambiguous: add positions along it`,
        };
      }
    }
    line.push(position);
  }
  if (line.length < 2) {
    return {
      path,
      message: `a LineString needs at least 2 distinct positions, found ${line.length}; for a circle send a Point with radius_m`,
    };
  }
  return line;
}

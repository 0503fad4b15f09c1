// Between GeoJSON Features on the wire and stored geofence records: what a client sends becomes a
// GeofenceInput; a GeofenceRecord becomes the Feature every geofence answer gives back.

import { formatTs } from "@locus/protocol";
import type { Static } from "typebox";
import type { CircleShape, CorridorShape, MultiPolygonCoords } from "../geofence/fence.ts";
import type { GeofenceInput, GeofenceRecord } from "../store/store.ts";
import { badRequest } from "./errors.ts";
import type { GeofenceInputSchema, GeofenceSchema } from "./schemas.ts";

export type GeofenceBody = Static<typeof GeofenceInputSchema>;
export type GeofenceFeature = Static<typeof GeofenceSchema>;

/** Most JSON the user properties of one geofence may take (name and jitter settings included). */
export const MAX_PROPERTIES_BYTES = 16 * 1024;

/** Deepest nesting of objects and arrays in the properties, the properties object counting as 1. */
export const MAX_PROPERTIES_DEPTH = 32;

/** Properties the hub sets itself: ignored when sent, so a fetched Feature can be PUT back as is. */
const HUB_PROPERTIES = new Set(["name", "created_at", "updated_at"]);

/** A request's geometry once validated: polygons, or (with no polygons) a circle or a corridor. */
export interface ValidatedShape {
  polygons: MultiPolygonCoords;
  circle?: CircleShape;
  corridor?: CorridorShape;
}

/** The record to store for a validated request body and its normalised geometry. */
export function toGeofenceInput(body: GeofenceBody, shape: ValidatedShape): GeofenceInput {
  const sent = body.properties as Record<string, unknown>;
  // Before anything recursive (JSON.stringify, the store, the reply) meets them: thousands of
  // levels would overflow the stack there.
  if (deeperThan(sent, MAX_PROPERTIES_DEPTH)) {
    throw badRequest(
      `body/properties is nested more than ${MAX_PROPERTIES_DEPTH} levels deep (objects and arrays): flatten it`,
    );
  }
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(sent)) {
    if (!HUB_PROPERTIES.has(key)) properties[key] = value;
  }
  const size = Buffer.byteLength(JSON.stringify(sent), "utf8");
  if (size > MAX_PROPERTIES_BYTES) {
    throw badRequest(
      `body/properties is ${size} bytes of JSON, more than the ${MAX_PROPERTIES_BYTES} allowed: keep large data elsewhere and store a reference to it`,
    );
  }
  const input: GeofenceInput = {
    name: body.properties.name,
    geometry_type: body.geometry.type,
    polygons: shape.polygons,
    properties,
    hysteresis_m: body.properties.hysteresis_m ?? null,
    max_accuracy_m: body.properties.max_accuracy_m ?? null,
    dwell_s: body.properties.dwell_s ?? null,
    detect_crossing: body.properties.detect_crossing === true,
  };
  if (shape.circle !== undefined) input.circle = shape.circle;
  if (shape.corridor !== undefined) input.corridor = shape.corridor;
  return input;
}

/** Whether `value` nests objects and arrays more than `max` levels deep; walks without recursion. */
function deeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (typeof top.value !== "object" || top.value === null) continue;
    if (top.depth > max) return true;
    for (const child of Object.values(top.value)) {
      if (typeof child === "object" && child !== null) {
        stack.push({ value: child, depth: top.depth + 1 });
      }
    }
  }
  return false;
}

/** The Feature for a stored geofence: the geometry type as sent, normalised coordinates. */
export function toFeature(record: GeofenceRecord): GeofenceFeature {
  return {
    type: "Feature",
    id: record.id,
    geometry: geometryOf(record),
    properties: {
      ...record.properties,
      name: record.name,
      created_at: formatTs(record.created_at),
      updated_at: formatTs(record.updated_at),
    },
  };
}

/** A circle is returned as its Point and a corridor as its LineString, as they were sent. */
function geometryOf(record: GeofenceRecord): GeofenceFeature["geometry"] {
  if (record.circle !== undefined) {
    return { type: "Point", coordinates: record.circle.center as unknown as number[] };
  }
  if (record.corridor !== undefined) {
    return { type: "LineString", coordinates: record.corridor.line as unknown as number[][] };
  }
  if (record.geometry_type === "Polygon") {
    return { type: "Polygon", coordinates: polygonOf(record) };
  }
  return { type: "MultiPolygon", coordinates: record.polygons as unknown as number[][][][] };
}

function polygonOf(record: GeofenceRecord): number[][][] {
  const polygon = record.polygons[0];
  if (polygon === undefined) throw new Error(`geofence ${record.id} has no polygon`);
  return polygon as unknown as number[][][];
}

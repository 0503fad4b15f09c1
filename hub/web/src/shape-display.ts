// What the map draws for each kind of geofence: polygons as they are; a circle as a 64-sided
// polygon around its centre (display only: the hub judges the true circle); a corridor as its
// centre line, drawn by a line layer whose width in pixels follows its width in metres.

import type { Feature, Geometry, Position } from "geojson";
import { circleRing } from "./circle.ts";
import type { GeofenceFeature } from "./types.ts";

/** Metres per pixel at zoom 0 on the equator (512-pixel world, WGS 84 equator). */
const EQUATOR_M_PER_PX_Z0 = 40_075_016.686 / 512;

/** The geometry to draw for a geofence. */
export function displayGeometry(g: GeofenceFeature): Geometry {
  if (g.geometry.type === "Point") {
    const radius = Number(g.properties.radius_m ?? 0);
    return { type: "Polygon", coordinates: [circleRing(g.geometry.coordinates, radius)] };
  }
  return g.geometry;
}

/**
 * A corridor's width in pixels at zoom 0 at its latitude; the layer doubles it per zoom level
 * (Web Mercator), so it keeps its width in metres at every zoom. 0 for other geofences.
 */
export function corridorPixelsAtZoom0(g: GeofenceFeature): number {
  if (g.geometry.type !== "LineString") return 0;
  const width = Number(g.properties.width_m ?? 0);
  const lats = g.geometry.coordinates.map(([, lat = 0]) => lat);
  const mid = ((Math.min(...lats) + Math.max(...lats)) / 2) * (Math.PI / 180);
  return width / (EQUATOR_M_PER_PX_Z0 * Math.cos(mid));
}

/** The outer positions of what is drawn: the largest ring, or a corridor's line. */
export function outline(geometry: Geometry): Position[] {
  if (geometry.type === "LineString") return geometry.coordinates;
  if (geometry.type === "Point") return [geometry.coordinates];
  if (geometry.type !== "Polygon" && geometry.type !== "MultiPolygon") return [];
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let ring: Position[] = [];
  for (const polygon of polygons) {
    const outer = polygon[0] ?? [];
    if (outer.length > ring.length) ring = outer;
  }
  return ring;
}

/** The map feature of a geofence: its display geometry and what the layers read. */
export function displayFeature(g: GeofenceFeature, featureId: number): Feature {
  return {
    type: "Feature",
    id: featureId,
    geometry: displayGeometry(g),
    properties: { gid: g.id, name: g.properties.name, corridor_px0: corridorPixelsAtZoom0(g) },
  };
}

// What the geofence engine knows of a geofence: its id, name, geometry, jitter and crossing settings.

/** A GeoJSON position: [longitude, latitude] in WGS 84 degrees. */
export type Position = readonly [number, number];
/** A closed linear ring (first position equals the last). */
export type Ring = readonly Position[];
/** A polygon: its exterior ring, then its holes. */
export type PolygonCoords = readonly Ring[];
/** Every geofence is held as a MultiPolygon; a Polygon is a MultiPolygon of one. */
export type MultiPolygonCoords = readonly PolygonCoords[];

/** A circle: every point within `radius_m` metres of the centre (great-circle distance). */
export interface CircleShape {
  center: Position;
  radius_m: number;
}

/**
 * A corridor: every point within `width_m / 2` metres of the line, whose segments are
 * great-circle arcs. `line` has at least 2 distinct positions.
 */
export interface CorridorShape {
  line: readonly Position[];
  width_m: number;
}

// A polygon fence has `polygons` only. A circle or a corridor has empty `polygons` and one of
// `circle` or `corridor`: optional fields rather than a union of kinds, so that code that judges
// polygons alone (the point-in-polygon index, validation, WKB) is untouched by the other shapes.
export interface Fence {
  id: string;
  name: string;
  /** The polygons; empty for a circle or a corridor. */
  polygons: MultiPolygonCoords;
  circle?: CircleShape;
  corridor?: CorridorShape;
  /** Once inside, a vehicle exits only when more than this many metres outside. 0 or absent: off. */
  hysteresis_m?: number;
  /** A fix whose accuracy is worse than this changes no membership of this fence. Absent: the global default. */
  max_accuracy_m?: number;
  /** One `dwell` event once a vehicle has been inside continuously this long (seconds). Absent: off. */
  dwell_s?: number;
  /**
   * Also report a vehicle that passed through between two fixes, neither of them inside: an
   * interpolated `enter` and `exit` (crossing-judge.ts). Absent: off.
   */
  detect_crossing?: boolean;
}

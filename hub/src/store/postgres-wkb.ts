// Geofence geometry to and from PostGIS as WKB: exact doubles both ways (text forms round
// coordinates), and no text parsing of 100,000-vertex shapes on either side.

import type { Fence, MultiPolygonCoords, Position, Ring } from "../geofence/fence.ts";
import { reachBounds } from "../geofence/reach.ts";
import type { Box } from "../geofence/sphere.ts";

const WKB_POINT = 1;
const WKB_LINESTRING = 2;
const WKB_POLYGON = 3;
const WKB_MULTIPOLYGON = 6;

/** A MultiPolygon as little-endian 2D WKB (no SRID: the SQL sets 4326). */
export function multiPolygonToWkb(polygons: MultiPolygonCoords): Buffer {
  let size = 9;
  for (const rings of polygons) {
    size += 9;
    for (const ring of rings) size += 4 + 16 * ring.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  const header = (type: number, count: number) => {
    buf.writeUInt8(1, at);
    buf.writeUInt32LE(type, at + 1);
    buf.writeUInt32LE(count, at + 5);
    at += 9;
  };
  header(WKB_MULTIPOLYGON, polygons.length);
  for (const rings of polygons) {
    header(WKB_POLYGON, rings.length);
    for (const ring of rings) {
      buf.writeUInt32LE(ring.length, at);
      at += 4;
      for (const [x, y] of ring) {
        buf.writeDoubleLE(x, at);
        buf.writeDoubleLE(y, at + 8);
        at += 16;
      }
    }
  }
  return buf;
}

/**
 * Reads what `ST_AsBinary` returns for a Polygon or MultiPolygon (either byte order, 2D) as
 * MultiPolygon coordinates.
 */
export function wkbToMultiPolygon(wkb: Uint8Array): MultiPolygonCoords {
  const view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  let at = 0;
  let little = true;
  const u32 = () => {
    const v = view.getUint32(at, little);
    at += 4;
    return v;
  };
  const header = (): { type: number; count: number } => {
    little = view.getUint8(at) === 1;
    at += 1;
    const type = u32();
    if (type !== WKB_POLYGON && type !== WKB_MULTIPOLYGON) {
      throw new Error(`unexpected WKB geometry type ${type}: only 2D polygons are stored`);
    }
    return { type, count: u32() };
  };
  const polygon = (rings: number): Ring[] => {
    const out: Ring[] = [];
    for (let r = 0; r < rings; r++) {
      const n = u32();
      const ring: Position[] = new Array(n);
      for (let i = 0; i < n; i++) {
        ring[i] = [view.getFloat64(at, little), view.getFloat64(at + 8, little)];
        at += 16;
      }
      out.push(ring);
    }
    return out;
  };
  const top = header();
  if (top.type === WKB_POLYGON) return [polygon(top.count)];
  const polygons: Ring[][] = [];
  for (let p = 0; p < top.count; p++) {
    const part = header();
    if (part.type !== WKB_POLYGON) throw new Error(`unexpected WKB part type ${part.type}`);
    polygons.push(polygon(part.count));
  }
  return polygons;
}

/** A Point or LineString as little-endian 2D WKB (no SRID). */
function positionsToWkb(
  type: typeof WKB_POINT | typeof WKB_LINESTRING,
  positions: readonly Position[],
) {
  const counted = type === WKB_LINESTRING;
  const buf = Buffer.allocUnsafe(5 + (counted ? 4 : 0) + 16 * positions.length);
  buf.writeUInt8(1, 0);
  buf.writeUInt32LE(type, 1);
  let at = 5;
  if (counted) {
    buf.writeUInt32LE(positions.length, at);
    at += 4;
  }
  for (const [x, y] of positions) {
    buf.writeDoubleLE(x, at);
    buf.writeDoubleLE(y, at + 8);
    at += 16;
  }
  return buf;
}

/** What the geofences table holds of a fence's shape, as query parameters. */
export interface ShapeColumns {
  /** The polygons, the circle's centre (a Point) or the corridor's line (a LineString), as WKB. */
  wkb: Buffer;
  radius_m: number | null;
  width_m: number | null;
  /** A circle's or corridor's bbox grown by its reach, for the index; null for polygons. */
  reach: Box | null;
}

export function shapeColumns(fence: Pick<Fence, "polygons" | "circle" | "corridor">): ShapeColumns {
  if (fence.circle !== undefined) {
    return {
      wkb: positionsToWkb(WKB_POINT, [fence.circle.center]),
      radius_m: fence.circle.radius_m,
      width_m: null,
      reach: reachBounds(fence),
    };
  }
  if (fence.corridor !== undefined) {
    return {
      wkb: positionsToWkb(WKB_LINESTRING, fence.corridor.line),
      radius_m: null,
      width_m: fence.corridor.width_m,
      reach: reachBounds(fence),
    };
  }
  return { wkb: multiPolygonToWkb(fence.polygons), radius_m: null, width_m: null, reach: null };
}

/** Reads what `ST_AsBinary` returns for a Point or a LineString (either byte order, 2D). */
export function wkbToPositions(wkb: Uint8Array): Position[] {
  const view = new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength);
  const little = view.getUint8(0) === 1;
  const type = view.getUint32(1, little);
  if (type !== WKB_POINT && type !== WKB_LINESTRING) {
    throw new Error(`unexpected WKB geometry type ${type}: expected a 2D Point or LineString`);
  }
  let at = 5;
  let n = 1;
  if (type === WKB_LINESTRING) {
    n = view.getUint32(at, little);
    at += 4;
  }
  const positions: Position[] = new Array(n);
  for (let i = 0; i < n; i++) {
    positions[i] = [view.getFloat64(at, little), view.getFloat64(at + 8, little)];
    at += 16;
  }
  return positions;
}

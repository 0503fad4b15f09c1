// Geofence geometry to and from PostGIS as WKB: exact doubles both ways (text forms round
// coordinates), and no text parsing of 100,000-vertex shapes on either side.

import type { MultiPolygonCoords, Position, Ring } from "../geofence/fence.ts";

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

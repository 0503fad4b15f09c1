// Distances on a sphere for circles and corridors: great-circle distance between points and from a
// point to a great-circle arc, in radians, computed on unit vectors so that metre-scale distances
// keep their precision (no acos of a number near 1).
//
// The model is the sphere PostGIS uses for geography with use_spheroid = false: radius (2a + b) / 3
// of WGS 84. Against the WGS 84 ellipsoid it is off by up to about 0.5% of a distance (at most
// 500 m on a 100 km radius); against PostGIS's sphere, only by floating-point rounding.

/** Radius of the sphere, metres: (2a + b) / 3 of WGS 84, as PostGIS's sphere. */
export const SPHERE_RADIUS_M = 6_371_008.771_415;

const RADIANS = Math.PI / 180;
const DEGREES = 180 / Math.PI;

/** A unit vector: x towards (0°, 0°), y towards (90°E, 0°), z towards the north pole. */
export type Unit = readonly [number, number, number];

export function toUnit(lon: number, lat: number): Unit {
  const phi = lat * RADIANS;
  const lambda = lon * RADIANS;
  const c = Math.cos(phi);
  return [c * Math.cos(lambda), c * Math.sin(lambda), Math.sin(phi)];
}

/** Great-circle distance between two unit vectors, radians: 2·asin(chord / 2). */
export function angleBetween(a: Unit, b: Unit): number {
  const dx = a[0] - b[0];
  const dy = a[1] - b[1];
  const dz = a[2] - b[2];
  const chord = Math.sqrt(dx * dx + dy * dy + dz * dz);
  return 2 * Math.asin(Math.min(1, chord / 2));
}

/**
 * Great-circle distance (radians) from p to the shorter arc a–b. Cross products are taken on
 * differences (a × b = a × (b − a)), so a metre-long arc keeps its direction to ~1e-10.
 */
export function angleToArc(p: Unit, a: Unit, b: Unit): number {
  const toA = angleBetween(p, a);
  const toB = angleBetween(p, b);
  const ex = b[0] - a[0];
  const ey = b[1] - a[1];
  const ez = b[2] - a[2];
  // n = a × (b − a): the normal of the arc's plane.
  const nx = a[1] * ez - a[2] * ey;
  const ny = a[2] * ex - a[0] * ez;
  const nz = a[0] * ey - a[1] * ex;
  const nLength = Math.sqrt(nx * nx + ny * ny + nz * nz);
  if (nLength === 0) return Math.min(toA, toB);
  const px = p[0] - a[0];
  const py = p[1] - a[1];
  const pz = p[2] - a[2];
  // p lies beside the arc (not beyond an end) when p × n points the same way from a and from b:
  // (n × a)·p ≥ 0 and (b × n)·p ≥ 0, i.e. the projection of p falls between a and b.
  const fromA =
    (ny * a[2] - nz * a[1]) * px + (nz * a[0] - nx * a[2]) * py + (nx * a[1] - ny * a[0]) * pz;
  const qx = p[0] - b[0];
  const qy = p[1] - b[1];
  const qz = p[2] - b[2];
  const fromB =
    (b[1] * nz - b[2] * ny) * qx + (b[2] * nx - b[0] * nz) * qy + (b[0] * ny - b[1] * nx) * qz;
  // Beside the arc, the distance is to its great circle: asin of p's height over the plane.
  if (fromA >= 0 && fromB >= 0) {
    const height = Math.abs(px * nx + py * ny + pz * nz) / nLength;
    return Math.min(toA, toB, Math.asin(Math.min(1, height)));
  }
  return Math.min(toA, toB);
}

/** Metres to an angle on the sphere (radians). */
export function metresToAngle(metres: number): number {
  return metres / SPHERE_RADIUS_M;
}

/** An angle on the sphere (radians) to metres. */
export function angleToMetres(angle: number): number {
  return angle * SPHERE_RADIUS_M;
}

/** A bounding box in degrees: [minLon, minLat, maxLon, maxLat]. */
export type Box = [number, number, number, number];

/** Extra margin on every computed bbox (degrees, ~1 mm), so rounding never cuts a shape short. */
const BOX_MARGIN_DEG = 1e-8;

/**
 * A lon/lat box that holds every point within `reach` radians of the given positions and of the
 * great-circle arcs between consecutive ones (`arcs`), as planar boxes for the spatial index:
 * - latitude spreads by the reach in degrees, and an arc's poleward bulge is included;
 * - longitude spreads by asin(sin reach / cos φ) at the latitude φ nearest a pole;
 * - within reach of a pole, or across the antimeridian, the box spans all longitudes
 *   (correct, only less selective).
 */
export function reachBox(
  positions: readonly (readonly [number, number])[],
  arcs: boolean,
  reach: number,
): Box {
  let minLon = Infinity;
  let maxLon = -Infinity;
  let minLat = Infinity;
  let maxLat = -Infinity;
  let wraps = false;
  for (let i = 0; i < positions.length; i++) {
    const [lon, lat] = positions[i] as readonly [number, number];
    if (lon < minLon) minLon = lon;
    if (lon > maxLon) maxLon = lon;
    if (lat < minLat) minLat = lat;
    if (lat > maxLat) maxLat = lat;
    if (!arcs || i === 0) continue;
    const [lon0, lat0] = positions[i - 1] as readonly [number, number];
    // The shorter arc between longitudes more than 180° apart crosses the antimeridian.
    if (Math.abs(lon - lon0) > 180) wraps = true;
    const [low, high] = arcLatitudes(toUnit(lon0, lat0), toUnit(lon, lat));
    if (low < minLat) minLat = low;
    if (high > maxLat) maxLat = high;
  }
  const reachDeg = reach * DEGREES + BOX_MARGIN_DEG;
  minLat -= reachDeg;
  maxLat += reachDeg;
  if (minLat <= -90 || maxLat >= 90 || reach >= Math.PI / 2) {
    return [-180, Math.max(-90, minLat), 180, Math.min(90, maxLat)];
  }
  const nearestPole = Math.max(Math.abs(minLat), Math.abs(maxLat)) * RADIANS;
  const spread = Math.asin(Math.min(1, Math.sin(reach) / Math.cos(nearestPole))) * DEGREES;
  const lonSpread = spread + BOX_MARGIN_DEG;
  minLon -= lonSpread;
  maxLon += lonSpread;
  if (wraps || minLon < -180 || maxLon > 180) return [-180, minLat, 180, maxLat];
  return [minLon, minLat, maxLon, maxLat];
}

/** The lowest and highest latitude (degrees) on the shorter arc a–b. */
function arcLatitudes(a: Unit, b: Unit): [number, number] {
  let low = Math.min(a[2], b[2]);
  let high = Math.max(a[2], b[2]);
  const nx = a[1] * b[2] - a[2] * b[1];
  const ny = a[2] * b[0] - a[0] * b[2];
  const nz = a[0] * b[1] - a[1] * b[0];
  const n2 = nx * nx + ny * ny + nz * nz;
  if (n2 > 0) {
    // The great circle's most northern point: the pole's projection onto the arc's plane.
    const vx = -(nz * nx) / n2;
    const vy = -(nz * ny) / n2;
    const vz = 1 - (nz * nz) / n2;
    const vLength = Math.sqrt(vx * vx + vy * vy + vz * vz);
    if (vLength > 0) {
      const v: Unit = [vx / vLength, vy / vLength, vz / vLength];
      if (onArc(v, a, b, nx, ny, nz)) high = Math.max(high, v[2]);
      const south: Unit = [-v[0], -v[1], -v[2]];
      if (onArc(south, a, b, nx, ny, nz)) low = Math.min(low, south[2]);
    }
  }
  const toLat = (z: number) => Math.asin(Math.max(-1, Math.min(1, z))) * DEGREES;
  return [toLat(low), toLat(high)];
}

/** Whether v (on the plane of a and b, normal n = a × b) lies on the shorter arc a–b. */
function onArc(v: Unit, a: Unit, b: Unit, nx: number, ny: number, nz: number): boolean {
  // (a × v)·n ≥ 0 and (v × b)·n ≥ 0.
  const avx = a[1] * v[2] - a[2] * v[1];
  const avy = a[2] * v[0] - a[0] * v[2];
  const avz = a[0] * v[1] - a[1] * v[0];
  const vbx = v[1] * b[2] - v[2] * b[1];
  const vby = v[2] * b[0] - v[0] * b[2];
  const vbz = v[0] * b[1] - v[1] * b[0];
  return avx * nx + avy * ny + avz * nz >= 0 && vbx * nx + vby * ny + vbz * nz >= 0;
}

// A local planar frame in metres (equirectangular projection): motion is computed in metres and
// turned into WGS 84 degrees only for the fix. Over a city (tens of km) the distortion is far below
// GPS noise.

const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;
const M_PER_DEG = EARTH_RADIUS_M * RAD;

/** A box in WGS 84 degrees: west, south, east, north. */
export interface BBox {
  west: number;
  south: number;
  east: number;
  north: number;
}

export class LocalFrame {
  private readonly mPerDegLon: number;

  /**
   * x metres east and y metres north of (lon0, lat0); east-west distances are scaled at
   * `scaleLat` (default lat0).
   */
  constructor(
    readonly lon0: number,
    readonly lat0: number,
    scaleLat = lat0,
  ) {
    this.mPerDegLon = M_PER_DEG * Math.cos(scaleLat * RAD);
  }

  /** Origin at the box's south-west corner, scaled at its middle latitude. */
  static ofBox(box: BBox): LocalFrame {
    return new LocalFrame(box.west, box.south, (box.south + box.north) / 2);
  }

  x(lon: number): number {
    return (lon - this.lon0) * this.mPerDegLon;
  }

  y(lat: number): number {
    return (lat - this.lat0) * M_PER_DEG;
  }

  lon(x: number): number {
    return this.lon0 + x / this.mPerDegLon;
  }

  lat(y: number): number {
    return this.lat0 + y / M_PER_DEG;
  }
}

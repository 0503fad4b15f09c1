// The offline basemap: Natural Earth land and country borders from the world-atlas package,
// turned into GeoJSON at build time so the hub serves every layer itself (CONTRACT §8).
// Two scales: 1:110m for the world view, 1:50m once zoomed in.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature, mesh } from "topojson-client";

const require = createRequire(import.meta.url);

/** Decimal places kept per scale: 0.01° (≈1 km) is finer than 1:110m, 0.001° than 1:50m. */
const PRECISION = { "110m": 2, "50m": 3 };

/** Rounds every coordinate of a geometry in place, dropping repeated positions it creates. */
function roundGeometry(geometry, digits) {
  const f = 10 ** digits;
  const round = (p) => [Math.round(p[0] * f) / f, Math.round(p[1] * f) / f];
  const line = (ps) => {
    const out = [];
    for (const p of ps) {
      const r = round(p);
      const last = out[out.length - 1];
      if (!last || last[0] !== r[0] || last[1] !== r[1]) out.push(r);
    }
    return out;
  };
  // A ring needs four positions to stay a ring after rounding; smaller islands vanish at this scale.
  const rings = (rs) => rs.map(line).filter((r) => r.length >= 4);
  switch (geometry.type) {
    case "Polygon":
      geometry.coordinates = rings(geometry.coordinates);
      break;
    case "MultiPolygon":
      geometry.coordinates = geometry.coordinates.map(rings).filter((p) => p.length > 0);
      break;
    case "LineString":
      geometry.coordinates = line(geometry.coordinates);
      break;
    case "MultiLineString":
      geometry.coordinates = geometry.coordinates.map(line).filter((l) => l.length >= 2);
      break;
    default:
      throw new Error(`unexpected basemap geometry ${geometry.type}`);
  }
  return geometry;
}

/**
 * Builds the basemap layers from world-atlas TopoJSON objects: `land-<scale>` (polygons) and
 * `borders-<scale>` (lines between two countries, so coastlines are not drawn twice).
 * @param {{ land: Record<string, any>, countries: Record<string, any> }} topologies by scale
 * @returns {Record<string, { type: "FeatureCollection", features: any[] }>}
 */
export function buildBasemap(topologies) {
  const layers = {};
  for (const [scale, digits] of Object.entries(PRECISION)) {
    const land = topologies.land[scale];
    const countries = topologies.countries[scale];
    if (!land || !countries) throw new Error(`world-atlas ${scale} topology missing`);
    const landFc = feature(land, land.objects.land);
    const landFeatures = (landFc.type === "FeatureCollection" ? landFc.features : [landFc]).map(
      (f) => ({ type: "Feature", properties: {}, geometry: roundGeometry(f.geometry, digits) }),
    );
    const borders = mesh(countries, countries.objects.countries, (a, b) => a !== b);
    layers[`land-${scale}`] = { type: "FeatureCollection", features: landFeatures };
    layers[`borders-${scale}`] = {
      type: "FeatureCollection",
      features: [{ type: "Feature", properties: {}, geometry: roundGeometry(borders, digits) }],
    };
  }
  return layers;
}

/** Reads the world-atlas files this basemap is made from. */
export function readWorldAtlas() {
  const read = (name) => JSON.parse(readFileSync(require.resolve(`world-atlas/${name}`), "utf8"));
  return {
    land: { "110m": read("land-110m.json"), "50m": read("land-50m.json") },
    countries: { "110m": read("countries-110m.json"), "50m": read("countries-50m.json") },
  };
}

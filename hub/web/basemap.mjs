// The offline basemap: Natural Earth land and country borders from the world-atlas package,
// turned into GeoJSON at build time so the hub serves every layer itself (CONTRACT §8).
// Two scales: 1:110m for the world view, 1:50m once zoomed in.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature, mesh } from "topojson-client";

const require = createRequire(import.meta.url);

/** Decimal places kept per scale: 0.01° (≈1 km) is finer than 1:110m, 0.001° than 1:50m. */
const PRECISION = { "110m": 2, "50m": 3 };

/**
 * Splits a line where it steps across the antimeridian (from 179.9° to -179.9°, say): drawn
 * as it is, that step would be a line right across the world.
 */
function splitAtAntimeridian(positions) {
  const parts = [[]];
  for (const p of positions) {
    const part = parts[parts.length - 1];
    const last = part[part.length - 1];
    if (last && Math.abs(p[0] - last[0]) > 180) parts.push([p]);
    else part.push(p);
  }
  return parts;
}

/**
 * Makes a ring that crosses the antimeridian continuous (longitudes past ±180°), which MapLibre
 * draws across it; as stored, its step from 179.9° to -179.9° would be filled right across the
 * world. A ring around a pole (Antarctica) closes only with that step and stays as it is.
 */
function unwrapRing(ring) {
  const out = [];
  let shift = 0;
  for (const p of ring) {
    const last = out[out.length - 1];
    if (last) {
      const step = p[0] + shift - last[0];
      if (step > 180) shift -= 360;
      else if (step < -180) shift += 360;
    }
    out.push([p[0] + shift, p[1]]);
  }
  if (shift !== 0) return ring;
  // Started on the far side of the antimeridian: move the whole ring back into the world.
  let min = Infinity;
  let max = -Infinity;
  for (const p of out) {
    min = Math.min(min, p[0]);
    max = Math.max(max, p[0]);
  }
  const back = Math.round((min + max) / 2 / 360) * 360;
  return back === 0 ? out : out.map((p) => [p[0] - back, p[1]]);
}

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
  const rings = (rs) =>
    rs
      .map(unwrapRing)
      .map(line)
      .filter((r) => r.length >= 4);
  switch (geometry.type) {
    case "Polygon":
      geometry.coordinates = rings(geometry.coordinates);
      break;
    case "MultiPolygon":
      geometry.coordinates = geometry.coordinates.map(rings).filter((p) => p.length > 0);
      break;
    case "LineString":
    case "MultiLineString": {
      const lines = geometry.type === "LineString" ? [geometry.coordinates] : geometry.coordinates;
      geometry.type = "MultiLineString";
      geometry.coordinates = lines
        .flatMap(splitAtAntimeridian)
        .map(line)
        .filter((l) => l.length >= 2);
      break;
    }
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

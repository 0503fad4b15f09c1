// Types for basemap.mjs (plain JavaScript, so the build runs on Node without a TypeScript loader).
import type { FeatureCollection } from "geojson";

export interface WorldAtlas {
  land: Record<string, unknown>;
  countries: Record<string, unknown>;
}
export function buildBasemap(topologies: WorldAtlas): Record<string, FeatureCollection>;
export function readWorldAtlas(): WorldAtlas;

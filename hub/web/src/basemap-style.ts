// The map's style: the offline basemap the hub serves (Natural Earth land and borders, no text,
// so no glyphs are needed), or an operator's online style named in /map/config.json.

import type { StyleSpecification } from "maplibre-gl";

export interface MapConfig {
  /** An online MapLibre style to use instead of the offline basemap (LOCUS_MAP_STYLE_URL). */
  style_url: string | null;
}

export async function loadMapConfig(): Promise<MapConfig> {
  try {
    const response = await fetch("/map/config.json", { cache: "no-store" });
    if (response.ok) {
      const config = (await response.json()) as Partial<MapConfig>;
      return { style_url: typeof config.style_url === "string" ? config.style_url : null };
    }
  } catch {
    // The offline basemap below needs nothing more from the hub than its files.
  }
  return { style_url: null };
}

/** 1:110m up to this zoom, 1:50m from it. */
const DETAIL_ZOOM = 3;

const COLOURS = {
  water: "#d5e3ec",
  land: "#f5f3ef",
  coast: "#b8cad6",
  border: "#bdb5aa",
};

/** The offline style: water as the background, land above it, country borders on top. */
export function offlineStyle(
  files: Record<string, string> = __LOCUS_BASEMAP__,
): StyleSpecification {
  const style: StyleSpecification = {
    version: 8,
    name: "Locus offline",
    sources: {},
    layers: [{ id: "water", type: "background", paint: { "background-color": COLOURS.water } }],
  };
  for (const scale of ["110m", "50m"] as const) {
    const zoom = scale === "110m" ? { maxzoom: DETAIL_ZOOM } : { minzoom: DETAIL_ZOOM };
    const land = files[`land-${scale}`];
    const borders = files[`borders-${scale}`];
    if (!land || !borders) continue;
    // Absolute URLs: the worker that fetches them resolves relative ones against its own address.
    style.sources[`land-${scale}`] = {
      type: "geojson",
      data: new URL(land, location.href).href,
      tolerance: 0.5,
    };
    style.sources[`borders-${scale}`] = {
      type: "geojson",
      data: new URL(borders, location.href).href,
      tolerance: 0.5,
    };
    style.layers.push(
      {
        id: `land-${scale}`,
        type: "fill",
        source: `land-${scale}`,
        ...zoom,
        paint: { "fill-color": COLOURS.land, "fill-antialias": true },
      },
      {
        id: `coast-${scale}`,
        type: "line",
        source: `land-${scale}`,
        ...zoom,
        paint: { "line-color": COLOURS.coast, "line-width": 0.8 },
      },
      {
        id: `borders-${scale}`,
        type: "line",
        source: `borders-${scale}`,
        ...zoom,
        paint: {
          "line-color": COLOURS.border,
          "line-width": ["interpolate", ["linear"], ["zoom"], 1, 0.5, 6, 1.2],
        },
      },
    );
  }
  return style;
}

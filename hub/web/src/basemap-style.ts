// The map's style: the offline basemap the hub serves (Natural Earth land and borders, no text,
// so no glyphs are needed), or an operator's online style the hub names in the page.

import type { StyleSpecification } from "maplibre-gl";

export interface MapConfig {
  /** An online MapLibre style to use instead of the offline basemap (LOCUS_MAP_STYLE_URL). */
  style_url: string | null;
}

/**
 * The hub writes LOCUS_MAP_STYLE_URL into the page's `locus-map-style` meta element (it serves
 * the same as /map/config.json): read at once, so the map exists as soon as the script runs.
 */
export function readMapConfig(doc: Document = document): MapConfig {
  const content = doc.querySelector<HTMLMetaElement>('meta[name="locus-map-style"]')?.content;
  return { style_url: content ? content : null };
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

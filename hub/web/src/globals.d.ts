// Values the build (build.mjs) writes into the bundle.

/** Where MapLibre's CSP worker is served, e.g. /map/maplibre-worker-<hash>.js. */
declare const __LOCUS_WORKER_URL__: string;
/** The offline basemap's GeoJSON files by layer name (land-110m, borders-50m, …). */
declare const __LOCUS_BASEMAP__: Record<string, string>;

// Builds the live map into hub/web/dist: the page's script and styles bundled with esbuild,
// MapLibre's CSP worker, the offline basemap as GeoJSON and index.html naming them. Every asset
// under dist/map/ has a content hash in its name, so the hub may let browsers cache it for good.
//
//   node hub/web/build.mjs [--if-possible]
//
// --if-possible (the root "prepare" script): exit quietly when the build tools are not installed,
// as in a production-only install, which needs no map sources.

import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const HERE = import.meta.dirname;
const DIST = path.join(HERE, "dist");
const require = createRequire(import.meta.url);

let esbuild;
try {
  esbuild = await import("esbuild");
} catch (error) {
  if (process.argv.includes("--if-possible")) {
    console.log(
      "map not built: esbuild is not installed (run npm install, then npm run build:web)",
    );
    process.exit(0);
  }
  throw error;
}
const { buildBasemap, readWorldAtlas } = await import("./basemap.mjs");

/** `import "maplibre-gl"` gets MapLibre's CSP build (its stylesheet import is left alone). */
const cspMapLibre = {
  name: "maplibre-csp",
  setup(build) {
    build.onResolve({ filter: /^maplibre-gl$/ }, () => ({
      path: require.resolve("maplibre-gl/dist/maplibre-gl-csp.js"),
    }));
  },
};

const hash = (data) => createHash("sha256").update(data).digest("hex").slice(0, 10);

/** Writes into a fresh folder beside dist and swaps it in, so a hub never serves half a build. */
const out = fs.mkdtempSync(path.join(HERE, ".dist-"));
const mapDir = path.join(out, "map");
fs.mkdirSync(mapDir);

function emit(name, data) {
  const ext = path.extname(name);
  const file = `${path.basename(name, ext)}-${hash(data)}${ext}`;
  fs.writeFileSync(path.join(mapDir, file), data);
  return `/map/${file}`;
}

try {
  // MapLibre's CSP build loads its worker from a URL instead of a blob, so the page's policy
  // needs no blob: or unsafe-eval.
  const workerSource = fs
    .readFileSync(require.resolve("maplibre-gl/dist/maplibre-gl-csp-worker.js"), "utf8")
    .replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  const workerUrl = emit("maplibre-worker.js", workerSource);

  const basemap = {};
  for (const [name, layer] of Object.entries(buildBasemap(readWorldAtlas()))) {
    basemap[name] = emit(`${name}.geojson`, JSON.stringify(layer));
  }

  const result = await esbuild.build({
    entryPoints: { app: path.join(HERE, "src/main.ts"), style: path.join(HERE, "src/style.css") },
    outdir: mapDir,
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    bundle: true,
    format: "esm",
    target: ["es2020", "chrome100", "firefox100"],
    minify: true,
    sourcemap: true,
    metafile: true,
    legalComments: "linked",
    plugins: [cspMapLibre],
    define: {
      __LOCUS_WORKER_URL__: JSON.stringify(workerUrl),
      __LOCUS_BASEMAP__: JSON.stringify(basemap),
    },
    logLevel: "warning",
  });

  const outputs = Object.keys(result.metafile.outputs).map((f) => `/map/${path.basename(f)}`);
  const script = outputs.find((f) => /\/app-[^/]+\.js$/.test(f));
  const style = outputs.find((f) => /\/style-[^/]+\.css$/.test(f));
  if (!script || !style)
    throw new Error(`esbuild produced no app script or stylesheet: ${outputs}`);
  const page = fs
    .readFileSync(path.join(HERE, "index.html"), "utf8")
    .replace("%SCRIPT%", script)
    .replace("%STYLE%", style);
  fs.writeFileSync(path.join(out, "index.html"), page);

  fs.chmodSync(out, 0o755); // mkdtemp makes it private; the hub may run as another user
  const old = `${DIST}.old-${process.pid}`;
  try {
    fs.renameSync(DIST, old);
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  try {
    fs.renameSync(out, DIST);
  } catch (error) {
    // Another build (a second hub starting at the same time) put its dist in place first.
    if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
    fs.rmSync(out, { recursive: true, force: true });
  }
  fs.rmSync(old, { recursive: true, force: true });
  console.log(`map built into ${path.relative(process.cwd(), DIST) || "."}`);
} catch (error) {
  fs.rmSync(out, { recursive: true, force: true });
  throw error;
}

// Bundles the hub's TypeScript (hub/src and the @locus/protocol workspace) into one ES module,
// dist/hub/main.mjs, for the container image: no TypeScript loader at run time. Third-party
// packages stay external and load from node_modules as usual (better-sqlite3's native addon,
// the API docs' static files), so the image ships the hub's production dependencies beside it.
//
//   node infra/hub/bundle.mjs [outdir]

import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const ENTRY = "hub/src/main.ts";
const outdir = path.resolve(ROOT, process.argv[2] ?? "dist/hub");

const hub = JSON.parse(fs.readFileSync(path.join(ROOT, "hub/package.json"), "utf8"));
/** Every runtime dependency of the hub but the workspace packages, which are TypeScript. */
const external = Object.keys(hub.dependencies).filter((name) => !name.startsWith("@locus/"));

// The geometry and GPX import workers are more entries: the hub starts them as geometry-worker.mjs
// and import-worker.mjs beside main.mjs.
await build({
  absWorkingDir: ROOT,
  entryPoints: [
    { in: ENTRY, out: "main" },
    { in: "hub/src/geofence/geometry-worker.ts", out: "geometry-worker" },
    { in: "hub/src/ingest/import-worker.ts", out: "import-worker" },
  ],
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external,
  sourcemap: true,
  logLevel: "warning",
});

// The live map's built files (hub/web/dist, made by hub/web/build.mjs) held in memory for the
// routes in root.ts. Only files found at start are served, by exact path, so no request can
// reach outside the folder. When the build is missing and the build tools are installed (a clone
// where `npm install` ran without scripts, say), the hub builds it once at start.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzip } from "node:zlib";

const gzipAsync = promisify(gzip);

export interface WebAsset {
  body: Buffer;
  type: string;
  /** Content-hashed names never change content: browsers may keep them for good. */
  immutable: boolean;
  etag: string;
  /** Made on first request and kept; null when compressing does not pay. */
  gzipped?: Promise<Buffer | null>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".geojson": "application/geo+json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** The build beside the sources (hub/web/dist) or, in the bundled hub, web/ beside main.mjs. */
export function defaultWebDir(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith(".ts")
    ? path.resolve(path.dirname(here), "../../web/dist")
    : path.resolve(path.dirname(here), "web");
}

function etagOf(body: Buffer): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
}

/** The same asset with another body (the page with the configured style written in). */
export function withBody(asset: WebAsset, body: Buffer): WebAsset {
  return { body, type: asset.type, immutable: asset.immutable, etag: etagOf(body) };
}

/** Reads the build: `/` is index.html, `/map/<file>` the files of dist/map. Empty when missing. */
export function readWebAssets(dir: string): Map<string, WebAsset> {
  const assets = new Map<string, WebAsset>();
  const add = (urlPath: string, file: string, immutable: boolean) => {
    const type = TYPES[path.extname(file)];
    if (!type) return;
    const body = fs.readFileSync(file);
    assets.set(urlPath, { body, type, immutable, etag: etagOf(body) });
  };
  const index = path.join(dir, "index.html");
  if (!fs.existsSync(index)) return assets;
  add("/", index, false);
  const mapDir = path.join(dir, "map");
  for (const entry of fs.readdirSync(mapDir, { withFileTypes: true })) {
    if (entry.isFile() && !entry.name.startsWith(".")) {
      add(`/map/${entry.name}`, path.join(mapDir, entry.name), true);
    }
  }
  return assets;
}

/**
 * Builds the map when its build is missing and the build script and esbuild are there.
 * Returns why it did not, or null when it built.
 */
export async function buildWebIfMissing(dir: string): Promise<string | null> {
  if (fs.existsSync(path.join(dir, "index.html"))) return null;
  const script = path.join(dir, "..", "build.mjs");
  if (!fs.existsSync(script)) return "the map's build script is not here";
  try {
    import.meta.resolve("esbuild");
  } catch {
    return "esbuild is not installed";
  }
  try {
    await promisify(execFile)(process.execPath, [script], { timeout: 180_000 });
    return null;
  } catch (error) {
    return `building it failed: ${(error as Error).message.split("\n")[0]}`;
  }
}

/** The gzip form of an asset when the body is text worth compressing. */
export function gzipped(asset: WebAsset): Promise<Buffer | null> {
  if (!asset.gzipped) {
    const compressible = !asset.type.startsWith("image/png") && asset.body.length > 1024;
    asset.gzipped = compressible
      ? gzipAsync(asset.body).then((z) => (z.length < asset.body.length ? z : null))
      : Promise.resolve(null);
  }
  return asset.gzipped;
}

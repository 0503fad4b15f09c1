// Opens a better-sqlite3 database both from source and inside the single executable. In the
// executable the native addon travels as a SEA asset: `require` of a .node file is not possible
// there, so the addon is written to a temporary file, loaded with process.dlopen and handed to
// better-sqlite3 as its `nativeBinding` object.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";

/** The SEA asset key the build stores better-sqlite3's addon under (agent/build/build.mjs). */
export const SQLITE_ADDON_ASSET = "better_sqlite3.node";

type SeaModule = typeof import("node:sea");

// node:sea exists from Node 20.12 and process.getBuiltinModule from 20.16; on older Nodes neither
// is there and the program cannot be running as a single executable built by this project.
function seaModule(): SeaModule | undefined {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get !== "function") return undefined;
  return get("node:sea") as SeaModule | undefined;
}

/** True when this process is the single executable (dist/locus-agent). */
export function isSingleExecutable(): boolean {
  return seaModule()?.isSea() ?? false;
}

// The addon can be loaded once per process; every database shares it.
let seaBinding: object | undefined;

function loadSeaBinding(sea: SeaModule): object {
  if (seaBinding) return seaBinding;
  const bytes = Buffer.from(sea.getAsset(SQLITE_ADDON_ASSET));
  // A unique name, so agents starting at once never load each other's half-written file.
  const file = path.join(
    os.tmpdir(),
    `locus-agent-${process.pid}-${randomBytes(6).toString("hex")}-better_sqlite3.node`,
  );
  fs.writeFileSync(file, bytes, { mode: 0o700 });
  const addon = { exports: {} as object };
  try {
    process.dlopen(addon, file);
  } catch (err) {
    throw new Error(
      `cannot load the SQLite addon from ${file} (is the temporary directory mounted noexec? ` +
        `set TMPDIR to another one): ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    // Once mapped, the library no longer needs its file (Linux, macOS); nothing is left behind.
    fs.rmSync(file, { force: true });
  }
  seaBinding = addon.exports;
  return seaBinding;
}

/**
 * Opens (or creates) the SQLite database at `file` with better-sqlite3. Use this instead of
 * `new Database(...)` anywhere in the agent, so the single executable can open it too.
 */
export function openDatabase(file: string, options: Database.Options = {}): Database.Database {
  const sea = seaModule();
  if (sea?.isSea()) {
    return new Database(file, { ...options, nativeBinding: loadSeaBinding(sea) as never });
  }
  return new Database(file, options);
}

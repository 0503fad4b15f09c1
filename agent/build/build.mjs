// Builds dist/locus-agent, the agent as one executable file (a Node single executable
// application): esbuild bundles the agent into one CommonJS file, Node turns it into a SEA blob
// with better-sqlite3's native addon as an asset, and postject injects the blob into a copy of
// this Node binary. Linux; run with `npm run build:agent`.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** The agent's entry point, the one file the bundle starts from. */
export const ENTRY = "agent/src/main.ts";
/** The executable written. */
export const OUTPUT = "dist/locus-agent";
/** Intermediate files (bundle, SEA config, blob). */
const WORK_DIR = "dist/sea";
/** Must equal SQLITE_ADDON_ASSET in agent/src/native/sqlite.ts. */
const SQLITE_ASSET = "better_sqlite3.node";
const SQLITE_ADDON = "node_modules/better-sqlite3/build/Release/better_sqlite3.node";
/** The fuse Node looks for to know a blob was injected (Node's documented value). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/**
 * Optional packages dependencies try to load and fall back without (ws: bufferutil,
 * utf-8-validate; debug: supports-color). A SEA cannot require files, so each resolves to a
 * module that throws MODULE_NOT_FOUND, as if it were not installed: the callers catch exactly
 * that. (An empty object would not do: ws would then call a missing bufferutil.mask.)
 */
const ABSENT_OPTIONAL = ["bufferutil", "utf-8-validate", "supports-color"];

const absentOptionalPlugin = {
  name: "absent-optional",
  setup(b) {
    const filter = new RegExp(`^(${ABSENT_OPTIONAL.join("|")})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "absent-optional" }));
    b.onLoad({ filter: /.*/, namespace: "absent-optional" }, (args) => ({
      contents: `const e = new Error(${JSON.stringify(`Cannot find module '${args.path}'`)});
e.code = "MODULE_NOT_FOUND";
throw e;`,
      loader: "js",
    }));
  },
};

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/**
 * Routes every import of a Node built-in through a small CommonJS module that requires it, so
 * the ES module bundle holds no `import` statement at all and can be wrapped in a function
 * (see wrapAsScript). The requires inside stay external: the SEA's require loads built-ins.
 */
const builtinsByRequirePlugin = {
  name: "builtins-by-require",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.namespace === "builtin" || !BUILTINS.has(args.path)) return undefined;
      return { path: args.path, namespace: "builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

// The SEA's require loads built-in modules only: a require of anything else left in the bundle
// would fail at run time, so it fails the build instead.
function checkOnlyBuiltinsExternal(metafile) {
  const stray = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && !BUILTINS.has(imported.path)) stray.add(imported.path);
    }
    if (output.exports.length > 0) {
      throw new Error(`the entry point must not export anything (it exports ${output.exports})`);
    }
  }
  if (stray.size > 0) {
    throw new Error(
      `the bundle still requires ${[...stray].join(", ")} at run time; ` +
        "bundle it or add it to ABSENT_OPTIONAL in agent/build/build.mjs",
    );
  }
}

/**
 * A SEA's main script is CommonJS, which has no top-level await; the agent's entry may use it.
 * The bundle is an ES module without imports or exports, so its body can run as an async
 * function: same strictness, same order, a rejection ends the process as in an ES module.
 */
function wrapAsScript(esm) {
  return [
    '"use strict";',
    'var __locus_meta_url = require("node:url").pathToFileURL(__filename).href;',
    "(async () => {",
    '"use strict";',
    esm,
    "})();",
    "",
  ].join("\n");
}

// postject in a child process: its ELF library prints a "Can't find string offset for section
// name" warning per note section of Node's binary, which says nothing about the result.
function injectBlob(executable, blob) {
  const cli = path.join(ROOT, "node_modules/postject/dist/cli.js");
  const args = [cli, executable, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE];
  const run = spawnSync(process.execPath, args, { encoding: "utf8" });
  const noise = /Can't find string offset for section name|Start injection|Injection done/;
  const said = `${run.stdout}${run.stderr}`.split("\n").filter((l) => l.trim() && !noise.test(l));
  if (run.status !== 0) throw new Error(`postject failed: ${said.join("\n") || run.error}`);
  for (const line of said) log(`postject: ${line}`);
}

function log(line) {
  process.stderr.write(`build:agent: ${line}\n`);
}

/** Builds the executable from `entry` into `output` (paths relative to the repository root). */
export async function buildAgent({ entry = ENTRY, output = OUTPUT } = {}) {
  const started = Date.now();
  const entryPath = path.resolve(ROOT, entry);
  if (!fs.existsSync(entryPath)) throw new Error(`the agent's entry point ${entry} does not exist`);
  if (typeof (await import("node:sea").catch(() => ({}))).isSea !== "function") {
    throw new Error(`Node ${process.version} cannot build single executables (needs ≥ 20.12)`);
  }
  const work = path.resolve(ROOT, WORK_DIR);
  fs.mkdirSync(work, { recursive: true });
  const bundle = path.join(work, "locus-agent.cjs");
  const blob = path.join(work, "locus-agent.blob");
  const config = path.join(work, "sea-config.json");
  const outPath = path.resolve(ROOT, output);

  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entryPath],
    bundle: true,
    write: false,
    outfile: bundle,
    platform: "node",
    target: `node${process.versions.node.split(".")[0]}`,
    format: "esm",
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
    plugins: [absentOptionalPlugin, builtinsByRequirePlugin],
    // ES module sources reading import.meta get the executable's own location.
    define: {
      "import.meta.url": "__locus_meta_url",
      "import.meta.dirname": "__dirname",
      "import.meta.filename": "__filename",
    },
  });
  checkOnlyBuiltinsExternal(result.metafile);
  const code = result.outputFiles.find((f) => f.path === bundle)?.text;
  if (code === undefined) throw new Error("esbuild wrote no bundle");
  fs.writeFileSync(bundle, wrapAsScript(code));

  const addon = path.resolve(ROOT, SQLITE_ADDON);
  if (!fs.existsSync(addon)) throw new Error(`${SQLITE_ADDON} is missing: run npm install`);
  fs.writeFileSync(
    config,
    `${JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        useCodeCache: true,
        assets: { [SQLITE_ASSET]: addon },
      },
      null,
      2,
    )}\n`,
  );
  const prep = spawnSync(process.execPath, ["--experimental-sea-config", config], {
    encoding: "utf8",
  });
  if (prep.status !== 0) throw new Error(`node could not make the SEA blob: ${prep.stderr}`);

  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  // Unlink first: overwriting a binary that is running fails with ETXTBSY.
  fs.rmSync(outPath, { force: true });
  fs.copyFileSync(process.execPath, outPath);
  fs.chmodSync(outPath, 0o755);
  injectBlob(outPath, blob);

  const mb = (fs.statSync(outPath).size / 1e6).toFixed(1);
  log(`${output} (${mb} MB, Node ${process.version}) in ${Date.now() - started} ms`);
  return outPath;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildAgent().catch((err) => {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}

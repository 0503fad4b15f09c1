// A throwaway PostgreSQL + PostGIS for tests: a cluster of its own in a temp dir on a free loopback
// port (never the machine's own server on 5432), or a fresh database on LOCUS_TEST_DATABASE_URL.
//
// initdb plus CREATE EXTENSION postgis take ~4 s, so a ready cluster (postgis in template1 and in
// a database `locus`, cleanly shut down) is built once per binary version and user, and kept in
// the temp dir as `locus-pg-template-…`; each start copies it (~0.3 s) and starts it (~0.5 s).

import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./hub-process.ts";

const run = promisify(execFile);

/** A database for one test file; `stop` removes it (and its server, when it started one). */
export interface TestPostgres {
  url: string;
  /** The server's main process (its backends are its children); absent for an external URL. */
  pid?: number;
  stop(): Promise<void>;
  /** A fresh, empty schema in this database, for one test: its URL sets search_path to it. */
  freshSchema(): Promise<TestSchema>;
}

export interface TestSchema {
  url: string;
  name: string;
  drop(): Promise<void>;
}

const MISSING =
  "install postgresql-15 and postgresql-15-postgis-3 (or set LOCUS_TEST_DATABASE_URL) to run these tests";
/** Every external step is bounded, so a broken installation fails the suite instead of hanging it. */
const STEP_TIMEOUT_MS = 60_000;
const START_TIMEOUT_S = 30;

export interface StartPostgresOptions {
  /**
   * Keep fsync and synchronous commit on, as in production (benchmarks). Default off: tests need
   * no durability and run faster without it.
   */
  durable?: boolean;
}

/**
 * Starts a PostgreSQL with PostGIS and returns the URL of an empty database in it. Without the
 * binaries it prints one SKIPPING line and returns null; under CI=true it throws instead.
 */
export async function startPostgres(
  options: StartPostgresOptions = {},
): Promise<TestPostgres | null> {
  const external = process.env.LOCUS_TEST_DATABASE_URL;
  if (external !== undefined && external !== "") return freshDatabaseOn(external);
  const binaries = findBinaries();
  if (binaries === null) {
    const line = `PostgreSQL or PostGIS not found: ${MISSING}`;
    if (process.env.CI === "true") throw new Error(line);
    console.warn(`SKIPPING: ${line}`);
    return null;
  }
  return startCluster(binaries, options.durable === true);
}

interface Binaries {
  bin: string;
  /** Runs a PostgreSQL program as the user that owns the cluster (initdb refuses root). */
  asOwner: (file: string, args: string[], input?: string) => Promise<string>;
  owner: { uid: number; gid: number } | null;
  /** Identifies the installation, so a cached template from other binaries is not reused. */
  key: string;
}

function findBinaries(): Binaries | null {
  const candidates = ["/usr/lib/postgresql/15/bin"];
  try {
    const versions = fs.readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // No Debian layout: only the PATH is left.
  }
  try {
    const initdb = execFileSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" }).trim();
    if (initdb !== "") candidates.push(path.dirname(initdb));
  } catch {
    // Not on the PATH either.
  }
  const bin = candidates.find((dir) =>
    ["initdb", "pg_ctl", "postgres", "pg_config"].every((p) => fs.existsSync(path.join(dir, p))),
  );
  if (bin === undefined) return null;
  const sharedir = execFileSync(path.join(bin, "pg_config"), ["--sharedir"], {
    encoding: "utf8",
  }).trim();
  const control = path.join(sharedir, "extension", "postgis.control");
  if (!fs.existsSync(control)) return null;

  const owner = ownerIds();
  const asOwner = async (file: string, args: string[], input?: string): Promise<string> => {
    const exe = path.join(bin, file);
    const [command, argv] =
      owner === null ? [exe, args] : ["runuser", ["-u", "postgres", "--", exe, ...args]];
    if (input === undefined) {
      const { stdout } = await run(command, argv, { timeout: STEP_TIMEOUT_MS, encoding: "utf8" });
      return stdout;
    }
    return execFileSync(command, argv, { input, timeout: STEP_TIMEOUT_MS, encoding: "utf8" });
  };
  const version = execFileSync(path.join(bin, "postgres"), ["--version"], { encoding: "utf8" });
  const key = createHash("sha256")
    .update(`${bin}\n${version}\n${fs.readFileSync(control, "utf8")}\n${process.getuid?.()}`)
    .digest("hex")
    .slice(0, 12);
  return { bin, asOwner, owner, key };
}

/** As root, the cluster belongs to the `postgres` system user; otherwise to whoever runs the tests. */
function ownerIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      "the tests run as root and there is no `postgres` user to run PostgreSQL as (initdb refuses root): create one, or run the tests as another user",
    );
  }
}

function chownTo(dir: string, owner: Binaries["owner"]): void {
  if (owner !== null) fs.chownSync(dir, owner.uid, owner.gid);
}

/** The cached ready-made cluster, built on first use. */
async function templateCluster(b: Binaries): Promise<string> {
  const cached = path.join(os.tmpdir(), `locus-pg-template-${b.key}`);
  if (fs.existsSync(path.join(cached, "PG_VERSION"))) return cached;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "locus-pg-build-"));
  chownTo(work, b.owner);
  const data = path.join(work, "data");
  try {
    await b.asOwner("initdb", [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ]);
    // Single-user mode needs no port. template1 gets PostGIS so every database made later has it.
    const single = ["--single", "-D", data, "-c", "fsync=off"];
    await b.asOwner("postgres", [...single, "template1"], "CREATE EXTENSION postgis;\n");
    await b.asOwner("postgres", [...single, "postgres"], "CREATE DATABASE locus;\n");
    try {
      fs.renameSync(data, cached);
    } catch (err) {
      // Another test file built it at the same time: use theirs.
      if (!fs.existsSync(path.join(cached, "PG_VERSION"))) throw err;
    }
    return cached;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface Running {
  dir: string;
  pid: number;
}

/** Servers this process started and has not stopped: stopped by PID if the process exits first. */
const running = new Set<Running>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const server of running) {
      try {
        process.kill(server.pid, "SIGQUIT");
      } catch {
        // Already gone.
      }
      fs.rmSync(server.dir, { recursive: true, force: true });
    }
  });
}

async function startCluster(b: Binaries, durable: boolean): Promise<TestPostgres> {
  const template = await templateCluster(b);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-pg-"));
  chownTo(dir, b.owner);
  const data = path.join(dir, "data");
  await run("cp", ["-a", template, data], { timeout: STEP_TIMEOUT_MS });
  const log = path.join(dir, "server.log");

  let port = 0;
  let started = false;
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    port = await freePort();
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses=127.0.0.1",
      "-c max_connections=200",
      ...(durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
    ].join(" ");
    try {
      await b.asOwner("pg_ctl", [
        "start",
        "-D",
        data,
        "-l",
        log,
        "-w",
        "-t",
        String(START_TIMEOUT_S),
        "-o",
        settings,
      ]);
      started = true;
    } catch (err) {
      // Most likely the port was taken between freePort and the bind: try another.
      if (attempt === 2) {
        const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-2000) : "";
        fs.rmSync(dir, { recursive: true, force: true });
        // The cached cluster may be what is broken: the next run builds it afresh.
        fs.rmSync(template, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${tail}`);
      }
    }
  }
  const pidLine = fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0];
  const server: Running = { dir, pid: Number(pidLine) };
  running.add(server);
  installExitHook();

  const url = `postgres://postgres@127.0.0.1:${port}/locus`;
  return {
    url,
    pid: server.pid,
    freshSchema: () => freshSchema(url),
    async stop() {
      if (!running.has(server)) return;
      running.delete(server);
      try {
        await b.asOwner("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w", "-t", "20"]);
      } catch {
        // pg_ctl could not stop it in time: end it by its PID, without a shutdown checkpoint.
        try {
          process.kill(server.pid, "SIGQUIT");
        } catch {
          // Already gone.
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** LOCUS_TEST_DATABASE_URL: a new database on that server, or a new schema when not allowed to. */
async function freshDatabaseOn(baseUrl: string): Promise<TestPostgres> {
  const name = `locus_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } catch (err) {
      if ((err as { code?: string }).code !== "42501") throw err;
      // No CREATEDB privilege: a schema of our own in the given database instead.
      const schema = await freshSchema(baseUrl, name);
      return { url: schema.url, stop: schema.drop, freshSchema: () => freshSchema(baseUrl) };
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(baseUrl, name);
  const db = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await db.connect();
  try {
    await db.query("CREATE EXTENSION IF NOT EXISTS postgis");
  } finally {
    await db.end();
  }
  return {
    url,
    freshSchema: () => freshSchema(url),
    async stop() {
      const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A new schema in the database at `url`, and a URL whose search_path starts with it. */
async function freshSchema(url: string, name?: string): Promise<TestSchema> {
  const schema = name ?? `t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  let postgisSchema: string;
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    const found = await client.query<{ nspname: string }>(
      `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
       WHERE e.extname = 'postgis'`,
    );
    postgisSchema = found.rows[0]?.nspname ?? "public";
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.searchParams.set("options", `-c search_path=${schema},${postgisSchema}`);
  return {
    url: u.toString(),
    name: schema,
    async drop() {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

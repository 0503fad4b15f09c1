// Production-mode measurements: point lookups through PostgisFenceIndex against MemoryFenceIndex
// on the engine benchmark's 10,000 fences, and fixes/s through PostgresStore.ingest (and, for
// reference, SqliteStore.ingest) in group commits of 1,000. A script, not a test:
//   npx tsx bench/postgis.ts [--fences N] [--points N] [--batch N] [--fixes N] [--json PATH]
// It starts its own PostgreSQL (fsync on, as in production) unless LOCUS_BENCH_DATABASE_URL names
// an empty database with PostGIS.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { buildEvent, type Fix } from "@locus/protocol";
import type { Fence } from "../hub/src/geofence/fence.ts";
import type { LonLat } from "../hub/src/geofence/fence-index.ts";
import { MemoryFenceIndex } from "../hub/src/geofence/memory-index.ts";
import { PostgisFenceIndex } from "../hub/src/geofence/postgis-index.ts";
import { type Decide, ingest } from "../hub/src/ingest/test-support.ts";
import { openPostgresStore } from "../hub/src/store/postgres.ts";
import { SqliteStore } from "../hub/src/store/sqlite.ts";
import type { Store } from "../hub/src/store/store.ts";
import { startPostgres } from "../tests/support/postgres.ts";
import { mulberry32 } from "../tests/support/random.ts";
import { boxFor, randomFence } from "./engine.ts";

interface Options {
  fences: number;
  points: number;
  batch: number;
  fixes: number;
}

interface LookupRate {
  variant: string;
  pointsPerSec: number;
  batchP50Ms: number;
  batchP99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs every batch of points through `covering`, returns points/s and per-batch latency. */
async function timeLookups(
  variant: string,
  covering: (points: readonly LonLat[]) => Promise<string[][]> | string[][],
  batches: readonly LonLat[][],
): Promise<LookupRate & { answers: string[][][] }> {
  await covering(batches[0] ?? []); // warm-up: plans, caches
  const times: number[] = [];
  const answers: string[][][] = [];
  const start = performance.now();
  for (const batch of batches) {
    const t = performance.now();
    answers.push(await covering(batch));
    times.push(performance.now() - t);
  }
  const seconds = (performance.now() - start) / 1000;
  const points = batches.reduce((n, b) => n + b.length, 0);
  times.sort((a, b) => a - b);
  return {
    variant,
    pointsPerSec: points / seconds,
    batchP50Ms: percentile(times, 50),
    batchP99Ms: percentile(times, 99),
    answers,
  };
}

/** Group commits of `batch` fixes from `vehicles` vehicles, each with a vehicle update and, every 20th fix, an event. */
async function timeIngest(store: Store, options: Options, vehicles: number) {
  const t0 = Date.parse("2026-11-24T20:00:00.000Z");
  // Each update names the state version it was judged from, as the hub's engine does (PostgreSQL
  // checks it at commit; SQLite ignores it).
  const versions = new Map<string, number>();
  const decide: Decide = (fresh) => {
    const last = new Map<string, Fix>();
    for (const f of fresh) last.set(f.vehicle_id, f);
    return {
      vehicles: [...last.values()].map((f) => {
        const base = versions.get(f.vehicle_id) ?? 0;
        versions.set(f.vehicle_id, base + 1);
        return {
          vehicle_id: f.vehicle_id,
          state: { last_ts: f.ts, inside: new Map() },
          last_fix: f,
          base_version: base,
        };
      }),
      events: fresh
        .filter((f) => (f.seq ?? 0) % 20 === 0)
        .map((f) => buildEvent({ type: "enter", geofence_id: "g" }, f, "g", f.ts + 3)),
    };
  };
  const commits = Math.ceil(options.fixes / options.batch);
  const times: number[] = [];
  let stored = 0;
  const start = performance.now();
  for (let c = 0; c < commits; c++) {
    const fixes: Fix[] = [];
    for (let i = 0; i < options.batch; i++) {
      const n = c * options.batch + i;
      fixes.push({
        vehicle_id: `truck-${n % vehicles}`,
        latitude: 52 + (n % 1000) / 1e4,
        longitude: 13 + (n % 997) / 1e4,
        ts: t0 + n * 10,
        ts_given: true,
        seq: n,
        speed: 13.5,
        accuracy: 5,
      });
    }
    const t = performance.now();
    stored += (await ingest(store, fixes, decide)).stored;
    times.push(performance.now() - t);
  }
  const seconds = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return {
    fixesPerSec: stored / seconds,
    commitP50Ms: percentile(times, 50),
    commitP99Ms: percentile(times, 99),
    stored,
  };
}

async function main(options: Options, json: string | undefined): Promise<void> {
  const external = process.env.LOCUS_BENCH_DATABASE_URL;
  const server = external ? null : await startPostgres({ durable: true });
  if (!external && server === null) throw new Error("PostgreSQL with PostGIS is needed");
  const url = external ?? (server?.url as string);
  const store = await openPostgresStore(url);
  try {
    const versions = await store.pool.query<{ pg: string; postgis: string; fsync: string }>(
      "SELECT version() AS pg, postgis_lib_version() AS postgis, current_setting('fsync') AS fsync",
    );
    const random = mulberry32(42);
    const box = boxFor(options.fences);
    const [west, south, east, north] = box;
    const fences: Fence[] = Array.from({ length: options.fences }, (_, i) =>
      randomFence(`f${String(i).padStart(6, "0")}`, box, random),
    );
    const points: LonLat[] = Array.from({ length: options.points }, () => [
      west + random() * (east - west),
      south + random() * (north - south),
    ]);
    const batches: LonLat[][] = [];
    for (let i = 0; i < points.length; i += options.batch) {
      batches.push(points.slice(i, i + options.batch));
    }

    // Loading: as the hub does it (one upsert per fence), then upserting them all again unchanged.
    const postgis = new PostgisFenceIndex(store.pool);
    let t = performance.now();
    for (const f of fences) await postgis.upsert(f);
    const loadPerSec = fences.length / ((performance.now() - t) / 1000);
    t = performance.now();
    for (const f of fences) await postgis.upsert(f);
    const unchangedUpsertPerSec = fences.length / ((performance.now() - t) / 1000);
    await store.pool.query("ANALYZE geofences");

    const memory = new MemoryFenceIndex();
    memory.load(fences);
    const lookups: LookupRate[] = [];
    const mem = await timeLookups("MemoryFenceIndex", (p) => memory.covering(p), batches);
    lookups.push(mem);
    const grown = await timeLookups(
      "PostGIS, GiST grown by inserts",
      (p) => postgis.covering(p),
      batches,
    );
    lookups.push(grown);
    await store.pool.query("REINDEX INDEX geofences_geom");
    const rebuilt = await timeLookups(
      "PostGIS, GiST rebuilt (buffering, fillfactor 10)",
      (p) => postgis.covering(p),
      batches,
    );
    lookups.push(rebuilt);
    await store.pool.query("DROP INDEX geofences_geom");
    await store.pool.query("CREATE INDEX geofences_geom ON geofences USING gist (geom)");
    const plain = await timeLookups(
      "PostGIS, GiST rebuilt with default options",
      (p) => postgis.covering(p),
      batches,
    );
    lookups.push(plain);
    await store.pool.query("DROP INDEX geofences_geom");
    await store.pool.query(
      "CREATE INDEX geofences_geom ON geofences USING gist (geom) WITH (buffering = on, fillfactor = 10)",
    );
    let mismatches = 0;
    for (const variant of [grown, rebuilt, plain]) {
      variant.answers.forEach((batch, b) => {
        batch.forEach((ids, i) => {
          if (ids.join() !== mem.answers[b]?.[i]?.join()) mismatches++;
        });
      });
    }

    const pgIngest = await timeIngest(store, options, 1000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-bench-sqlite-"));
    const sqlite = new SqliteStore(path.join(dir, "locus.db"));
    const sqliteIngest = await timeIngest(sqlite, options, 1000);
    await sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });

    const cpu = os.cpus()[0];
    const result = {
      machine: {
        cpu: cpu?.model ?? "unknown",
        cores: os.cpus().length,
        node: process.version,
        postgres: versions.rows[0]?.pg,
        postgis: versions.rows[0]?.postgis,
        fsync: versions.rows[0]?.fsync,
      },
      options,
      fenceLoadPerSec: loadPerSec,
      unchangedUpsertPerSec,
      lookups: lookups.map(({ variant, pointsPerSec, batchP50Ms, batchP99Ms }) => ({
        variant,
        pointsPerSec,
        batchP50Ms,
        batchP99Ms,
      })),
      lookupMismatches: mismatches,
      ingest: { postgres: pgIngest, sqlite: sqliteIngest },
    };
    printTable(result);
    if (json !== undefined) fs.writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
    if (mismatches > 0) process.exitCode = 1;
  } finally {
    await store.close();
    await server?.stop();
  }
}

function printTable(r: {
  machine: Record<string, unknown>;
  options: Options;
  fenceLoadPerSec: number;
  unchangedUpsertPerSec: number;
  lookups: LookupRate[];
  lookupMismatches: number;
  ingest: Record<string, { fixesPerSec: number; commitP50Ms: number; commitP99Ms: number }>;
}): void {
  const n = (v: number) => Math.round(v).toLocaleString("en-US");
  console.log(`machine: ${Object.values(r.machine).join(" | ")}`);
  console.log(
    `${r.options.fences} fences, ${r.options.points} points in batches of ${r.options.batch}, ${r.options.fixes} fixes in group commits of ${r.options.batch}`,
  );
  console.log(
    `fence upserts into PostGIS: ${n(r.fenceLoadPerSec)}/s new, ${n(r.unchangedUpsertPerSec)}/s unchanged`,
  );
  for (const l of r.lookups) {
    console.log(
      `lookups  ${l.variant.padEnd(50)} ${n(l.pointsPerSec).padStart(10)} points/s  batch p50 ${l.batchP50Ms.toFixed(1)} ms, p99 ${l.batchP99Ms.toFixed(1)} ms`,
    );
  }
  console.log(`lookup answers differing from MemoryFenceIndex: ${r.lookupMismatches}`);
  for (const [store, i] of Object.entries(r.ingest)) {
    console.log(
      `ingest   ${store.padEnd(50)} ${n(i.fixesPerSec).padStart(10)} fixes/s   commit p50 ${i.commitP50Ms.toFixed(1)} ms, p99 ${i.commitP99Ms.toFixed(1)} ms`,
    );
  }
}

const { values } = parseArgs({
  options: {
    fences: { type: "string", default: "10000" },
    points: { type: "string", default: "200000" },
    batch: { type: "string", default: "1000" },
    fixes: { type: "string", default: "100000" },
    json: { type: "string" },
  },
});
const options: Options = {
  fences: Number(values.fences),
  points: Number(values.points),
  batch: Number(values.batch),
  fixes: Number(values.fixes),
};
if (Object.values(options).some((v) => !Number.isInteger(v) || v <= 0)) {
  console.error("bench/postgis.ts: --fences, --points, --batch and --fixes take positive integers");
  process.exit(2);
}
await main(options, values.json);

// The hub's ingest path in one process, without a broker or sockets: location payloads go through
// the Receiver (decode), the group commit (IngestPipeline), the geofence engine and the SQLite
// store (fsync on, as by default), with a bounded number of messages awaiting their acknowledgement
// per vehicle, as over MQTT. What it costs per fix in CPU time is steadier than any wall-clock rate
// on a shared machine. `npx tsx bench/pipeline.ts [--fences N] [--vehicles N] [--window N]
// [--seconds S] [--synchronous full|normal]`.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pino from "pino";
import { GeofenceEngine } from "../hub/src/geofence/engine.ts";
import { DEFAULT_JUDGE_OPTIONS } from "../hub/src/geofence/membership.ts";
import { MemoryFenceIndex } from "../hub/src/geofence/memory-index.ts";
import { IngestPipeline } from "../hub/src/ingest/pipeline.ts";
import { Receiver } from "../hub/src/ingest/receiver.ts";
import { createMetrics } from "../hub/src/metrics.ts";
import { SqliteStore } from "../hub/src/store/sqlite.ts";
import { makeFences, seedSqlite } from "./harness/fences.ts";

export interface PipelineBenchOptions {
  fences: number;
  vehicles: number;
  /** Messages each vehicle keeps awaiting an acknowledgement. */
  window: number;
  seconds: number;
  synchronous: "full" | "normal";
}

export interface PipelineBenchResult {
  fixes: number;
  events: number;
  seconds: number;
  fixesPerSecond: number;
  /** Process CPU time (all threads) per fix, microseconds. */
  cpuUsPerFix: number;
  commits: number;
  meanCommitSize: number;
  /** Size of the WAL file at the end, MiB: stays bounded when checkpoints keep up. */
  walMiB: number;
}

export const DEFAULT_PIPELINE_BENCH_OPTIONS: PipelineBenchOptions = {
  fences: 10_000,
  vehicles: 100,
  window: 10,
  seconds: 5,
  synchronous: "full",
};

/** Runs the ingest path for `seconds` and reports its rate and CPU cost. */
export async function runPipelineBench(
  overrides: Partial<PipelineBenchOptions> = {},
): Promise<PipelineBenchResult> {
  const o = { ...DEFAULT_PIPELINE_BENCH_OPTIONS, ...overrides };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-bench-pipeline-"));
  const set = makeFences(o.fences);
  await seedSqlite(dir, set.fences);
  const file = path.join(dir, "locus.db");
  const store = new SqliteStore(file, { synchronous: o.synchronous });
  try {
    const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    await engine.load(await store.allGeofences(), await store.vehicleStates());
    const metrics = createMetrics({ outboxDepth: () => 0, connectedDevices: () => 0 });
    let events = 0;
    const pipeline = new IngestPipeline({
      store,
      engine,
      metrics,
      onEvents: (e) => {
        events += e.length;
      },
    });
    const receiver = new Receiver({
      pipeline,
      store,
      metrics,
      logger: pino({ level: "silent" }),
      maxPayloadBytes: 262_144,
    });

    const [west, south, east, north] = set.box;
    const random = (() => {
      let a = 12345;
      return () => {
        a = (a * 1103515245 + 12345) & 0x7fffffff;
        return a / 0x7fffffff;
      };
    })();
    const pos = Array.from({ length: o.vehicles }, () => ({
      x: west + random() * (east - west),
      y: south + random() * (north - south),
      seq: 0,
    }));
    let acked = 0;
    let stop = false;
    let inflight = 0;
    let idle: (() => void) | null = null;
    const tsBase = 1_800_000_000_000;
    const send = (v: number) => {
      const p = pos[v] as (typeof pos)[number];
      p.x = Math.min(east, Math.max(west, p.x + (random() - 0.5) * 6e-4));
      p.y = Math.min(north, Math.max(south, p.y + (random() - 0.5) * 4e-4));
      const seq = p.seq++;
      const payload = Buffer.from(
        `{"latitude":${p.y},"longitude":${p.x},"ts":${tsBase + seq * 1000},"seq":${seq}}`,
      );
      inflight++;
      receiver.receive(`locus/vehicles/bench-${v}/location`, payload, (err) => {
        if (err) throw err;
        inflight--;
        acked++;
        // The next message arrives in a later read, as over a socket.
        setImmediate(() => {
          if (!stop) send(v);
          else if (inflight === 0) idle?.();
        });
      });
    };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let v = 0; v < o.vehicles; v++) for (let i = 0; i < o.window; i++) send(v);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    stop = true;
    if (inflight > 0) await new Promise<void>((r) => (idle = r));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await pipeline.flush();
    const histogram = await metrics.groupCommitSize.get();
    const commits = histogram.values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    return {
      fixes: acked,
      events,
      seconds,
      fixesPerSecond: acked / seconds,
      cpuUsPerFix: (cpu.user + cpu.system) / acked,
      commits,
      meanCommitSize: commits > 0 ? acked / commits : 0,
      walMiB: fs.statSync(`${file}-wal`).size / 2 ** 20,
    };
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const invokedPath = process.argv[1];
if (
  invokedPath !== undefined &&
  import.meta.url === pathToFileURL(path.resolve(invokedPath)).href
) {
  const { values } = parseArgs({
    options: {
      fences: { type: "string" },
      vehicles: { type: "string" },
      window: { type: "string" },
      seconds: { type: "string" },
      synchronous: { type: "string" },
    },
  });
  const options: Partial<PipelineBenchOptions> = {};
  for (const key of ["fences", "vehicles", "window", "seconds"] as const) {
    if (values[key] !== undefined) options[key] = Number(values[key]);
  }
  if (values.synchronous === "normal" || values.synchronous === "full") {
    options.synchronous = values.synchronous;
  }
  console.log(await runPipelineBench(options));
}

// Scenario 9: several hubs sharing one fleet through the engine (docs/scaling.md): a throwaway
// three-node NATS JetStream cluster, a throwaway PostgreSQL (fsync and synchronous commit on) and
// 1, 2, then 3 hubs, each its devices' MQTT front (embedded broker), with the geofences judged in
// the hubs' memory. Every hub gets an equal share of the publishers; each fix is stored on the
// engine before its PUBACK and judged by its partition's owner, often another hub. On two cores
// the fixes per second cannot grow with hubs; what is measured is what a fix costs: CPU of the
// hubs together, of the engine's three nodes and of PostgreSQL per fix, and fixes per CPU-second
// of hubs and engine.

import fs from "node:fs";
import type { HubProcess } from "../../tests/support/hub-process.ts";
import { tempDir } from "../../tests/support/hub-process.ts";
import { NatsCluster } from "../../tests/support/nats-cluster.ts";
import {
  type BenchContext,
  fmt,
  median,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from "../harness/context.ts";
import { postFences } from "../harness/fences.ts";
import { committedFixes, hubMetrics, startBenchHub } from "../harness/hub.ts";
import { runLoad } from "../harness/load.ts";
import { processCpuSeconds, processTreeCpuSeconds } from "../harness/versions.ts";

const PARTITIONS = 64;
const HUB_COUNTS = [1, 2, 3] as const;

interface CountFigures {
  hubs: number;
  fixesPerSecond: number;
  runs: number[];
  /** CPU of every hub together per committed fix. */
  hubCpuUsPerFix: number;
  /** CPU of the three engine nodes together per committed fix. */
  engineCpuUsPerFix: number;
  /** CPU of PostgreSQL (server and backends) per committed fix. */
  databaseCpuUsPerFix: number;
  /** Committed fixes per CPU-second of hubs and engine together. */
  fixesPerCpuSecond: number;
  /** Partitions each hub held during the runs. */
  partitionsHeld: number[];
}

interface Reading {
  fixes: number;
  at: number;
  hubCpu: number;
  engineCpu: number;
  databaseCpu: number;
}

async function reading(
  hubs: HubProcess[],
  engine: NatsCluster,
  databasePid: number | undefined,
): Promise<Reading> {
  let fixes = 0;
  for (const hub of hubs) fixes += await committedFixes(hub);
  const cpu = (pids: number[]) =>
    pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? Number.NaN), 0);
  return {
    fixes,
    at: performance.now(),
    hubCpu: cpu(hubs.map((h) => h.child.pid as number)),
    engineCpu: cpu(engine.pids()),
    databaseCpu:
      databasePid === undefined ? Number.NaN : (processTreeCpuSeconds(databasePid) ?? Number.NaN),
  };
}

/** Waits until the hubs hold every partition between them, each some. */
async function shared(hubs: HubProcess[]): Promise<number[]> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const held: number[] = [];
    for (const hub of hubs) {
      held.push((await hubMetrics(hub)).get("locus_engine_partitions_held") ?? 0);
    }
    const total = held.reduce((a, b) => a + b, 0);
    if (total === PARTITIONS && held.every((n) => n > 0)) return held;
    if (performance.now() > deadline) {
      throw new Error(`the hubs hold ${held.join("+")} of ${PARTITIONS} partitions after 60 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function measureCount(
  ctx: BenchContext,
  count: number,
  databaseUrl: string,
  databasePid: number | undefined,
): Promise<CountFigures> {
  const engine = await NatsCluster.start();
  const dirs: string[] = [];
  const hubs: HubProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const dataDir = tempDir("locus-bench-cluster-");
      dirs.push(dataDir);
      hubs.push(
        await startBenchHub({
          dataDir,
          nodeArgs: ctx.hubNodeArgs(),
          env: {
            LOCUS_DATABASE_URL: databaseUrl,
            LOCUS_ENGINE_URL: engine.urls.join(","),
            LOCUS_ENGINE_PARTITIONS: String(PARTITIONS),
            LOCUS_MQTT_CLIENT_ID: `bench-hub-${i + 1}`,
          },
        }),
      );
    }
    await postFences(hubs[0] as HubProcess, ctx.fences().fences, 16);
    const partitionsHeld = await shared(hubs);
    const perHub = Math.max(1, Math.round(ctx.options.connections / count));
    const rates: number[] = [];
    const hubCpu: number[] = [];
    const engineCpu: number[] = [];
    const databaseCpu: number[] = [];
    for (let run = 0; run < ctx.options.runs; run++) {
      const before = await reading(hubs, engine, databasePid);
      // The window opens with the first load generator's and closes with the last one's.
      const window: { first?: Promise<Reading>; last?: Promise<Reading> } = {};
      let ended = 0;
      const results = await Promise.all(
        hubs.map((hub, i) =>
          runLoad(ctx.plan(hub.mqttUrl, `cl${count}r${run}h${i}-v`, { connections: perHub }), {
            onWindowStart: () => {
              window.first ??= reading(hubs, engine, databasePid);
            },
            onWindowEnd: () => {
              if (++ended === hubs.length) window.last = reading(hubs, engine, databasePid);
            },
          }),
        ),
      );
      for (const r of results) {
        if (r.errors.length > 0) throw new Error(`publishers: ${r.errors.join("; ")}`);
      }
      if (!window.first || !window.last) throw new Error("a measuring window never opened");
      const [start, end] = [await window.first, await window.last];
      const fixes = end.fixes - start.fixes;
      rates.push(fixes / ((end.at - start.at) / 1000));
      if (fixes > 0) {
        hubCpu.push(((end.hubCpu - start.hubCpu) / fixes) * 1e6);
        engineCpu.push(((end.engineCpu - start.engineCpu) / fixes) * 1e6);
        databaseCpu.push(((end.databaseCpu - start.databaseCpu) / fixes) * 1e6);
      }
      // Every acknowledged fix is on the engine; wait until the owners have committed it all.
      const acked = results.reduce((sum, r) => sum + r.acked, 0);
      const deadline = performance.now() + 120_000;
      let now = await reading(hubs, engine, databasePid);
      while (now.fixes - before.fixes < acked && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        now = await reading(hubs, engine, databasePid);
      }
      if (now.fixes - before.fixes < acked) {
        throw new Error(`${count} hubs committed ${now.fixes - before.fixes} of ${acked} fixes`);
      }
    }
    const hubUs = median(hubCpu);
    const engineUs = median(engineCpu);
    return {
      hubs: count,
      fixesPerSecond: median(rates),
      runs: rates,
      hubCpuUsPerFix: hubUs,
      engineCpuUsPerFix: engineUs,
      databaseCpuUsPerFix: median(databaseCpu),
      fixesPerCpuSecond: 1e6 / (hubUs + engineUs),
      partitionsHeld,
    };
  } finally {
    for (const hub of hubs) await hub.stop("SIGTERM");
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    await engine.stop();
  }
}

export const cluster: Scenario = {
  name: "cluster",
  title: "9. Several hubs through the engine (NATS JetStream + PostgreSQL)",
  async run(ctx): Promise<ScenarioOutcome> {
    const parameters = {
      hubs: HUB_COUNTS,
      engine: "3 nats-server 2.9 nodes with JetStream, streams R3, file storage",
      partitions: PARTITIONS,
      fences: ctx.options.fences,
      connections: `${ctx.options.connections} over the hubs, each to one hub`,
      window: ctx.options.window,
      durationMs: ctx.options.durationMs,
      runs: ctx.options.runs,
      postgres: "fsync on, synchronous_commit on; one fresh schema per hub count",
    };
    const { hasBinary } = await import("../../tests/support/binaries.ts");
    if (!hasBinary("nats-server")) {
      const reason = "nats-server is not installed (Debian package nats-server)";
      return { status: "not available", reason, parameters, figures: {}, rows: [] };
    }
    const { startPostgres } = await import("../../tests/support/postgres.ts");
    const pg = await startPostgres({ durable: true });
    if (pg === null) {
      const reason = "PostgreSQL with PostGIS is not installed";
      return { status: "not available", reason, parameters, figures: {}, rows: [] };
    }
    ctx.afterScenario(() => pg.stop());
    const figures: Record<string, unknown> = {};
    const rows: Row[] = [];
    for (const count of HUB_COUNTS) {
      const schema = await pg.freshSchema();
      try {
        const f = await measureCount(ctx, count, schema.url, pg.pid);
        figures[`hubs${count}`] = f;
        rows.push(
          {
            measure: `${count} hub${count > 1 ? "s" : ""}: fixes/s committed`,
            value: `${fmt.rate(f.fixesPerSecond)} (runs ${f.runs.map(fmt.int).join(", ")})`,
          },
          {
            measure: `${count} hub${count > 1 ? "s" : ""}: CPU per fix, hubs + engine (+ PostgreSQL)`,
            value: `${f.hubCpuUsPerFix.toFixed(1)} + ${f.engineCpuUsPerFix.toFixed(1)} µs (+ ${f.databaseCpuUsPerFix.toFixed(1)} µs); ${fmt.rate(f.fixesPerCpuSecond)} fixes per CPU-second of hubs and engine`,
          },
        );
      } finally {
        await schema.drop();
      }
    }
    return { parameters, figures, rows };
  },
};

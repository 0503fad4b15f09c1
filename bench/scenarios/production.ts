// Scenario 3: the hub in production mode, Mosquitto + PostgreSQL/PostGIS (throwaway ones on free
// ports, PostgreSQL with fsync and synchronous commit on), with geofences judged in the hub's
// memory and by PostGIS queries. Devices get their PUBACK from Mosquitto; the rate counted is
// fixes the hub committed, from its metrics. Geofences are created through the REST API.

import fs from "node:fs";
import mqtt from "mqtt";
import { tempDir } from "../../tests/support/hub-process.ts";
import { startBenchMosquitto } from "../harness/brokers.ts";
import {
  type BenchContext,
  fmt,
  median,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from "../harness/context.ts";
import { postFences } from "../harness/fences.ts";
import { committedFixes, startBenchHub } from "../harness/hub.ts";
import { runLoadWindow } from "../harness/load.ts";
import { processCpuSeconds } from "../harness/versions.ts";

type Mode = "memory" | "postgis";

interface ModeFigures {
  fixesPerSecond: number;
  runs: number[];
  /** Time the hub needed after the publishers stopped to commit what Mosquitto had queued. */
  catchUpSeconds: number[];
  hubCpuUsPerFix: number | null;
  eventsReceived: number;
}

const GOALS: Record<Mode, number> = { memory: 0.7, postgis: 0.5 };

async function productionAvailable(): Promise<string | null> {
  const hub = fs.readFileSync(new URL("../../hub/src/hub.ts", import.meta.url), "utf8");
  if (!hub.includes("databaseUrl") || /not available in this build/.test(hub)) {
    return "the hub does not support LOCUS_DATABASE_URL in this build";
  }
  if (!/ExternalBroker|mqttUrl/.test(hub) || /not supported in this build/.test(hub)) {
    return "the hub does not support LOCUS_MQTT_URL in this build";
  }
  return null;
}

async function measureMode(
  ctx: BenchContext,
  mode: Mode,
  brokerUrl: string,
  databaseUrl: string,
  postFencesFirst: boolean,
): Promise<{ figures: ModeFigures; fenceLoadPerSecond: number | null }> {
  const dataDir = tempDir("locus-bench-prod-");
  const hub = await startBenchHub({
    dataDir,
    nodeArgs: ctx.hubNodeArgs(),
    env: {
      LOCUS_MQTT_URL: brokerUrl,
      LOCUS_DATABASE_URL: databaseUrl,
      LOCUS_GEOFENCE_EVAL: mode,
      LOCUS_MQTT_CLIENT_ID: `locus-hub-bench-${mode}`,
    },
  });
  const subscriber = await mqtt.connectAsync(brokerUrl, {
    clientId: `bench-events-${mode}`,
    reconnectPeriod: 0,
  });
  try {
    let events = 0;
    subscriber.on("message", () => {
      events++;
    });
    await subscriber.subscribeAsync("locus/geofence/events", { qos: 1 });
    let fenceLoadPerSecond: number | null = null;
    if (postFencesFirst) {
      fenceLoadPerSecond = (await postFences(hub, ctx.fences().fences, 16)).perSecond;
    }
    const pid = hub.child.pid as number;
    const rates: number[] = [];
    const catchUp: number[] = [];
    const cpu: number[] = [];
    for (let run = 0; run < ctx.options.runs; run++) {
      const before = await committedFixes(hub);
      const reading = async () => ({
        fixes: await committedFixes(hub),
        at: performance.now(),
        cpu: processCpuSeconds(pid) ?? Number.NaN,
      });
      const { result, start, end } = await runLoadWindow(
        ctx.plan(brokerUrl, `prod-${mode}${run}-v`),
        reading,
      );
      const fixes = end.fixes - start.fixes;
      rates.push(fixes / ((end.at - start.at) / 1000));
      if (fixes > 0) cpu.push(((end.cpu - start.cpu) / fixes) * 1e6);
      // Mosquitto acknowledged everything; wait until the hub has committed it all.
      const deadline = performance.now() + 120_000;
      let committed = await committedFixes(hub);
      while (committed - before < result.acked && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        committed = await committedFixes(hub);
      }
      catchUp.push((performance.now() - end.at) / 1000);
      if (committed - before < result.acked) {
        throw new Error(
          `the hub committed ${committed - before} of ${result.acked} fixes within 120 s of the end`,
        );
      }
    }
    return {
      figures: {
        fixesPerSecond: median(rates),
        runs: rates,
        catchUpSeconds: catchUp,
        hubCpuUsPerFix: cpu.length > 0 ? median(cpu) : null,
        eventsReceived: events,
      },
      fenceLoadPerSecond,
    };
  } finally {
    await subscriber.endAsync(true);
    await hub.stop("SIGTERM");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export const production: Scenario = {
  name: "production",
  title: "3. Hub, production (Mosquitto + PostgreSQL/PostGIS)",
  async run(ctx): Promise<ScenarioOutcome> {
    const parameters = {
      fences: ctx.options.fences,
      fenceLoading:
        "POST /api/v1/geofences, 16 at a time, once (kept in PostgreSQL for both modes)",
      connections: ctx.options.connections,
      window: ctx.options.window,
      durationMs: ctx.options.durationMs,
      runs: ctx.options.runs,
      postgres: "fsync on, synchronous_commit on",
    };
    const missing = await productionAvailable();
    if (missing !== null) {
      return { status: "not available", reason: missing, parameters, figures: {}, rows: [] };
    }
    const { startPostgres } = await import("../../tests/support/postgres.ts");
    const pg = await startPostgres({ durable: true });
    if (pg === null) {
      const reason = "PostgreSQL with PostGIS is not installed";
      return { status: "not available", reason, parameters, figures: {}, rows: [] };
    }
    ctx.afterScenario(() => pg.stop());
    const mosquitto = await startBenchMosquitto();
    if ("unavailable" in mosquitto) {
      return {
        status: "not available",
        reason: mosquitto.unavailable,
        parameters,
        figures: {},
        rows: [],
      };
    }
    ctx.afterScenario(() => mosquitto.stop());

    const base = (ctx.results.get("baseline")?.figures.mosquitto as { messagesPerSecond?: number })
      ?.messagesPerSecond;
    const figures: Record<string, unknown> = {};
    const rows: Row[] = [];
    let first = true;
    for (const mode of ["memory", "postgis"] as const) {
      const { figures: f, fenceLoadPerSecond } = await measureMode(
        ctx,
        mode,
        mosquitto.url,
        pg.url,
        first,
      );
      if (fenceLoadPerSecond !== null) {
        figures.fenceLoadPerSecond = fenceLoadPerSecond;
        rows.push({
          measure: `${fmt.int(ctx.options.fences)} geofences created over REST`,
          value: fmt.rate(fenceLoadPerSecond),
        });
      }
      first = false;
      const ratio = base === undefined ? Number.NaN : f.fixesPerSecond / base;
      figures[mode] = { ...f, ratioToMosquitto: ratio };
      rows.push(
        {
          measure: `${mode}: fixes/s committed`,
          value: `${fmt.rate(f.fixesPerSecond)} (runs ${f.runs.map(fmt.int).join(", ")})`,
        },
        {
          measure: `${mode}: ratio to the Mosquitto baseline`,
          value: fmt.ratio(ratio),
          goal: `≥ ${GOALS[mode].toFixed(2)}`,
          ...(Number.isFinite(ratio) ? { verdict: ratio >= GOALS[mode] ? "PASS" : "MISS" } : {}),
        },
        {
          measure: `${mode}: hub CPU per fix; catch-up after the window`,
          value: `${f.hubCpuUsPerFix === null ? "n/a" : `${f.hubCpuUsPerFix.toFixed(1)} µs`}; ${f.catchUpSeconds.map(fmt.s).join(", ")}`,
        },
      );
    }
    return { parameters, figures, rows };
  },
};

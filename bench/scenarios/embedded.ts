// Scenario 2: the embedded hub (aedes + SQLite + in-memory index) with the geofences loaded. The
// same publishers as the baseline; each fix is acknowledged only once it is committed (fsynced)
// with its events, so the rate counted is fixes committed, read from the hub's own metrics.

import {
  type BenchContext,
  type EmbeddedHub,
  fmt,
  median,
  type Scenario,
  type ScenarioOutcome,
} from "../harness/context.ts";
import { committedFixes, hubMetrics } from "../harness/hub.ts";
import { runLoadWindow } from "../harness/load.ts";
import { processCpuSeconds } from "../harness/versions.ts";
import type { BaselineFigures } from "./baseline.ts";

export interface HubThroughput {
  /** Fixes committed per second during the window, median of the runs. */
  fixesPerSecond: number;
  runs: number[];
  ackP50Ms: number;
  ackP99Ms: number;
  /** Hub process CPU time per fix, µs (all its threads). */
  hubCpuUsPerFix: number | null;
  /** CPU time per fix of every process taking part, µs (medians); see BaselineFigures. */
  cpuUsPerMessage: { publishers: number; hub: number | null; subscriber: number };
  eventsPerSecond: number;
  /** Events published by the hub and events the subscriber got, over all runs. */
  eventsDetected: number;
  eventsReceived: number;
  meanCommitSize: number | null;
}

/** Events the hub has detected since it started (locus_events_total, every type). */
export async function detectedEvents(e: EmbeddedHub): Promise<number> {
  let detected = 0;
  for (const [k, v] of await hubMetrics(e.hub)) {
    if (k.startsWith("locus_events_total")) detected += v;
  }
  return detected;
}

/** Waits until the subscriber has every event the hub detected (or gives up after timeoutMs). */
export async function waitForEvents(e: EmbeddedHub, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const detected = await detectedEvents(e);
    if (e.events() >= detected || Date.now() > deadline) return detected;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function commitStats(e: EmbeddedHub): Promise<{ count: number; sum: number }> {
  const m = await hubMetrics(e.hub);
  return {
    count: m.get("locus_group_commit_fixes_count") ?? 0,
    sum: m.get("locus_group_commit_fixes_sum") ?? 0,
  };
}

export async function measureEmbedded(ctx: BenchContext, e: EmbeddedHub): Promise<HubThroughput> {
  const pid = e.hub.child.pid as number;
  const rates: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const cpu: number[] = [];
  const publisherCpu: number[] = [];
  const subscriberCpu: number[] = [];
  const eventRates: number[] = [];
  const eventsBefore = e.events();
  const detectedBefore = await detectedEvents(e);
  const commitsBefore = await commitStats(e);
  for (let run = 0; run < ctx.options.runs; run++) {
    const reading = async () => ({
      fixes: await committedFixes(e.hub),
      cpu: processCpuSeconds(pid) ?? Number.NaN,
      own: process.cpuUsage(),
      events: e.events(),
      at: performance.now(),
    });
    const { result, start, end } = await runLoadWindow(
      ctx.plan(e.hub.mqttUrl, e.vehiclePrefix("emb")),
      reading,
    );
    const seconds = (end.at - start.at) / 1000;
    const fixes = end.fixes - start.fixes;
    rates.push(fixes / seconds);
    eventRates.push((end.events - start.events) / seconds);
    p50.push(result.ackLatencyMs.p50);
    p99.push(result.ackLatencyMs.p99);
    if (fixes > 0) {
      cpu.push(((end.cpu - start.cpu) / fixes) * 1e6);
      // The harness's own CPU in the window: the event subscriber and the readings (µs).
      const own = end.own.user + end.own.system - (start.own.user + start.own.system);
      subscriberCpu.push(own / fixes);
    }
    if (result.acked > 0) publisherCpu.push((result.cpuSeconds / result.acked) * 1e6);
  }
  const detected = await waitForEvents(e);
  const commitsAfter = await commitStats(e);
  const commits = commitsAfter.count - commitsBefore.count;
  return {
    fixesPerSecond: median(rates),
    runs: rates,
    ackP50Ms: median(p50),
    ackP99Ms: median(p99),
    hubCpuUsPerFix: cpu.length > 0 ? median(cpu) : null,
    cpuUsPerMessage: {
      publishers: median(publisherCpu),
      hub: cpu.length > 0 ? median(cpu) : null,
      subscriber: median(subscriberCpu),
    },
    eventsPerSecond: median(eventRates),
    eventsDetected: detected - detectedBefore,
    eventsReceived: e.events() - eventsBefore,
    meanCommitSize: commits > 0 ? (commitsAfter.sum - commitsBefore.sum) / commits : null,
  };
}

/**
 * The throughput ratio the CPU times predict when every core is busy (throughput inversely
 * proportional to the CPU all processes spend per message): steadier than the ratio of rates
 * measured minutes apart on a shared machine.
 */
export function cpuBoundRatio(
  base: BaselineFigures["cpuUsPerMessage"],
  hub: { cpuUsPerMessage: HubThroughput["cpuUsPerMessage"] },
): number {
  const c = hub.cpuUsPerMessage;
  if (base.broker === null || c.hub === null) return Number.NaN;
  return (base.publishers + base.broker + base.subscriber) / (c.publishers + c.hub + c.subscriber);
}

export const embedded: Scenario = {
  name: "embedded",
  title: "2. Hub, embedded (aedes + SQLite + in-memory index)",
  async run(ctx): Promise<ScenarioOutcome> {
    const e = await ctx.embeddedHub();
    const f = await measureEmbedded(ctx, e);
    const aedes = ctx.results.get("baseline")?.figures.aedes as BaselineFigures | undefined;
    const ratio = aedes === undefined ? Number.NaN : f.fixesPerSecond / aedes.messagesPerSecond;
    const cpuRatio = aedes === undefined ? Number.NaN : cpuBoundRatio(aedes.cpuUsPerMessage, f);
    return {
      parameters: {
        fences: e.fences.fences.length,
        fenceLoading:
          "written into the hub's SQLite file through SqliteStore before the hub starts; the hub loads them into its index at start",
        connections: ctx.options.connections,
        window: ctx.options.window,
        durationMs: ctx.options.durationMs,
        runs: ctx.options.runs,
        synchronous: "full (default): each commit fsynced before its PUBACKs",
      },
      figures: { ...f, ratioToAedes: ratio, cpuBoundRatioToAedes: cpuRatio },
      rows: [
        {
          measure: "fixes/s committed (stored, judged, events in outbox)",
          value: `${fmt.rate(f.fixesPerSecond)} (runs ${f.runs.map(fmt.int).join(", ")})`,
        },
        {
          measure: "ratio to the aedes baseline",
          value: fmt.ratio(ratio),
          goal: "≥ 0.80",
          ...(Number.isFinite(ratio) ? { verdict: ratio >= 0.8 ? "PASS" : "MISS" } : {}),
        },
        {
          measure: "ratio from CPU time per message (all processes)",
          value: fmt.ratio(cpuRatio),
        },
        { measure: "PUBACK p50 / p99", value: `${fmt.ms(f.ackP50Ms)} / ${fmt.ms(f.ackP99Ms)}` },
        {
          measure: "CPU per fix: publishers / hub / event subscriber",
          value: `${f.cpuUsPerMessage.publishers.toFixed(1)} / ${f.hubCpuUsPerFix === null ? "n/a" : f.hubCpuUsPerFix.toFixed(1)} / ${f.cpuUsPerMessage.subscriber.toFixed(1)} µs`,
        },
        {
          measure: "events published / received",
          value: `${fmt.int(f.eventsDetected)} / ${fmt.int(f.eventsReceived)} (${fmt.rate(f.eventsPerSecond)})`,
        },
        {
          measure: "mean group commit",
          value: f.meanCommitSize === null ? "n/a" : `${f.meanCommitSize.toFixed(0)} fixes`,
        },
      ],
    };
  },
};

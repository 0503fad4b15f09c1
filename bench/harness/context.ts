// What every scenario gets (the options of the run, the results so far, shared fixtures) and what
// it gives back (figures for the JSON report, rows for the table).

import fs from "node:fs";
import mqtt from "mqtt";
import type { HubProcess } from "../../tests/support/hub-process.ts";
import { tempDir } from "../../tests/support/hub-process.ts";
import { type FenceSet, makeFences, seedSqlite } from "./fences.ts";
import { startBenchHub } from "./hub.ts";
import type { LoadPlan } from "./load-plan.ts";

export interface BenchOptions {
  quick: boolean;
  /** Scenario names to run; empty: all. */
  only: string[];
  /** Measuring window of each throughput run, ms. */
  durationMs: number;
  warmupMs: number;
  /** Runs per throughput figure; the median is reported. */
  runs: number;
  /** Publisher connections (one vehicle each) and QoS 1 window per connection. */
  connections: number;
  window: number;
  /** Geofences loaded in the hub scenarios. */
  fences: number;
  /** Fixes in the agent's buffer for the backlog drain. */
  backlogFixes: number;
  /** Measuring window of the latency scenario, ms. */
  latencyMs: number;
  /** Offered rate of the latency scenario when the embedded throughput was not measured. */
  latencyRate: number;
  /** Simulated fleet sizes. */
  simulatorVehicles: number[];
  simulatorSeconds: number;
  engine: { fences: number; points: number; runs: number };
  /** Events delivered in the webhook scenario (to one, then to four webhooks). */
  webhookEvents: number;
  /** Where the hubs write CPU profiles (node --cpu-prof), if set. */
  profileDir?: string;
}

/** One line of the on-screen table. */
export interface Row {
  measure: string;
  value: string;
  /** The goal this figure is held to, and whether it was met. */
  goal?: string;
  verdict?: "PASS" | "MISS";
}

export interface ScenarioResult {
  name: string;
  title: string;
  status: "ok" | "not available" | "failed";
  /** Why it is not available or failed. */
  reason?: string;
  parameters: Record<string, unknown>;
  figures: Record<string, unknown>;
  rows: Row[];
  seconds: number;
}

export type ScenarioOutcome = Omit<ScenarioResult, "name" | "title" | "seconds" | "status"> & {
  status?: ScenarioResult["status"];
};

export interface Scenario {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioOutcome>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid] as number;
  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export const fmt = {
  rate: (n: number) => (Number.isFinite(n) ? `${Math.round(n).toLocaleString("en-US")} /s` : "n/a"),
  ms: (n: number) => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms` : "n/a"),
  s: (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} s` : "n/a"),
  ratio: (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} ×` : "n/a"),
  int: (n: number) => Math.round(n).toLocaleString("en-US"),
};

/** A running embedded hub with the benchmark's geofences, shared by the scenarios that need one. */
export interface EmbeddedHub {
  hub: HubProcess;
  fences: FenceSet;
  /** Events received on locus/geofence/events since the hub started. */
  events(): number;
  /** Calls `listener` for each event payload from now on; returns a function that stops it. */
  onEvent(listener: (payload: Buffer) => void): () => void;
  /** A fresh vehicle id prefix, so runs never share vehicles. */
  vehiclePrefix(label: string): string;
}

/** Runs each cleanup in turn; one that fails is reported and the rest still run. */
async function runAll(cleanups: readonly (() => Promise<void>)[]): Promise<void> {
  for (const fn of cleanups) {
    await fn().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  }
}

export class BenchContext {
  readonly options: BenchOptions;
  readonly results = new Map<string, ScenarioResult>();
  #embedded: Promise<EmbeddedHub> | null = null;
  #cleanups: (() => Promise<void>)[] = [];
  #scenarioCleanups: (() => Promise<void>)[] = [];
  #fenceSets = new Map<number, FenceSet>();

  constructor(options: BenchOptions) {
    this.options = options;
  }

  /** The benchmark's geofences (seeded, so every run gets the same ones). */
  fences(count = this.options.fences): FenceSet {
    let set = this.#fenceSets.get(count);
    if (set === undefined) {
      set = makeFences(count);
      this.#fenceSets.set(count, set);
    }
    return set;
  }

  /** A load plan with the run's defaults: many vehicles walking among the geofences. */
  plan(url: string, vehiclePrefix: string, overrides: Partial<LoadPlan> = {}): LoadPlan {
    return {
      url,
      connections: this.options.connections,
      window: this.options.window,
      warmupMs: this.options.warmupMs,
      durationMs: this.options.durationMs,
      rate: 0,
      vehiclePrefix,
      tsBase: Date.parse("2026-01-01T00:00:00Z"),
      track: { kind: "walk", box: this.fences().box, seed: 1 },
      recordSends: false,
      drainTimeoutMs: 60_000,
      ...overrides,
    };
  }

  /** The embedded hub (aedes + SQLite + in-memory index) with the geofences, started once. */
  embeddedHub(): Promise<EmbeddedHub> {
    this.#embedded ??= this.#startEmbedded();
    return this.#embedded;
  }

  /** Node flags for every hub started: a CPU profile each when --profile is given. */
  hubNodeArgs(): string[] {
    const dir = this.options.profileDir;
    return dir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`];
  }

  /** When the shared embedded hub is no longer running: how it ended and its last output. */
  async hubDiagnosis(): Promise<string | null> {
    const e = await this.#embedded?.catch(() => null);
    if (!e) return null;
    const child = e.hub.child;
    if (child.exitCode === null && child.signalCode === null) return null;
    return `the embedded hub exited (${child.exitCode ?? child.signalCode}); its last output:\n${e.hub.output().slice(-3000)}`;
  }

  /** Runs `fn` when the benchmark ends (reverse order): for what later scenarios share. */
  atEnd(fn: () => Promise<void>): void {
    this.#cleanups.push(fn);
  }

  /**
   * Runs `fn` when the current scenario ends (reverse order): a scenario's own brokers and
   * databases must not go on running (a PostgreSQL checkpointing what it was sent, say) while
   * later scenarios measure.
   */
  afterScenario(fn: () => Promise<void>): void {
    this.#scenarioCleanups.push(fn);
  }

  /** Ends what the scenario that just ran started for itself. */
  async endScenario(): Promise<void> {
    await runAll(this.#scenarioCleanups.reverse());
    this.#scenarioCleanups = [];
  }

  async close(): Promise<void> {
    await this.endScenario();
    await runAll(this.#cleanups.reverse());
    this.#cleanups = [];
  }

  async #startEmbedded(): Promise<EmbeddedHub> {
    const set = this.fences();
    const dataDir = tempDir("locus-bench-hub-");
    await seedSqlite(dataDir, set.fences);
    const hub = await startBenchHub({ dataDir, nodeArgs: this.hubNodeArgs() });
    this.atEnd(async () => {
      await hub.stop("SIGTERM");
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const subscriber = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: "bench-events",
      reconnectPeriod: 0,
    });
    this.atEnd(async () => {
      await subscriber.endAsync(true);
    });
    let events = 0;
    const listeners = new Set<(payload: Buffer) => void>();
    subscriber.on("message", (_topic, payload) => {
      events++;
      for (const l of listeners) l(payload);
    });
    await subscriber.subscribeAsync("locus/geofence/events", { qos: 1 });
    let prefixes = 0;
    return {
      hub,
      fences: set,
      events: () => events,
      onEvent(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      vehiclePrefix: (label) => `${label}${prefixes++}-v`,
    };
  }
}

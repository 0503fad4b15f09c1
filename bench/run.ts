// `npm run bench`: Locus against the physical limit, side by side, in one run on this machine.
// Each scenario is bounded in time; the table goes to the screen and every figure, parameter and
// the machine (cores, CPU, memory, load, versions) to a JSON report in bench/results/.
//
//   npm run bench                       everything, full size (a few minutes)
//   npm run bench -- --quick            every scenario for about a second, tiny sizes
//   npm run bench -- --only baseline,embedded --duration 10 --runs 5
//
// See docs/benchmarks.md for what each scenario measures.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  BenchContext,
  type BenchOptions,
  type Row,
  type Scenario,
  type ScenarioResult,
} from "./harness/context.ts";
import { type MachineInfo, machineInfo } from "./harness/versions.ts";
import { backlog } from "./scenarios/backlog.ts";
import { baseline } from "./scenarios/baseline.ts";
import { cluster } from "./scenarios/cluster.ts";
import { embedded } from "./scenarios/embedded.ts";
import { engine } from "./scenarios/engine.ts";
import { identity } from "./scenarios/identity.ts";
import { latency } from "./scenarios/latency.ts";
import { production } from "./scenarios/production.ts";
import { simulator } from "./scenarios/simulator.ts";
import { webhooks } from "./scenarios/webhooks.ts";

/** In report order; each needs the figures of the ones before it for its ratio. */
export const SCENARIOS: readonly Scenario[] = [
  baseline,
  embedded,
  identity,
  production,
  latency,
  backlog,
  simulator,
  engine,
  webhooks,
  cluster,
];

export interface BenchReport {
  startedAt: string;
  seconds: number;
  command: string;
  machine: MachineInfo;
  options: BenchOptions;
  scenarios: ScenarioResult[];
}

const FULL: Omit<BenchOptions, "quick" | "only"> = {
  durationMs: 5000,
  warmupMs: 1500,
  runs: 3,
  connections: 100,
  window: 10,
  fences: 10_000,
  backlogFixes: 86_400,
  latencyMs: 10_000,
  latencyRate: 5000,
  simulatorVehicles: [1000, 10_000],
  simulatorSeconds: 10,
  engine: { fences: 10_000, points: 500_000, runs: 3 },
  webhookEvents: 5000,
};

const QUICK: Omit<BenchOptions, "quick" | "only"> = {
  durationMs: 1000,
  warmupMs: 300,
  runs: 1,
  connections: 10,
  window: 4,
  fences: 200,
  backlogFixes: 2000,
  latencyMs: 1000,
  latencyRate: 200,
  simulatorVehicles: [100],
  simulatorSeconds: 1,
  engine: { fences: 200, points: 5000, runs: 1 },
  webhookEvents: 500,
};

const USAGE = `usage: npm run bench -- [--quick] [--only NAME[,NAME…]] [--duration S] [--runs N]
       [--connections N] [--window N] [--fences N] [--backlog N] [--latency-duration S]
       [--latency-rate N] [--json PATH] [--profile DIR]
scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`;

class UsageError extends Error {}

function positive(name: string, raw: string | undefined, integer = true): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(
      `--${name} needs a positive ${integer ? "whole " : ""}number, not "${raw}"`,
    );
  }
  return value;
}

/** Reads the flags into options; throws UsageError on a bad one. */
export function readOptions(args: string[]): { options: BenchOptions; json?: string } {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      duration: { type: "string" },
      runs: { type: "string" },
      connections: { type: "string" },
      window: { type: "string" },
      fences: { type: "string" },
      backlog: { type: "string" },
      "latency-duration": { type: "string" },
      "latency-rate": { type: "string" },
      json: { type: "string" },
      profile: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  const defaults = values.quick ? QUICK : FULL;
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((v) => v.trim());
  for (const name of only) {
    if (!SCENARIOS.some((s) => s.name === name)) {
      throw new UsageError(`--only: no scenario "${name}"`);
    }
  }
  const seconds = positive("duration", values.duration, false);
  const latencySeconds = positive("latency-duration", values["latency-duration"], false);
  const options: BenchOptions = {
    ...defaults,
    quick: values.quick,
    only: only.filter((v) => v !== ""),
    durationMs: seconds === undefined ? defaults.durationMs : seconds * 1000,
    runs: positive("runs", values.runs) ?? defaults.runs,
    connections: positive("connections", values.connections) ?? defaults.connections,
    window: positive("window", values.window) ?? defaults.window,
    fences: positive("fences", values.fences) ?? defaults.fences,
    backlogFixes: positive("backlog", values.backlog) ?? defaults.backlogFixes,
    latencyMs: latencySeconds === undefined ? defaults.latencyMs : latencySeconds * 1000,
    latencyRate: positive("latency-rate", values["latency-rate"]) ?? defaults.latencyRate,
  };
  if (values.profile !== undefined) {
    options.profileDir = path.resolve(values.profile);
    fs.mkdirSync(options.profileDir, { recursive: true });
  }
  return values.json === undefined ? { options } : { options, json: values.json };
}

/** Rejects when `work` takes longer than `ms`: a scenario whose broker died must not hang. */
function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish in ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Runs the selected scenarios in order; a scenario that throws is reported as failed. */
export async function runBench(
  options: BenchOptions,
  log: (line: string) => void = (line) => console.log(line),
): Promise<BenchReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const ctx = new BenchContext(options);
  const selected = SCENARIOS.filter(
    (s) => options.only.length === 0 || options.only.includes(s.name),
  );
  try {
    for (const scenario of selected) {
      log(`… ${scenario.title}`);
      const started = performance.now();
      let result: ScenarioResult;
      try {
        const outcome = await withinTime(scenario.run(ctx), options.quick ? 180_000 : 900_000);
        result = {
          name: scenario.name,
          title: scenario.title,
          status: outcome.status ?? "ok",
          ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
          parameters: outcome.parameters,
          figures: outcome.figures,
          rows: outcome.rows,
          seconds: (performance.now() - started) / 1000,
        };
      } catch (err) {
        const diagnosis = await ctx.hubDiagnosis();
        const reason = err instanceof Error ? err.message : String(err);
        result = {
          name: scenario.name,
          title: scenario.title,
          status: "failed",
          reason: diagnosis === null ? reason : `${reason}; ${diagnosis}`,
          parameters: {},
          figures: {},
          rows: [],
          seconds: (performance.now() - started) / 1000,
        };
      }
      await ctx.endScenario();
      ctx.results.set(scenario.name, result);
      log(
        `  ${result.status} in ${result.seconds.toFixed(1)} s${result.reason ? `: ${result.reason}` : ""}`,
      );
    }
  } finally {
    await ctx.close();
  }
  machine.loadAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  return {
    startedAt: startedAt.toISOString(),
    seconds: (performance.now() - t0) / 1000,
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine,
    options,
    scenarios: [...ctx.results.values()],
  };
}

/** The report as a text table: scenario, measure, value, goal, verdict. */
export function formatTable(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, node ${m.node}`,
    `versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `load average (1/5/15 min): ${m.loadAtStart.join(" ")} at start, ${m.loadAtEnd?.join(" ") ?? "?"} at end`,
    "",
  ];
  const table: string[][] = [["measure", "value", "goal", ""]];
  for (const s of report.scenarios) {
    table.push([`${s.title}`, s.status === "ok" ? "" : `${s.status}: ${s.reason ?? ""}`, "", ""]);
    for (const r of s.rows as Row[]) {
      table.push([`  ${r.measure}`, r.value, r.goal ?? "", r.verdict ?? ""]);
    }
  }
  const widths = [0, 1, 2, 3].map((c) => Math.max(...table.map((row) => (row[c] ?? "").length)));
  for (const [i, row] of table.entries()) {
    lines.push(
      row
        .map((cell, c) => cell.padEnd(c === 3 ? 0 : (widths[c] as number)))
        .join("  ")
        .trimEnd(),
    );
    if (i === 0) lines.push(widths.map((w) => "-".repeat(w)).join("  "));
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof readOptions>;
  try {
    parsed = readOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) console.error(`npm run bench: ${err.message}`);
    console.error(USAGE);
    process.exit(err.message ? 2 : 0);
  }
  const report = await runBench(parsed.options);
  console.log(`\n${formatTable(report)}\n`);
  const file =
    parsed.json ??
    path.join(
      import.meta.dirname,
      "results",
      `bench-${report.startedAt.replaceAll(":", "-")}${parsed.options.quick ? "-quick" : ""}.json`,
    );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${path.relative(process.cwd(), file)}`);
  // Everything this run started is stopped by now; a client left hanging by a failed scenario
  // must not keep the process alive.
  process.exit(report.scenarios.some((s) => s.status === "failed") ? 1 : 0);
}

const invoked = process.argv[1];
if (invoked !== undefined && import.meta.url === pathToFileURL(path.resolve(invoked)).href) {
  await main();
}

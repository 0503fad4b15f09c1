// `npm run bench:engines`: NATS JetStream against RabbitMQ as the engine several hubs would share,
// on throwaway 3-node clusters of each (see docs/scaling.md). Each measure is bounded in time;
// the table goes to the screen, every figure and the machine to bench/results/engines-*.json.
//
//   npm run bench:engines                          both engines, every measure, 3 runs each
//   npm run bench:engines -- --quick               one short run of each measure
//   npm run bench:engines -- --only nats --runs 5

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { rssBytes } from "../../tests/support/node-process.ts";
import { machineInfo } from "../harness/versions.ts";
import type { Engine } from "./engine.ts";
import { type FailoverResult, failoverScenario } from "./failover.ts";
import { NatsEngine } from "./nats-engine.ts";
import { RabbitEngine } from "./rabbit-engine.ts";
import {
  type CrashResult,
  crashScenario,
  type MqttCrashResult,
  type MqttQuorumLossResult,
  mqttCrashScenario,
  mqttQuorumLossScenario,
  type ThroughputResult,
  throughputScenario,
} from "./scenarios.ts";

const ENGINES: Record<string, () => Promise<Engine>> = {
  nats: () => NatsEngine.start(),
  rabbitmq: () => RabbitEngine.start(),
};

interface EngineReport {
  engine: string;
  startMs: number;
  idleRssMiB: number[];
  throughput: ThroughputResult[];
  crash: CrashResult[];
  mqttCrash: MqttCrashResult[];
  mqttQuorumLoss: MqttQuorumLossResult[];
  failover: FailoverResult[];
  errors: string[];
}

function sizes(quick: boolean) {
  return {
    partitions: 8,
    vehicles: 200,
    throughputFixes: quick ? 5000 : 30_000,
    window: 200,
    crashRate: 500,
    crashSeconds: quick ? 6 : 12,
    mqttFixes: quick ? 1500 : 5000,
    failoverSeconds: quick ? 14 : 20,
    leaseMs: 4000,
  };
}

async function measure(name: string, runs: number, quick: boolean): Promise<EngineReport> {
  const size = sizes(quick);
  const t0 = Date.now();
  const engine = await (ENGINES[name] as () => Promise<Engine>)();
  const report: EngineReport = {
    engine: name,
    startMs: Date.now() - t0,
    idleRssMiB: engine.pids().map((pid) => Math.round(rssBytes(pid) / 1048576)),
    throughput: [],
    crash: [],
    mqttCrash: [],
    mqttQuorumLoss: [],
    failover: [],
    errors: [],
  };
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      console.error(`${name}: ${what}`);
      await work();
    } catch (err) {
      report.errors.push(`${what}: ${(err as Error).message.split("\n")[0]}`);
    }
  };
  try {
    for (let run = 0; run < runs; run++) {
      await attempt(`throughput ${run + 1}`, async () => {
        report.throughput.push(
          await throughputScenario(engine, {
            partitions: size.partitions,
            vehicles: size.vehicles,
            messages: size.throughputFixes,
            window: size.window,
          }),
        );
      });
    }
    for (let run = 0; run < runs; run++) {
      await attempt(`failover ${run + 1}`, async () => {
        report.failover.push(
          await failoverScenario(engine, {
            partitions: size.partitions,
            vehicles: size.vehicles,
            rate: size.crashRate,
            seconds: size.failoverSeconds,
            window: size.window,
            killAfterSeconds: 6,
            leaseMs: size.leaseMs,
          }),
        );
      });
    }
    for (let run = 0; run < runs; run++) {
      await attempt(`node crash ${run + 1}`, async () => {
        report.crash.push(
          await crashScenario(engine, {
            partitions: size.partitions,
            vehicles: size.vehicles,
            rate: size.crashRate,
            seconds: size.crashSeconds,
            window: size.window,
            killAt: 0.3,
            restartAfterMs: 3000,
          }),
        );
      });
    }
    for (let run = 0; run < runs; run++) {
      await attempt(`MQTT crash ${run + 1}`, async () => {
        report.mqttCrash.push(
          await mqttCrashScenario(engine, { messages: size.mqttFixes, window: 500, vehicles: 50 }),
        );
      });
    }
    await attempt("MQTT without majority", async () => {
      report.mqttQuorumLoss.push(
        await mqttQuorumLossScenario(engine, { messages: 200, waitMs: 5000 }),
      );
    });
  } finally {
    await engine.stop();
  }
  return report;
}

/** "median (min–max)" of a figure over the runs. */
function spread(values: number[], unit = ""): string {
  if (values.length === 0) return "—";
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as number;
  const first = sorted[0] as number;
  const last = sorted[sorted.length - 1] as number;
  return sorted.length === 1 ? `${median}${unit}` : `${median}${unit} (${first}–${last})`;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export function formatEngineTable(reports: EngineReport[]): string {
  const rows: Array<[string, ...string[]]> = [["measure", ...reports.map((r) => r.engine)]];
  const add = (measure: string, cell: (r: EngineReport) => string) =>
    rows.push([measure, ...reports.map(cell)]);
  add("cluster start, ms", (r) => String(r.startMs));
  add("memory per node idle, MiB", (r) => r.idleRssMiB.join(" / "));
  add("throughput, fixes/s", (r) => spread(r.throughput.map((t) => t.perSecond)));
  add("engine CPU per fix, µs", (r) => spread(r.throughput.map((t) => t.engineCpuMicrosPerFix)));
  add("client CPU per fix, µs", (r) => spread(r.throughput.map((t) => t.clientCpuMicrosPerFix)));
  add("memory per node after load, MiB", (r) => r.throughput.at(-1)?.nodeRssMiB.join(" / ") ?? "—");
  add(
    "node crash: acked fixes lost",
    (r) => `${sum(r.crash.map((c) => c.lost))} of ${sum(r.crash.map((c) => c.acked))}`,
  );
  add("node crash: first ack after kill, ms", (r) => spread(r.crash.map((c) => c.publishPauseMs)));
  add("node crash: longest ack gap, ms", (r) => spread(r.crash.map((c) => c.maxAckGapMs)));
  add("node crash: first new delivery, ms", (r) => spread(r.crash.map((c) => c.consumePauseMs)));
  add("node crash: duplicates", (r) => spread(r.crash.map((c) => c.duplicates)));
  add("node crash: order violations", (r) => String(sum(r.crash.map((c) => c.orderViolations))));
  add("node restart until serving, ms", (r) => spread(r.crash.map((c) => c.restartMs)));
  add(
    "MQTT crash: PUBACKed fixes lost",
    (r) => `${sum(r.mqttCrash.map((c) => c.lost))} of ${sum(r.mqttCrash.map((c) => c.pubacked))}`,
  );
  add("MQTT crash: duplicates stored", (r) => spread(r.mqttCrash.map((c) => c.duplicates)));
  add(
    "MQTT, no majority: PUBACKs",
    (r) =>
      r.mqttQuorumLoss.map((q) => `${q.pubackedWithoutMajority} of ${q.sent}`).join(", ") || "—",
  );
  add("consumer kill: failover, ms", (r) => spread(r.failover.map((f) => f.failoverMs)));
  add("consumer kill: partitions moved", (r) => spread(r.failover.map((f) => f.orphaned)));
  add(
    "consumer kill: acked fixes lost",
    (r) => `${sum(r.failover.map((f) => f.lost))} of ${sum(r.failover.map((f) => f.acked))}`,
  );
  add("consumer kill: duplicates", (r) => spread(r.failover.map((f) => f.duplicates)));
  add("consumer kill: order violations", (r) =>
    String(sum(r.failover.map((f) => f.orderViolations))),
  );
  add("consumer kill: two owners at once", (r) =>
    String(sum(r.failover.map((f) => f.foreignDeliveries))),
  );
  add("errors", (r) => String(r.errors.length));
  const widths = (rows[0] ?? []).map((_, c) =>
    Math.max(...rows.map((row) => (row[c] ?? "").length)),
  );
  return rows
    .map((row, i) => {
      const line = row
        .map((cell, c) => cell.padEnd(widths[c] as number))
        .join("  ")
        .trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      only: { type: "string" },
      json: { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const runs = Number(values.runs ?? (quick ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error("--runs takes 1..20");
  const names = values.only ? values.only.split(",") : Object.keys(ENGINES);
  for (const name of names) {
    if (!ENGINES[name])
      throw new Error(`--only takes ${Object.keys(ENGINES).join(", ")}; got ${name}`);
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const reports: EngineReport[] = [];
  for (const name of names) reports.push(await measure(name, runs, quick));
  machine.loadAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const report = {
    startedAt,
    command: `npm run bench:engines -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine,
    runs,
    quick,
    sizes: sizes(quick),
    engines: reports,
  };
  console.log(`\nmachine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}`);
  console.log(
    `load average at start / end: ${machine.loadAtStart.join(" ")} / ${machine.loadAtEnd.join(" ")}\n`,
  );
  console.log(formatEngineTable(reports));
  for (const r of reports) for (const e of r.errors) console.log(`${r.engine} error: ${e}`);
  const file =
    values.json ??
    path.join(
      import.meta.dirname,
      "..",
      "results",
      `engines-${startedAt.replaceAll(":", "-")}${quick ? "-quick" : ""}.json`,
    );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nreport: ${path.relative(process.cwd(), file)}`);
  process.exit(reports.some((r) => r.errors.length > 0) ? 1 : 0);
}

await main();

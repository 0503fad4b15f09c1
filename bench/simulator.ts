// Simulator benchmark: what a fleet of N real agents at 1 Hz costs the process that runs them.
// For each size, a throwaway Mosquitto (or the embedded hub) on a free port and a fresh simulator
// process, so CPU (process.cpuUsage) and RSS are that fleet's alone; measured after the ramp and a
// warm-up. A script, not a test: `npm run bench:simulator -- --sizes 1000,10000 --seconds 60`.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Fleet } from "@locus/simulator";
import { startHubProcess } from "../tests/support/hub-process.ts";
import { type BenchBroker, startBenchMosquitto } from "./harness/brokers.ts";
import { processCpuSeconds } from "./harness/versions.ts";

export interface SimulatorBenchOptions {
  /** Fleet sizes, each run on its own. */
  sizes: number[];
  intervalMs: number;
  /** How long each size is measured, after ramp-up and warm-up. */
  measureMs: number;
  /** A throwaway Mosquitto (default), or the embedded hub as its own process. */
  broker: "mosquitto" | "hub";
}

export interface SimulatorBenchResult {
  vehicles: number;
  intervalMs: number;
  broker: SimulatorBenchOptions["broker"];
  measuredSeconds: number;
  /** Fixes produced and acknowledged per second while measured. */
  producedPerSecond: number;
  ackedPerSecond: number;
  /** CPU of the simulator process, percent of one core (user + system). */
  cpuPercent: number;
  cpuUserPercent: number;
  cpuSystemPercent: number;
  rssMiBAvg: number;
  rssMiBMax: number;
  heapUsedMiB: number;
  /** Event-loop delay while measured, ms. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  connectedAtEnd: number;
  bufferedAtEnd: number;
  /** CPU of the broker process meanwhile, percent of one core (Linux /proc), or null. */
  brokerCpuPercent: number | null;
}

const ROOT = path.resolve(import.meta.dirname, "..");
const RAMP_PER_SECOND = 1000;
const WARMUP_MS = 10_000;

/** Runs every size in turn and returns one result per size. */
export async function benchSimulator(
  options: SimulatorBenchOptions,
): Promise<SimulatorBenchResult[]> {
  const results: SimulatorBenchResult[] = [];
  for (const vehicles of options.sizes) {
    const broker = await startBroker(options.broker);
    try {
      const cpuBefore = broker.pid === null ? null : processCpuSeconds(broker.pid);
      const started = Date.now();
      const measured = await runWorker({
        vehicles,
        intervalMs: options.intervalMs,
        measureMs: options.measureMs,
        brokerUrl: broker.url,
      });
      const cpuAfter = broker.pid === null ? null : processCpuSeconds(broker.pid);
      const brokerCpuPercent =
        cpuBefore === null || cpuAfter === null
          ? null
          : // Whole run (ramp and warm-up included): the broker is not the subject here.
            round1(((cpuAfter - cpuBefore) / ((Date.now() - started) / 1000)) * 100);
      results.push({ ...measured, broker: options.broker, brokerCpuPercent });
    } finally {
      await broker.stop();
    }
  }
  return results;
}

interface WorkerInput {
  vehicles: number;
  intervalMs: number;
  measureMs: number;
  brokerUrl: string;
}

type WorkerResult = Omit<SimulatorBenchResult, "broker" | "brokerCpuPercent">;

/** One size in a fresh process, so its memory is the fleet's alone. */
function runWorker(input: WorkerInput): Promise<WorkerResult> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "bench/simulator.ts", "--worker", JSON.stringify(input)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || line === undefined) {
        reject(new Error(`worker for ${input.vehicles} vehicles failed (${code}):\n${out}`));
      } else {
        resolve(JSON.parse(line.slice("RESULT ".length)) as WorkerResult);
      }
    });
  });
}

/** The worker: runs the fleet in this process and prints its own CPU and memory. */
async function worker(input: WorkerInput): Promise<void> {
  const { vehicles, intervalMs, measureMs } = input;
  const rampMs = Math.round((vehicles / RAMP_PER_SECOND) * 1000);
  const fleet = await Fleet.start({
    vehicles,
    intervalMs,
    brokerUrl: input.brokerUrl,
    idPrefix: "bench-",
    seed: 1,
    motion: { kind: "grid", bbox: { west: -118.3, south: 34.0, east: -118.2, north: 34.08 } },
    noiseM: 3,
    buffer: { kind: "memory" },
    maxBuffer: 100_000,
    rampMs,
    reconnectMaxMs: 30_000,
    onNotice: (line) => process.stderr.write(`  ${line}\n`),
  });
  await sleep(rampMs + WARMUP_MS);
  process.stderr.write(`  ${vehicles} vehicles: ${fleet.stats().connected} connected; measuring\n`);

  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const before = fleet.stats();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
  await sleep(measureMs);
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const after = fleet.stats();
  delay.disable();
  const heap = process.memoryUsage().heapUsed;
  for (const line of fleet.takeNotices()) process.stderr.write(`  agents: ${line}\n`);
  await fleet.stop({ drainMs: 5000 });

  const mib = (b: number) => round1(b / 2 ** 20);
  const result: WorkerResult = {
    vehicles,
    intervalMs,
    measuredSeconds: round1(seconds),
    producedPerSecond: Math.round((after.produced - before.produced) / seconds),
    ackedPerSecond: Math.round((after.acked - before.acked) / seconds),
    cpuPercent: round1(((cpu.user + cpu.system) / 1e6 / seconds) * 100),
    cpuUserPercent: round1((cpu.user / 1e6 / seconds) * 100),
    cpuSystemPercent: round1((cpu.system / 1e6 / seconds) * 100),
    rssMiBAvg: mib(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length)),
    rssMiBMax: mib(Math.max(...rss)),
    heapUsedMiB: mib(heap),
    loopDelayP50Ms: round1(delay.percentile(50) / 1e6),
    loopDelayP99Ms: round1(delay.percentile(99) / 1e6),
    connectedAtEnd: after.connected,
    bufferedAtEnd: after.buffered,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

async function startBroker(kind: SimulatorBenchOptions["broker"]): Promise<BenchBroker> {
  if (kind === "hub") {
    const hub = await startHubProcess({
      env: { LOCUS_LOG_LEVEL: "error", LOCUS_MQTT_MAX_CONNECTIONS_PER_ADDRESS: "20000" },
    });
    return {
      url: hub.mqttUrl,
      pid: hub.child.pid ?? null,
      async stop() {
        await hub.stop("SIGTERM");
      },
    };
  }
  // A broker that queues and forwards whatever 10,000 QoS 1 publishers send.
  const mosquitto = await startBenchMosquitto();
  if ("unavailable" in mosquitto) throw new Error(mosquitto.unavailable);
  return mosquitto;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const workerInput = flag("worker");
  if (workerInput !== undefined) {
    await worker(JSON.parse(workerInput) as WorkerInput);
    process.exit(0);
  }
  const options: SimulatorBenchOptions = {
    sizes: (flag("sizes") ?? "1000,10000").split(",").map(Number),
    intervalMs: Number(flag("interval-ms") ?? 1000),
    measureMs: Number(flag("seconds") ?? 60) * 1000,
    broker: flag("broker") === "hub" ? "hub" : "mosquitto",
  };
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map(round1),
  };
  console.log(
    `simulator: ${options.sizes.join(", ")} vehicles, a fix every ${options.intervalMs} ms, ` +
      `${options.measureMs / 1000} s measured after ramp-up and ${WARMUP_MS / 1000} s warm-up, broker ${options.broker}`,
  );
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadAverageAtStart.join(" ")}`,
  );
  const results = await benchSimulator(options);
  console.table(
    results.map((r) => ({
      vehicles: r.vehicles,
      "acked fixes/s": r.ackedPerSecond,
      "CPU % of a core": r.cpuPercent,
      "RSS MiB avg": r.rssMiBAvg,
      "RSS MiB max": r.rssMiBMax,
      "heap MiB": r.heapUsedMiB,
      "loop p99 ms": r.loopDelayP99Ms,
      "broker CPU %": r.brokerCpuPercent,
    })),
  );
  const dir = path.resolve(import.meta.dirname, "results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `simulator-${new Date().toISOString().replaceAll(":", "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ machine, options, results }, null, 2)}\n`);
  console.log(`report: ${path.relative(process.cwd(), file)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

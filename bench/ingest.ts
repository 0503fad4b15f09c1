// Ingest benchmark: what group commit costs and gains. Runs the real hub as a child process and
// many MQTT publishers (QoS 1, a bounded window each), with grouping on and off, and reports
// fixes/s and publish→PUBACK latency. A script, not a test: `npx tsx bench/ingest.ts`.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { startHubProcess } from "../tests/support/hub-process.ts";

export interface IngestBenchOptions {
  vehicles: number;
  fixesPerVehicle: number;
  /** QoS 1 messages each publisher keeps in flight. */
  window: number;
  runs: number;
}

export interface IngestVariantResult {
  variant: string;
  env: Record<string, string>;
  fixesPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  ackMaxMs: number;
  runs: number[];
}

const VARIANTS: { variant: string; env: Record<string, string> }[] = [
  { variant: "group commit, fsync per commit (default)", env: {} },
  {
    variant: "one commit per message, fsync per commit",
    env: { LOCUS_GROUP_COMMIT_MAX_FIXES: "1" },
  },
  { variant: "group commit, synchronous=normal", env: { LOCUS_SQLITE_SYNCHRONOUS: "normal" } },
];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function runOnce(
  env: Record<string, string>,
  o: IngestBenchOptions,
): Promise<{ rate: number; latencies: number[] }> {
  const hub = await startHubProcess({ env: { LOCUS_LOG_LEVEL: "error", ...env } });
  const clients: mqtt.MqttClient[] = [];
  try {
    for (let v = 0; v < o.vehicles; v++) {
      clients.push(
        await mqtt.connectAsync(hub.mqttUrl, { clientId: `bench-${v}`, reconnectPeriod: 0 }),
      );
    }
    const latencies: number[] = [];
    const base = Date.now();
    const started = performance.now();
    await Promise.all(
      clients.map(
        (client, v) =>
          new Promise<void>((resolve, reject) => {
            const topic = `locus/vehicles/bench-${v}/location`;
            let next = 0;
            let acked = 0;
            const send = () => {
              if (next >= o.fixesPerVehicle) return;
              const seq = next++;
              const payload = JSON.stringify({
                latitude: 48.85 + (seq % 100) * 1e-4,
                longitude: 2.35 + v * 1e-3,
                ts: base + seq * 1000,
                seq,
              });
              const t0 = performance.now();
              client.publish(topic, payload, { qos: 1 }, (err) => {
                if (err) return reject(err);
                latencies.push(performance.now() - t0);
                if (++acked === o.fixesPerVehicle) resolve();
                else send();
              });
            };
            for (let i = 0; i < o.window; i++) send();
          }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    return { rate: (o.vehicles * o.fixesPerVehicle) / seconds, latencies };
  } finally {
    for (const c of clients) c.end(true);
    await hub.stop("SIGTERM");
    fs.rmSync(hub.dataDir, { recursive: true, force: true });
  }
}

/** Runs every variant `runs` times and reports the median rate and pooled latencies. */
export async function runIngestBench(o: IngestBenchOptions): Promise<IngestVariantResult[]> {
  const results: IngestVariantResult[] = [];
  for (const { variant, env } of VARIANTS) {
    const rates: number[] = [];
    const all: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      const { rate, latencies } = await runOnce(env, o);
      rates.push(rate);
      for (const l of latencies) all.push(l);
    }
    all.sort((a, b) => a - b);
    const sortedRates = [...rates].sort((a, b) => a - b);
    results.push({
      variant,
      env,
      fixesPerSecond: percentile(sortedRates, 50),
      ackP50Ms: percentile(all, 50),
      ackP99Ms: percentile(all, 99),
      ackMaxMs: all[all.length - 1] ?? Number.NaN,
      runs: rates,
    });
  }
  return results;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const options: IngestBenchOptions = {
    vehicles: flag("vehicles", 50),
    fixesPerVehicle: flag("fixes", 400),
    window: flag("window", 16),
    runs: flag("runs", 3),
  };
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  console.log(
    `ingest: ${options.vehicles} publishers x ${options.fixesPerVehicle} fixes, window ${options.window}, median of ${options.runs} runs`,
  );
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}`);
  const results = await runIngestBench(options);
  console.table(
    results.map((r) => ({
      variant: r.variant,
      "fixes/s": Math.round(r.fixesPerSecond),
      "ack p50 ms": r.ackP50Ms.toFixed(2),
      "ack p99 ms": r.ackP99Ms.toFixed(2),
      "ack max ms": r.ackMaxMs.toFixed(1),
    })),
  );
  const dir = path.resolve(import.meta.dirname, "results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `ingest-${new Date().toISOString().replaceAll(":", "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ machine, options, results }, null, 2)}\n`);
  console.log(`report: ${path.relative(process.cwd(), file)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

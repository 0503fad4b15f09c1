// What the live stream costs the hub: its CPU time per fix with 0, 1, 10 and 100 stream clients
// reading, while vehicles publish QoS 1 fixes at a steady rate. The hub runs as `npm start` runs
// it (its own process, CPU read from /proc); the stream clients are plain WebSocket clients here,
// the load generator another process. The extra CPU over 0 clients, divided by fixes and by
// clients, is what one client costs per fix.
// `npm run bench:stream -- [--rate 2000] [--vehicles 1000] [--clients 0,1,10,100] [--seconds 8]
// [--warmup-seconds 4]`

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { committedFixes, hubMetrics, startBenchHub } from "./harness/hub.ts";
import { runLoadWindow } from "./harness/load.ts";
import type { LoadPlan } from "./harness/load-plan.ts";
import { processCpuSeconds } from "./harness/versions.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "2000" },
    vehicles: { type: "string", default: "1000" },
    clients: { type: "string", default: "0,1,10,100" },
    seconds: { type: "string", default: "8" },
    "warmup-seconds": { type: "string", default: "4" },
    repeat: { type: "string", default: "1" },
  },
});
const rate = Number(values.rate);
const vehicles = Number(values.vehicles);
const seconds = Number(values.seconds);
const clientCounts = values.clients.split(",").map(Number);
const warmupSeconds = Number(values["warmup-seconds"]);
/** Each client count is measured this many times, interleaved; the table shows medians. */
const repeat = Number(values.repeat);
const DAY = 86_400_000;

interface Reader {
  ws: WebSocket;
  bytes: number;
  messages: number;
}

/** Opens a stream client that authenticates and counts what it reads (without parsing it). */
function openReader(httpUrl: string, token: string): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${httpUrl.replace(/^http/, "ws")}/api/v1/stream`);
    const reader: Reader = { ws, bytes: 0, messages: 0 };
    ws.once("error", reject);
    ws.once("open", () => ws.send(JSON.stringify({ type: "auth", token })));
    ws.on("message", (data: Buffer) => {
      if (reader.messages === 0) resolve(reader);
      reader.messages++;
      reader.bytes += data.length;
    });
    ws.once("close", (code, reason) => reject(new Error(`stream closed: ${code} ${reason}`)));
  });
}

interface Row {
  clients: number;
  fixesPerSecond: number;
  hubCpuUsPerFix: number;
  messagesPerSecond: number;
  mbPerSecond: number;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-bench-stream-"));
const hub = await startBenchHub({
  dataDir,
  env: { LOCUS_STREAM_MAX_CLIENTS: String(Math.max(...clientCounts) + 10) },
});
const pid = hub.child.pid as number;
const rows: Row[] = [];
try {
  // A first run, not counted, so the 0-client row is not the one that warms the hub up.
  const runs = [
    { clients: 0, counted: false },
    ...Array.from({ length: repeat }, () =>
      clientCounts.map((clients) => ({ clients, counted: true })),
    ).flat(),
  ];
  for (const [run, { clients, counted }] of runs.entries()) {
    const readers = await Promise.all(
      Array.from({ length: clients }, () => openReader(hub.httpUrl, hub.token)),
    );
    const plan: LoadPlan = {
      url: hub.mqttUrl,
      connections: vehicles,
      window: 4,
      warmupMs: 2000,
      durationMs: (counted ? seconds : warmupSeconds) * 1000,
      rate,
      vehiclePrefix: "stream-bench-",
      // Every run's fixes are newer than the last run's, so none is a duplicate.
      tsBase: Date.now() - 30 * DAY + run * DAY,
      track: { kind: "walk", box: [-118.5, 33.9, -118.1, 34.2], seed: run + 1 },
      recordSends: false,
      drainTimeoutMs: 60_000,
    };
    const reading = async () => {
      const m = await hubMetrics(hub);
      return {
        at: performance.now(),
        cpu: processCpuSeconds(pid) ?? Number.NaN,
        fixes: await committedFixes(hub),
        sent: m.get("locus_stream_messages_sent_total") ?? 0,
        bytes: readers.reduce((sum, r) => sum + r.bytes, 0),
      };
    };
    const { start, end } = await runLoadWindow(plan, reading);
    for (const r of readers) r.ws.terminate();
    if (!counted) continue;
    const elapsed = (end.at - start.at) / 1000;
    const fixes = end.fixes - start.fixes;
    rows.push({
      clients,
      fixesPerSecond: fixes / elapsed,
      hubCpuUsPerFix: ((end.cpu - start.cpu) / fixes) * 1e6,
      messagesPerSecond: (end.sent - start.sent) / elapsed,
      mbPerSecond: (end.bytes - start.bytes) / elapsed / 1e6,
    });
  }
} finally {
  await hub.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One row per client count: the median of its runs. */
const table: Row[] = clientCounts.map((clients) => {
  const of = rows.filter((r) => r.clients === clients);
  const m = (key: Exclude<keyof Row, "clients">) => median(of.map((r) => r[key]));
  return {
    clients,
    fixesPerSecond: m("fixesPerSecond"),
    hubCpuUsPerFix: m("hubCpuUsPerFix"),
    messagesPerSecond: m("messagesPerSecond"),
    mbPerSecond: m("mbPerSecond"),
  };
});
const base = table.find((r) => r.clients === 0);
const pad = (s: string, n: number) => s.padStart(n);
console.log(
  `\nLive stream cost: ${vehicles} vehicles publishing ${rate} fixes/s (QoS 1), ${seconds} s per run, median of ${repeat} run(s); load average ${os.loadavg()[0]?.toFixed(1)} on ${os.availableParallelism()} CPUs\n`,
);
console.log(
  `${pad("clients", 7)} ${pad("fixes/s", 8)} ${pad("hub CPU µs/fix", 15)} ${pad("extra µs/fix", 13)} ${pad("µs/fix/client", 14)} ${pad("msgs/s out", 11)} ${pad("MB/s out", 9)}`,
);
for (const r of table) {
  const extra = base === undefined ? Number.NaN : r.hubCpuUsPerFix - base.hubCpuUsPerFix;
  const perClient = r.clients === 0 ? Number.NaN : extra / r.clients;
  const show = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
  console.log(
    `${pad(String(r.clients), 7)} ${pad(show(r.fixesPerSecond, 0), 8)} ${pad(show(r.hubCpuUsPerFix), 15)} ${pad(r.clients === 0 ? "–" : show(extra), 13)} ${pad(show(perClient, 2), 14)} ${pad(show(r.messagesPerSecond, 0), 11)} ${pad(show(r.mbPerSecond, 2), 9)}`,
  );
}
console.log(
  "\nextra µs/fix: hub CPU per fix above the 0-client row; µs/fix/client: that divided by clients.\nOn a busy machine rows differ by tens of µs/fix from run to run: use --repeat for medians.",
);

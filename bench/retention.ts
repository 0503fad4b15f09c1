// What retention costs ingestion: the worst PUBACK latency while LOCUS_RETENTION_DAYS deletes a
// large history in the background, beside the same measurement once it is done. An embedded hub
// (SQLite, fsync on) starts on a data dir holding `--old` fixes older than the period; vehicles
// publish QoS 1 fixes, each keeping `--window` awaiting their PUBACK, through the whole pass and
// as long again after it. `npm run bench:retention -- [--old N] [--vehicles N] [--window N]`.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Fix } from "@locus/protocol";
import mqtt from "mqtt";
import pino from "pino";
import { loadConfig } from "../hub/src/config.ts";
import { startHub } from "../hub/src/hub.ts";
import { ingest } from "../hub/src/ingest/test-support.ts";
import { SqliteStore } from "../hub/src/store/sqlite.ts";

const DAY = 86_400_000;
const TOKEN = "bench-token-0123456789abcdef";

const { values } = parseArgs({
  options: {
    old: { type: "string", default: "300000" },
    vehicles: { type: "string", default: "20" },
    window: { type: "string", default: "8" },
  },
});
const oldFixes = Number(values.old);
const vehicles = Number(values.vehicles);
const window = Number(values.window);

/** Fills the store with `count` fixes 60 days old, spread over 300 vehicles, in big commits. */
async function prefill(file: string, count: number): Promise<void> {
  const store = new SqliteStore(file, { synchronous: "normal" });
  const start = Date.now() - 60 * DAY;
  for (let done = 0; done < count; ) {
    const batch: Fix[] = [];
    for (; batch.length < 10_000 && done < count; done++) {
      batch.push({
        vehicle_id: `old-${done % 300}`,
        latitude: 34 + (done % 1000) / 1e5,
        longitude: -118,
        ts: start + done,
        ts_given: true,
        seq: done,
      });
    }
    await ingest(store, batch);
  }
  await store.close();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(latencies: number[]): string {
  const s = [...latencies].sort((a, b) => a - b);
  const f = (x: number) => `${x.toFixed(1)} ms`;
  return `${s.length} PUBACKs, p50 ${f(percentile(s, 50))}, p99 ${f(percentile(s, 99))}, max ${f(s[s.length - 1] ?? Number.NaN)}`;
}

async function deletedSoFar(httpUrl: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const line = (await res.text())
    .split("\n")
    .find((l) => l.startsWith("locus_retention_deleted_total"));
  return Number(line?.split(" ").at(-1) ?? 0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-bench-retention-"));
try {
  const t0 = performance.now();
  await prefill(path.join(dir, "locus.db"), oldFixes);
  console.log(
    `prefilled ${oldFixes} fixes 60 days old in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const hub = await startHub(
    loadConfig({
      LOCUS_DATA_DIR: dir,
      LOCUS_HTTP_PORT: "0",
      LOCUS_MQTT_PORT: "0",
      LOCUS_API_TOKEN: TOKEN,
      LOCUS_RETENTION_DAYS: "30",
    }),
    pino({ level: "silent" }),
  );
  let phase: number[] = [];
  let running = true;
  const clients = await Promise.all(
    Array.from({ length: vehicles }, (_, v) =>
      mqtt.connectAsync(hub.mqttUrl, { clientId: `bench-ret-${v}`, reconnectPeriod: 0 }),
    ),
  );
  const loops = clients.map(async (client, v) => {
    let seq = 0;
    const one = async () => {
      while (running) {
        const fix = { latitude: 34.05, longitude: -118.24, ts: Date.now(), seq: seq++ };
        const sent = performance.now();
        await client.publishAsync(`locus/vehicles/bench-${v}/location`, JSON.stringify(fix), {
          qos: 1,
        });
        phase.push(performance.now() - sent);
      }
    };
    await Promise.all(Array.from({ length: window }, one));
  });
  const passStart = performance.now();
  while ((await deletedSoFar(hub.httpUrl)) < oldFixes) await new Promise((r) => setTimeout(r, 100));
  const passMs = performance.now() - passStart;
  const during = phase;
  phase = [];
  await new Promise((r) => setTimeout(r, passMs));
  const after = phase;
  running = false;
  await Promise.all(loops);
  for (const c of clients) await c.endAsync();
  await hub.close();
  console.log(`retention pass: ${oldFixes} fixes deleted in ${(passMs / 1000).toFixed(1)} s`);
  console.log(`  while it ran: ${summary(during)}`);
  console.log(`  after it:     ${summary(after)}`);
  console.log(
    `  (${vehicles} vehicles, ${window} in flight each; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")})`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

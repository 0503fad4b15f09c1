// A full disk, end to end: the embedded hub on real SQLite whose database is capped (SQLite then
// fails commits with SQLITE_FULL, as on a full disk). Health answers 503 naming the reason, fixes
// that were not committed are not acknowledged, and once there is room again the device's resent
// fixes are stored and health is back to 200 by itself. Nothing committed before is lost.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import mqtt from "mqtt";
import pino from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";
import { SqliteStore } from "./store/sqlite.ts";

const TOKEN = "test-token-0123456789abcdef";
const TOPIC = "locus/vehicles/disk-1/location";

let dir: string;
let hub: Hub;
let device: mqtt.MqttClient | null = null;
let logged: { msg?: string }[];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-full-disk-"));
  logged = [];
  const sink = new Writable({
    write(chunk, _enc, next) {
      logged.push(JSON.parse(String(chunk)));
      next();
    },
  });
  const config = loadConfig({
    LOCUS_DATA_DIR: dir,
    LOCUS_HTTP_PORT: "0",
    LOCUS_MQTT_PORT: "0",
    LOCUS_API_TOKEN: TOKEN,
    LOCUS_OUTBOX_GRACE_MS: "0",
  });
  hub = await startHub(config, pino({ level: "warn" }, sink));
});

afterEach(async () => {
  await device?.endAsync(true);
  device = null;
  await hub.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${hub.httpUrl}${url}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: res.status, body: await res.text() };
}

/** Polls `probe` until it returns something other than undefined (each try follows the last). */
async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(name: string): Promise<number> {
  const { body } = await get("/metrics");
  const line = body.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

async function storedSeqs(): Promise<number[]> {
  const fixes = await hub.store.locations("disk-1", { limit: 10_000 });
  return fixes.map((f) => f.seq as number).sort((a, b) => a - b);
}

it("answers 503 while commits fail on a full disk, acknowledges nothing uncommitted, and recovers by itself", async () => {
  const store = hub.store;
  if (!(store instanceof SqliteStore)) throw new Error("expected the SQLite store");
  const t0 = Date.now() - 60_000;
  const fix = (seq: number) => ({ latitude: 34.05, longitude: -118.24, ts: t0 + seq, seq });

  device = await mqtt.connectAsync(hub.mqttUrl, {
    clientId: "disk-device",
    reconnectPeriod: 100,
  });
  await device.publishAsync(TOPIC, JSON.stringify(fix(0)), { qos: 1 });
  expect((await get("/api/v1/health")).status).toBe(200);

  // The disk fills: not one page more.
  store.limitPages(store.pageCount());
  // Enough fixes for the commit to need new pages.
  const batch = Array.from({ length: 500 }, (_, i) => fix(i + 1));
  let acknowledged = false;
  const published = device.publishAsync(TOPIC, JSON.stringify(batch), { qos: 1 }).then(() => {
    acknowledged = true;
  });

  const unhealthy = await until(async () => {
    const r = await get("/api/v1/health");
    return r.status === 503 ? JSON.parse(r.body) : undefined;
  }, "health to answer 503");
  expect(unhealthy).toMatchObject({
    status: "unavailable",
    checks: { ingest: expect.stringMatching(/database or disk is full/), store: "ok" },
  });
  // The device is dropped and resends; each attempt fails again while the disk is full.
  await until(
    async () => ((await metric("locus_group_commits_failed_total")) >= 2 ? true : undefined),
    "a second failed commit",
  );
  expect(acknowledged).toBe(false);
  expect(await storedSeqs()).toEqual([0]);
  const failing = logged.filter((l) => l.msg === "could not store fixes; not acknowledged");
  // One line per 10 s interval, however many messages failed.
  expect(failing.length).toBeGreaterThanOrEqual(1);
  expect(failing.length).toBeLessThanOrEqual(1 + Math.floor((Date.now() - t0 - 60_000) / 10_000));

  // Room again: the device's next resend is committed and acknowledged, and health recovers.
  store.limitPages(null);
  await published;
  expect(await storedSeqs()).toEqual(Array.from({ length: 501 }, (_, i) => i));
  const healthy = await get("/api/v1/health");
  expect(healthy.status).toBe(200);
  expect(JSON.parse(healthy.body).checks.ingest).toBe("ok");
});

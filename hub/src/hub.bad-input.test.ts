// Bad input through the embedded broker, end to end: messages on malformed vehicle topics and
// fixes from the future are acknowledged, dropped and counted by reason; good fixes are kept.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";

const TOKEN = "test-token-0123456789abcdef";
let dir: string;
let hub: Hub;
let device: mqtt.MqttClient;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-bad-input-"));
  const config = loadConfig({
    LOCUS_DATA_DIR: dir,
    LOCUS_HTTP_PORT: "0",
    LOCUS_MQTT_PORT: "0",
    LOCUS_API_TOKEN: TOKEN,
    LOCUS_MAX_FUTURE_S: "60",
  });
  hub = await startHub(config, pino({ level: "silent" }));
  device = await mqtt.connectAsync(hub.mqttUrl, { clientId: "bad-input", reconnectPeriod: 0 });
});
afterAll(async () => {
  await device?.endAsync();
  await hub?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function rejected(reason: string): Promise<number> {
  const res = await fetch(`${hub.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const prefix = `locus_fixes_rejected_total{reason="${reason}"} `;
  const line = (await res.text()).split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? Number.NaN : Number(line.slice(prefix.length));
}

it("acknowledges and counts messages on malformed vehicle topics as bad_topic", async () => {
  const fix = JSON.stringify({ latitude: 1, longitude: 1 });
  const topics = [
    `locus/vehicles/${"a".repeat(65)}/location`,
    "locus/vehicles/a/b/location",
    "locus/vehicles//location",
    "locus/vehicles/truck 01/location",
  ];
  // Each publish resolves on its PUBACK.
  for (const topic of topics) await device.publishAsync(topic, fix, { qos: 1 });
  expect(await rejected("bad_topic")).toBe(topics.length);
  expect(await hub.store.listVehicles({ limit: 10 })).toEqual([]);
});

it("drops fixes more than LOCUS_MAX_FUTURE_S ahead, keeping the rest of the batch", async () => {
  const now = Date.now();
  const batch = [
    { latitude: 1, longitude: 1, ts: now - 1000, seq: 1 },
    { latitude: 2, longitude: 2, ts: now + 120_000, seq: 2 },
    { latitude: 3, longitude: 3, ts: "9999-12-31T23:59:59Z", seq: 3 },
  ];
  await device.publishAsync("locus/vehicles/clock-1/location", JSON.stringify(batch), { qos: 1 });
  expect(await rejected("future_ts")).toBe(2);
  const stored = await hub.store.locations("clock-1", { limit: 10 });
  expect(stored.map((f) => f.seq)).toEqual([1]);
});

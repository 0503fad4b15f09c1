// Webhooks in the whole hub: fixes over MQTT make events that reach a healthy webhook and an MQTT
// subscriber at pace while another webhook's endpoint never answers, and a restart of the hub in
// the middle of a stream of fixes loses nothing: every event, in order, at least once.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import pino from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { polygonFeature, square } from "./api/test-support.ts";
import { loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";
import { startReceiver } from "./webhooks/test-receiver.ts";

const TOKEN = "test-token-0123456789abcdef";
const TOPIC = "locus/vehicles/hook-1/location";
const T0 = Date.parse("2026-11-24T20:00:00.000Z");

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-hub-webhooks-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function start(): Promise<Hub> {
  const config = loadConfig({
    LOCUS_DATA_DIR: dir,
    LOCUS_HTTP_PORT: "0",
    LOCUS_MQTT_PORT: "0",
    LOCUS_API_TOKEN: TOKEN,
    LOCUS_OUTBOX_GRACE_MS: "0",
    LOCUS_WEBHOOK_ALLOW_PRIVATE: "true",
    LOCUS_WEBHOOK_TIMEOUT_MS: "200",
    LOCUS_WEBHOOK_FIRST_RETRY_MS: "20",
    LOCUS_WEBHOOK_MAX_RETRY_MS: "100",
    LOCUS_WEBHOOK_POLL_MS: "50",
  });
  return startHub(config, pino({ level: "silent" }));
}

async function api(hub: Hub, method: string, url: string, body?: unknown) {
  const response = await fetch(`${hub.httpUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Fix `i`: inside the square when i is even, outside when odd, so each one makes an event. */
function fix(i: number) {
  const inside = i % 2 === 0;
  return JSON.stringify({
    latitude: 34.05,
    longitude: inside ? -118.24 : -118.0,
    ts: T0 + i * 1000,
    seq: i,
  });
}

/** Publishes fixes from `from` on, one after another's PUBACK, until stopped or the hub goes. */
function stream(device: mqtt.MqttClient, from: number, acked: Set<number>) {
  let stopped = false;
  let next = from;
  const done = (async () => {
    while (!stopped && device.connected) {
      const i = next++;
      try {
        await device.publishAsync(TOPIC, fix(i), { qos: 1 });
        acked.add(i);
      } catch {
        return;
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
    get next() {
      return next;
    },
  };
}

it("delivers every event in order across a restart mid-stream, while a stalled webhook holds up nothing", async () => {
  const healthy = await startReceiver();
  const stalled = await startReceiver(() => "hang");
  let hub = await start();
  try {
    const fence = await api(
      hub,
      "POST",
      "/api/v1/geofences",
      polygonFeature("yard", square(-118.24, 34.05)),
    );
    expect(fence.status).toBe(201);
    expect((await api(hub, "POST", "/api/v1/webhooks", { url: stalled.url })).status).toBe(201);
    const hook = await api(hub, "POST", "/api/v1/webhooks", {
      url: healthy.url,
      secret: "0123456789abcdef-s",
    });
    expect(hook.status).toBe(201);

    const subscriber = await mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0 });
    const published: string[] = [];
    subscriber.on("message", (_topic, payload) =>
      published.push(JSON.parse(payload.toString()).id),
    );
    await subscriber.subscribeAsync("locus/geofence/events", { qos: 1 });

    const acked = new Set<number>();
    let device = await mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0 });
    let flow = stream(device, 0, acked);
    // MQTT subscribers and the healthy webhook keep pace while the other endpoint never answers.
    await healthy.until((got) => got.length >= 40, 20_000);
    expect(stalled.received.length).toBeGreaterThanOrEqual(1);
    await new Promise<void>((resolve) => {
      const check = () => (published.length >= 40 ? resolve() : setTimeout(check, 10));
      check();
    });
    // Restart with fixes on the wire.
    await hub.close();
    await device.endAsync(true);
    await flow.stop();
    await subscriber.endAsync(true);
    const resumeAt = flow.next;
    hub = await start();
    device = await mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0 });
    flow = stream(device, resumeAt, acked);
    // 120 distinct events (an attempt cut short by the restart is sent again: at least once).
    await healthy.until(
      (got) => new Set(got.map((r) => JSON.parse(r.body).id as string)).size >= 120,
      20_000,
    );
    await device.endAsync(true);
    await flow.stop();

    // Every stored event went to the healthy webhook, in order (the first copy of each).
    const stored = await hub.store.events({ limit: 100_000 });
    await healthy.until((got) => {
      const ids = new Set(got.map((r) => JSON.parse(r.body).id as string));
      return stored.every((e) => ids.has(e.id));
    }, 20_000);
    const firstCopies: string[] = [];
    for (const r of healthy.received) {
      const id = JSON.parse(r.body).id as string;
      if (!firstCopies.includes(id)) firstCopies.push(id);
    }
    expect(firstCopies).toEqual(stored.map((e) => e.id));
    expect(stored.length).toBeGreaterThanOrEqual(120);
    // The stalled webhook is still on its first event, after a restart too.
    const stalledIds = new Set(stalled.received.map((r) => JSON.parse(r.body).id));
    expect(stalledIds).toEqual(new Set([stored[0]?.id]));
  } finally {
    await hub.close();
    await healthy.close();
    await stalled.close();
  }
}, 60_000);

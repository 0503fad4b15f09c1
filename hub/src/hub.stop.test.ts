// Stopping the embedded hub in the middle of a stream of QoS 1 fixes: every fix it stored has been
// acknowledged to the device before the connection closed, and every acknowledged fix is stored.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import pino from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { startHub } from "./hub.ts";
import { SqliteStore } from "./store/sqlite.ts";

const TOPIC = "locus/vehicles/stop-1/location";
/** Messages the device keeps unacknowledged at once, as an agent draining its backlog does. */
const WINDOW = 32;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-stop-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Streams fixes seq 0, 1, … with WINDOW in flight until stopped; `acked` gets each PUBACKed seq. */
function stream(device: mqtt.MqttClient, acked: Set<number>, sent: Set<number>) {
  const t0 = Date.now() - 3_600_000;
  let next = 0;
  let inFlight = 0;
  let stopped = false;
  const pump = () => {
    while (!stopped && inFlight < WINDOW && device.connected) {
      const seq = next++;
      inFlight++;
      sent.add(seq);
      const fix = { latitude: 34.05, longitude: -118.24, ts: t0 + seq, seq };
      device.publish(TOPIC, JSON.stringify(fix), { qos: 1 }, (err) => {
        inFlight--;
        if (!err) acked.add(seq);
        pump();
      });
    }
  };
  pump();
  return () => {
    stopped = true;
  };
}

it.each([1, 2, 3, 4])(
  "acknowledges every stored fix before the connections close (run %i)",
  async () => {
    const config = loadConfig({
      LOCUS_DATA_DIR: dir,
      LOCUS_HTTP_PORT: "0",
      LOCUS_MQTT_PORT: "0",
      LOCUS_API_TOKEN: "test-token-0123456789abcdef",
    });
    const hub = await startHub(config, pino({ level: "silent" }));
    const device = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: "stop-device",
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((resolve) => device.once("close", () => resolve()));
    const acked = new Set<number>();
    const sent = new Set<number>();
    const stop = stream(device, acked, sent);
    // Mid-stream: once a few hundred fixes are through, and more are on the wire.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (acked.size >= 300) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await hub.close();
    // Whatever the hub wrote before closing has reached the device once its side closes.
    await closed;
    stop();
    await device.endAsync(true);

    const store = new SqliteStore(path.join(dir, "locus.db"));
    try {
      const stored = (await store.locations("stop-1", { limit: 1_000_000 })).map(
        (f) => f.seq as number,
      );
      const storedSet = new Set(stored);
      const notAcked = stored.filter((seq) => !acked.has(seq));
      const lost = [...acked].filter((seq) => !storedSet.has(seq));
      expect({ notAcked, lost }).toEqual({ notAcked: [], lost: [] });
      // The hub was closed mid-stream: some fixes were sent and never taken.
      expect(sent.size).toBeGreaterThan(acked.size);
      expect(stored.length).toBeGreaterThanOrEqual(300);
    } finally {
      await store.close();
    }
  },
  60_000,
);

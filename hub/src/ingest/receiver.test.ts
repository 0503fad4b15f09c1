// Receiver with a real pipeline and SqliteStore: fixes from the future are refused while the rest
// of their batch is stored, and messages on malformed vehicle topics are counted and logged.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GeofenceEngine } from "../geofence/engine.ts";
import { DEFAULT_JUDGE_OPTIONS } from "../geofence/membership.ts";
import { MemoryFenceIndex } from "../geofence/memory-index.ts";
import { createMetrics, type HubMetrics } from "../metrics.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { IngestPipeline } from "./pipeline.ts";
import { Receiver } from "./receiver.ts";

let dir: string;
let store: SqliteStore;
let metrics: HubMetrics;
let lines: Record<string, unknown>[];
let receiver: Receiver;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-receiver-"));
  store = new SqliteStore(path.join(dir, "locus.db"), { synchronous: "normal" });
  const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
  await engine.load([], await store.vehicleStates());
  metrics = createMetrics({ outboxDepth: () => 0, connectedDevices: () => 0 });
  lines = [];
  const sink = new Writable({
    write(chunk, _enc, next) {
      lines.push(JSON.parse(String(chunk)));
      next();
    },
  });
  receiver = new Receiver({
    pipeline: new IngestPipeline({ store, engine, metrics, onEvents: () => {} }),
    store,
    metrics,
    logger: pino({ level: "warn" }, sink),
    maxPayloadBytes: 262_144,
    maxFutureMs: 600_000,
  });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function receive(topic: string, payload: string): Promise<Error | null> {
  return new Promise((resolve) => receiver.receive(topic, Buffer.from(payload), resolve));
}

async function rejected(reason: string): Promise<number> {
  const { values } = await metrics.fixesRejected.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("Receiver", () => {
  it("refuses a fix more than maxFutureMs ahead of the clock as future_ts, keeping the rest", async () => {
    const now = Date.now();
    const err = await receive(
      "locus/vehicles/truck-01/location",
      JSON.stringify([
        { latitude: 1, longitude: 1, ts: now - 1000, seq: 1 },
        { latitude: 2, longitude: 2, ts: "9999-12-31T23:59:59Z", seq: 2 },
        { latitude: 3, longitude: 3, ts: now + 3_600_000, seq: 3 },
        // Within the tolerance: a device clock a little ahead is not refused.
        { latitude: 4, longitude: 4, ts: now + 60_000, seq: 4 },
      ]),
    );
    expect(err).toBeNull();
    const stored = await store.locations("truck-01", { limit: 10 });
    expect(stored.map((f) => f.seq)).toEqual([1, 4]);
    expect(await rejected("future_ts")).toBe(2);
    // A later real fix is the vehicle's newest: nothing from the future froze it.
    const later = { latitude: 5, longitude: 5, ts: now + 120_000 };
    await receive("locus/vehicles/truck-01/location", JSON.stringify(later));
    expect((await store.getVehicle("truck-01"))?.last_fix?.latitude).toBe(5);
    // One log line for the two rejects of one reason within the interval.
    const logged = lines.filter((l) => l.reason === "future_ts");
    expect(logged).toHaveLength(1);
    expect(logged[0]?.msg).toBe("dropped a fix");
  });

  it.each([
    ["an id of 65 characters", `locus/vehicles/${"a".repeat(65)}/location`],
    ["an extra level", "locus/vehicles/a/b/location"],
    ["an empty id", "locus/vehicles//location"],
    ["a space in the id", "locus/vehicles/truck 01/location"],
    ["a NUL in the id", "locus/vehicles/truck\u000001/location"],
    ["an unknown last level", "locus/vehicles/truck-01/speed"],
    ["a bad id on a status topic", "locus/vehicles/a b/status"],
  ])("takes, counts and logs a message on a topic with %s as bad_topic", async (_, topic) => {
    expect(receiver.handles(topic)).toBe(true);
    expect(await receive(topic, '{"latitude":1,"longitude":1}')).toBeNull();
    expect(await rejected("bad_topic")).toBe(1);
    expect(lines.filter((l) => l.reason === "bad_topic")).toHaveLength(1);
    expect(await store.listVehicles({ limit: 10 })).toEqual([]);
  });

  it("logs bad topics at most once per interval, counting every one", async () => {
    for (let i = 0; i < 5; i++) await receive("locus/vehicles/a/b/location", "{}");
    expect(await rejected("bad_topic")).toBe(5);
    expect(lines.filter((l) => l.reason === "bad_topic")).toHaveLength(1);
  });

  it("counts and logs a status message that is neither online nor offline, storing nothing", async () => {
    expect(await receive("locus/vehicles/truck-01/status", "rebooting")).toBeNull();
    expect(await receive("locus/vehicles/truck-01/status", "ONLINE")).toBeNull();
    expect(await rejected("invalid_status")).toBe(2);
    expect(lines.filter((l) => l.reason === "invalid_status")).toHaveLength(1);
    expect(await store.getVehicle("truck-01")).toBeNull();
    expect(await receive("locus/vehicles/truck-01/status", "online")).toBeNull();
    expect((await store.getVehicle("truck-01"))?.status).toBe("online");
  });

  it("leaves topics outside locus/vehicles/ and owntracks/ to the broker", () => {
    expect(receiver.handles("locus/geofence/events")).toBe(false);
    expect(receiver.handles("owntracks/a/b")).toBe(true);
    expect(receiver.handles("locus/vehicles/truck-01/location")).toBe(true);
    expect(receiver.handles("locus/vehicles/truck-01/status")).toBe(true);
  });
});

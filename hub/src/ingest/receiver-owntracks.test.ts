// OwnTracks over MQTT through the Receiver, with a real pipeline and SqliteStore: a location on
// owntracks/{user}/{device} is a fix of vehicle {user} in SI units; other message types and deeper
// topics are acknowledged and ignored, not counted as errors; a retained location delivered again
// (same vehicle and tst, no seq) is stored once, even after newer fixes.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GeofenceEngine } from "../geofence/engine.ts";
import { DEFAULT_JUDGE_OPTIONS } from "../geofence/membership.ts";
import { MemoryFenceIndex } from "../geofence/memory-index.ts";
import { createMetrics, type HubMetrics } from "../metrics.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { IngestPipeline } from "./pipeline.ts";
import { Receiver } from "./receiver.ts";

const TST = Math.floor(Date.now() / 1000) - 3600;

let dir: string;
let store: SqliteStore;
let metrics: HubMetrics;
let receiver: Receiver;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-owntracks-"));
  store = new SqliteStore(path.join(dir, "locus.db"), { synchronous: "normal" });
  const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
  await engine.load([], await store.vehicleStates());
  metrics = createMetrics({ outboxDepth: () => 0, connectedDevices: () => 0 });
  receiver = new Receiver({
    pipeline: new IngestPipeline({ store, engine, metrics, onEvents: () => {} }),
    store,
    metrics,
    logger: pino({ level: "silent" }),
    maxPayloadBytes: 262_144,
    maxFutureMs: 600_000,
  });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function receive(topic: string, payload: unknown): Promise<Error | null> {
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  return new Promise((resolve) => receiver.receive(topic, Buffer.from(text), resolve));
}

/** A counter's values by label value (`reason` or `source`), and unlabelled as "". */
async function counter(
  name: "fixesRejected" | "fixesBySource" | "fixesDuplicate",
): Promise<{ labels: Record<string, string | number | undefined>; value: number }[]> {
  const { values } = await metrics[name].get();
  return values as { labels: Record<string, string | number | undefined>; value: number }[];
}

async function history(vehicleId: string) {
  return store.locations(vehicleId, { limit: 100 });
}

const location = (tst: number, extra: object = {}) => ({
  _type: "location",
  lat: 52.516275,
  lon: 13.377704,
  tst,
  vel: 36,
  cog: 90,
  acc: 12,
  alt: 40,
  tid: "ph",
  ...extra,
});

describe("OwnTracks over MQTT", () => {
  it("stores a location as a fix of the topic's user, in m/s, counted as owntracks", async () => {
    expect(await receive("owntracks/van-1/phone", location(TST))).toBeNull();
    const fixes = await history("van-1");
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({
      vehicle_id: "van-1",
      ts: TST * 1000,
      latitude: 52.516275,
      longitude: 13.377704,
      speed: 10,
      heading: 90,
      accuracy: 12,
      altitude: 40,
    });
    const bySource = await counter("fixesBySource");
    expect(bySource.find((v) => v.labels.source === "owntracks")?.value).toBe(1);
    expect(bySource.find((v) => v.labels.source === "agent")?.value).toBe(0);
  });

  it("acknowledges other types, deeper topics and empty messages without storing or counting them", async () => {
    const ignored: [string, unknown][] = [
      ["owntracks/van-1/phone", { _type: "lwt", tst: TST }],
      [
        "owntracks/van-1/phone",
        { _type: "waypoint", desc: "depot", lat: 1, lon: 2, rad: 9, tst: TST },
      ],
      [
        "owntracks/van-1/phone/event",
        { _type: "transition", event: "enter", tst: TST, lat: 1, lon: 2, acc: 5, wtst: TST },
      ],
      ["owntracks/van-1/phone/cmd", { _type: "cmd", action: "reportLocation" }],
      ["owntracks/van-1/phone", ""],
    ];
    for (const [topic, payload] of ignored) expect(await receive(topic, payload)).toBeNull();
    expect(await history("van-1")).toEqual([]);
    expect((await counter("fixesRejected")).every((v) => v.value === 0)).toBe(true);
  });

  it("counts a bad location by reason and drops it", async () => {
    expect(
      await receive("owntracks/van-1/phone", { _type: "location", lat: 99, lon: 1, tst: TST }),
    ).toBeNull();
    expect(await receive("owntracks/van-1/phone", "{not json")).toBeNull();
    const rejected = await counter("fixesRejected");
    expect(rejected.find((v) => v.labels.reason === "invalid_latitude")?.value).toBe(1);
    expect(rejected.find((v) => v.labels.reason === "invalid_json")?.value).toBe(1);
    expect(await history("van-1")).toEqual([]);
  });

  it("stores a retained location delivered again once, even after newer fixes (identity: vehicle and ts)", async () => {
    await receive("owntracks/van-2/phone", location(TST));
    await receive("owntracks/van-2/phone", location(TST + 10));
    // The broker hands the retained message out again (a reconnection, a new subscription).
    await receive("owntracks/van-2/phone", location(TST + 10));
    await receive("owntracks/van-2/phone", location(TST));
    const fixes = await history("van-2");
    expect(fixes.map((f) => f.ts)).toEqual([TST * 1000, (TST + 10) * 1000]);
    const duplicates = await counter("fixesDuplicate");
    expect(duplicates[0]?.value).toBe(2);
  });

  it("refuses a topic whose user is not a vehicle id as bad_topic", async () => {
    expect(await receive("owntracks/bad user/phone", location(TST))).toBeNull();
    const rejected = await counter("fixesRejected");
    expect(rejected.find((v) => v.labels.reason === "bad_topic")?.value).toBe(1);
  });
});

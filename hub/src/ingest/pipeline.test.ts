// IngestPipeline with a real SqliteStore and the geofence engine on the in-memory index: group
// commits, acknowledgement after commit, events in order, duplicates, and store failures.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eventId, type Fix, formatTs, type GeofenceEvent } from "@locus/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GeofenceEngine } from "../geofence/engine.ts";
import { DEFAULT_JUDGE_OPTIONS } from "../geofence/membership.ts";
import { MemoryFenceIndex } from "../geofence/memory-index.ts";
import { createMetrics, type HubMetrics } from "../metrics.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { GeofenceRecord, OutboxEvent, Store } from "../store/store.ts";
import { IngestPipeline } from "./pipeline.ts";

const T0 = Date.parse("2026-11-24T20:00:00.000Z");
const INSIDE = { latitude: 34.05, longitude: -118.24 };
const OUTSIDE = { latitude: 34.05, longitude: -118.3 };

/** A fix `s` seconds after T0, inside or outside the square. */
function fixAt(vehicleId: string, s: number, where: "in" | "out", seq?: number): Fix {
  const fix: Fix = {
    vehicle_id: vehicleId,
    ...(where === "in" ? INSIDE : OUTSIDE),
    ts: T0 + s * 1000,
    ts_given: true,
  };
  if (seq !== undefined) fix.seq = seq;
  return fix;
}

let dir: string;
let file: string;
let stores: SqliteStore[];
let store: SqliteStore;
let fence: GeofenceRecord;
let engine: GeofenceEngine;
let metrics: HubMetrics;
let committed: OutboxEvent[][];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-pipeline-"));
  file = path.join(dir, "locus.db");
  store = new SqliteStore(file, { synchronous: "normal" });
  stores = [store];
  fence = await store.createGeofence(
    {
      name: "downtown-la",
      geometry_type: "Polygon",
      polygons: [
        [
          [
            [-118.25, 34.04],
            [-118.23, 34.04],
            [-118.23, 34.06],
            [-118.25, 34.06],
            [-118.25, 34.04],
          ],
        ],
      ],
      properties: { name: "downtown-la" },
      hysteresis_m: null,
      max_accuracy_m: null,
      dwell_s: null,
      detect_crossing: false,
    },
    T0,
  );
  engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
  await engine.load([fence], await store.vehicleStates());
  metrics = createMetrics({ outboxDepth: () => store.outboxDepth(), connectedDevices: () => 0 });
  committed = [];
});
afterEach(async () => {
  for (const s of stores) await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function pipelineOn(target: Store, maxFixesPerCommit?: number): IngestPipeline {
  return new IngestPipeline({
    store: target,
    engine,
    metrics,
    onEvents: (events) => committed.push(events),
    ...(maxFixesPerCommit === undefined ? {} : { maxFixesPerCommit }),
  });
}

/** Submits a message; the promise settles with what `done` was given. */
function submit(pipeline: IngestPipeline, fixes: Fix[]): Promise<Error | null> {
  return new Promise((resolve) => pipeline.submit(fixes, resolve));
}

async function commitSizes(): Promise<{ count: number; sum: number }> {
  const { values } = await metrics.groupCommitSize.get();
  const value = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return {
    count: value("locus_group_commit_fixes_count"),
    sum: value("locus_group_commit_fixes_sum"),
  };
}

/** What identifies an event, leaving out detected_at (the clock). */
function transition(type: "enter" | "exit", fix: Fix) {
  return {
    id: eventId({
      vehicle_id: fix.vehicle_id,
      geofence_id: fence.id,
      type,
      ts: fix.ts,
      seq: fix.seq,
    }),
    type,
    vehicle_id: fix.vehicle_id,
    geofence_id: fence.id,
    geofence_name: "downtown-la",
    ts: formatTs(fix.ts),
    latitude: fix.latitude,
    longitude: fix.longitude,
  };
}
const withoutClock = ({ detected_at: _, ...rest }: GeofenceEvent) => rest;

describe("IngestPipeline", () => {
  it("reports the fixes it stored, duplicates left out, after acknowledging them, in commit order", async () => {
    const reported: { fixes: readonly Fix[]; acked: number }[] = [];
    let acked = 0;
    const pipeline = new IngestPipeline({
      store,
      engine,
      metrics,
      onEvents: () => {},
      onFixes: (fixes) => reported.push({ fixes, acked }),
    });
    const first = [fixAt("r1", 1, "out", 1), fixAt("r1", 2, "out", 2)];
    await new Promise<void>((resolve) =>
      pipeline.submit(first, () => {
        acked++;
        resolve();
      }),
    );
    // The same fixes again (a redelivery) and one new one.
    await new Promise<void>((resolve) =>
      pipeline.submit([...first, fixAt("r1", 3, "in", 3)], () => {
        acked++;
        resolve();
      }),
    );
    expect(reported.map((r) => r.fixes.map((f) => f.seq))).toEqual([[1, 2], [3]]);
    expect(reported.map((r) => r.acked)).toEqual([1, 2]);
  });

  it("commits messages from several vehicles in one tick as one group, acknowledging after", async () => {
    const pipeline = pipelineOn(store);
    const messages = ["v1", "v2", "v3"].map((v) => [fixAt(v, 1, "out"), fixAt(v, 2, "out")]);
    const readAtAck: Promise<Fix[]>[] = [];
    const acks = messages.map(
      (fixes) =>
        new Promise<Error | null>((resolve) =>
          pipeline.submit(fixes, (err) => {
            // Read at the moment of the acknowledgement: the fixes must already be stored.
            readAtAck.push(store.locations(fixes[0]?.vehicle_id as string, { limit: 10 }));
            resolve(err);
          }),
        ),
    );
    expect(pipeline.depth).toBe(6);
    expect(await Promise.all(acks)).toEqual([null, null, null]);
    expect(await Promise.all(readAtAck)).toEqual(messages);
    expect(await commitSizes()).toEqual({ count: 1, sum: 6 });
    expect((await metrics.fixesAccepted.get()).values[0]?.value).toBe(6);
    expect(pipeline.depth).toBe(0);
  });

  it("acknowledges an empty message at once", () => {
    let acked: Error | null | undefined;
    pipelineOn(store).submit([], (err) => {
      acked = err;
    });
    expect(acked).toBeNull();
  });

  it("turns a path across the fence into enter then exit, handed over in order", async () => {
    const pipeline = pipelineOn(store);
    const path = [
      fixAt("v1", 1, "out"),
      fixAt("v1", 2, "in"),
      fixAt("v1", 3, "in"),
      fixAt("v1", 4, "out"),
    ];
    // The first half in one tick, the rest in another, and a second vehicle crossing in one batch.
    const first = [submit(pipeline, [path[0] as Fix]), submit(pipeline, [path[1] as Fix])];
    await Promise.all(first);
    const other = [fixAt("v2", 1, "in"), fixAt("v2", 2, "out")];
    await Promise.all([
      submit(pipeline, [path[2] as Fix]),
      submit(pipeline, other),
      submit(pipeline, [path[3] as Fix]),
    ]);
    await pipeline.flush();

    const handed = committed.flat();
    expect(handed.map((e) => withoutClock(e.event))).toEqual([
      transition("enter", path[1] as Fix),
      transition("enter", other[0] as Fix),
      transition("exit", other[1] as Fix),
      transition("exit", path[3] as Fix),
    ]);
    const seqnos = handed.map((e) => e.seqno);
    expect([...seqnos].sort((a, b) => a - b)).toEqual(seqnos);
    expect(await store.undelivered(0, 100)).toEqual(handed);
    expect(await store.getVehicle("v1")).toMatchObject({ last_fix: path[3] });
    expect((await store.vehicleStates()).get("v1")?.inside.size).toBe(0);
  });

  it("gives no event, and no state change, for a duplicate submitted later", async () => {
    const pipeline = pipelineOn(store);
    // Two fixes at the same ts: the second leaves. A resent first one must not re-enter.
    const enter = fixAt("v1", 5, "in", 1);
    const leave = fixAt("v1", 5, "out", 2);
    expect(await submit(pipeline, [enter, leave])).toBeNull();
    expect(committed.flat().map((e) => e.event.type)).toEqual(["enter", "exit"]);

    expect(await submit(pipeline, [{ ...enter }])).toBeNull();
    expect(committed).toHaveLength(1);
    expect((await metrics.fixesDuplicate.get()).values[0]?.value).toBe(1);
    expect(await store.events({ limit: 10 })).toHaveLength(2);
    expect(await store.getVehicle("v1")).toMatchObject({ last_fix: leave });
    expect((await store.vehicleStates()).get("v1")?.inside.size).toBe(0);
    expect(engine.state("v1").inside.size).toBe(0);
  });

  it("fails every message of a failed commit, and loses nothing once the store is back", async () => {
    // The pipeline sees one store; behind it, the database is closed and later reopened.
    const ref: { current: Store } = { current: store };
    const reopenable = new Proxy(store as Store, {
      get(_, key) {
        const value = Reflect.get(ref.current, key);
        return typeof value === "function" ? value.bind(ref.current) : value;
      },
    });
    const pipeline = pipelineOn(reopenable);
    await store.close();
    const entering = fixAt("v1", 1, "in");
    const results = await Promise.all([
      submit(pipeline, [entering]),
      submit(pipeline, [fixAt("v2", 1, "out")]),
    ]);
    expect(results).toEqual([expect.any(Error), expect.any(Error)]);
    expect(committed).toEqual([]);
    // The failed commit must not have moved the engine's state on.
    expect(engine.state("v1").last_ts).toBeNull();

    const reopened = new SqliteStore(file, { synchronous: "normal" });
    stores.push(reopened);
    ref.current = reopened;
    // The broker redelivers what was not acknowledged, then newer fixes follow.
    const leaving = fixAt("v1", 2, "out");
    const retried = await Promise.all([
      submit(pipeline, [entering]),
      submit(pipeline, [fixAt("v2", 1, "out")]),
      submit(pipeline, [leaving]),
    ]);
    expect(retried).toEqual([null, null, null]);
    expect(committed.flat().map((e) => withoutClock(e.event))).toEqual([
      transition("enter", entering),
      transition("exit", leaving),
    ]);
    expect(await reopened.locations("v1", { limit: 10 })).toEqual([entering, leaving]);
    expect(await reopened.locations("v2", { limit: 10 })).toEqual([fixAt("v2", 1, "out")]);
    expect(await reopened.outboxDepth()).toBe(2);
  });

  it("writes the next group commit while one is flushed, and acknowledges in commit order", async () => {
    // Behind the pipeline, each commit's flush waits until the test releases it.
    const flushes: (() => void)[] = [];
    const slowDisk = new Proxy(store as Store, {
      get(target, key) {
        if (key === "commit") {
          return async (...args: Parameters<Store["commit"]>) => {
            const result = await target.commit(...args);
            const durable = result.durable.then(
              () => new Promise<void>((resolve) => flushes.push(resolve)),
            );
            return { ...result, durable };
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const pipeline = pipelineOn(slowDisk);
    const until = async (condition: () => boolean) => {
      while (!condition()) await new Promise((r) => setImmediate(r));
    };
    const order: string[] = [];
    const entering = fixAt("v1", 1, "in");
    const leaving = fixAt("v1", 2, "out");
    const again = fixAt("v1", 3, "in");
    pipeline.submit([entering], () => order.push("enter"));
    await until(() => flushes.length === 1);
    // The first commit is written, not flushed: the second is written meanwhile, judged from it.
    pipeline.submit([leaving], () => order.push("exit"));
    await until(() => flushes.length === 2);
    expect(await store.locations("v1", { limit: 10 })).toEqual([entering, leaving]);
    expect(engine.state("v1").last_ts).toBe(leaving.ts);
    // Two commits wait for the disk: a third is not written until one of them is flushed.
    pipeline.submit([again], () => order.push("enter again"));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(flushes).toHaveLength(2);
    expect(order).toEqual([]);
    // The second flush reports first; acknowledgements and events still follow commit order.
    (flushes[1] as () => void)();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    (flushes[0] as () => void)();
    await until(() => flushes.length === 3);
    (flushes[2] as () => void)();
    await pipeline.flush();
    expect(order).toEqual(["enter", "exit", "enter again"]);
    expect(committed.flat().map((e) => withoutClock(e.event))).toEqual([
      transition("enter", entering),
      transition("exit", leaving),
      transition("enter", again),
    ]);
  });

  it("flush waits for everything queued, including messages that arrive during commits", async () => {
    const pipeline = pipelineOn(store, 4);
    const acked: string[] = [];
    for (let m = 0; m < 10; m++) {
      const fixes = [0, 1, 2].map((i) => fixAt(`v${m}`, i, i === 1 ? "in" : "out"));
      pipeline.submit(fixes, (err) => {
        expect(err).toBeNull();
        acked.push(`v${m}`);
        if (m === 0) {
          pipeline.submit([fixAt("late", 1, "in")], (lateErr) => {
            expect(lateErr).toBeNull();
            acked.push("late");
          });
        }
      });
    }
    await pipeline.flush();
    expect(acked).toHaveLength(11);
    expect(acked).toContain("late");
    expect(pipeline.depth).toBe(0);
    const { count, sum } = await commitSizes();
    expect(sum).toBe(31);
    expect(count).toBeGreaterThan(1);
    for (let m = 0; m < 10; m++) {
      expect(await store.locations(`v${m}`, { limit: 10 })).toHaveLength(3);
    }
    // Each vehicle entered and left; the late one entered.
    expect(await store.events({ type: "enter", limit: 100 })).toHaveLength(11);
    expect(await store.events({ type: "exit", limit: 100 })).toHaveLength(10);
  });
});

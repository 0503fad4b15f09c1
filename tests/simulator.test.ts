// The simulator end to end: the real CLI (`simulator/src/main.ts`) drives a fleet of real agents
// against the real hub. Every fix arrives once with contiguous seqs, on the seeded path a test can
// recompute; the hub's events are exactly those the geofence engine computes offline; and with
// --outage (and SQLite buffers) the fixes produced while cut off arrive after it, in order.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { readBufferStats } from "@locus/agent";
import { eventId, LOCATION_TOPIC_FILTER, parseLocationTopic } from "@locus/protocol";
import { MotionModel, trackFixes, vehicleId } from "@locus/simulator";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_BBOX, DEMO_BLOCK_M, DEMO_FENCES } from "../demo/src/fences.ts";
import type { Fence } from "../hub/src/geofence/fence.ts";
import { EMPTY_VEHICLE_STATE, judgeFix } from "../hub/src/geofence/membership.ts";
import { MemoryFenceIndex } from "../hub/src/geofence/memory-index.ts";
import { api, type HubProcess, startHubProcess, tempDir } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const BBOX = `${DEMO_BBOX.west},${DEMO_BBOX.south},${DEMO_BBOX.east},${DEMO_BBOX.north}`;

interface SimulatorRun {
  code: number | string;
  /** Each output line with the time it was read. */
  lines: { at: number; text: string }[];
  output: string;
}

/** Runs the simulator CLI to its end; `onLine` sees each line as it comes. */
function runSimulator(
  args: string[],
  timeoutMs: number,
  onLine?: (text: string, at: number) => void,
): Promise<SimulatorRun> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "simulator/src/main.ts", ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: SimulatorRun["lines"] = [];
  let output = "";
  let pending = "";
  const take = (chunk: Buffer) => {
    const at = Date.now();
    output += chunk;
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const text of parts) {
      lines.push({ at, text });
      onLine?.(text, at);
    }
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`simulator did not finish in ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? "unknown", lines, output });
    });
  });
}

/** The counters of the summary's "fixes" line. */
function summary(output: string): {
  produced: number;
  acked: number;
  buffered: number;
  events: number;
} {
  const num = (re: RegExp) => Number((re.exec(output)?.[1] ?? "NaN").replaceAll(",", ""));
  return {
    produced: num(/fixes\s+([\d,]+) produced/),
    acked: num(/([\d,]+) acknowledged/),
    buffered: num(/([\d,]+) still buffered/),
    events: num(/events seen\s+([\d,]+)/),
  };
}

async function locations(hub: HubProcess, id: string): Promise<any[]> {
  const r = await api(hub, "GET", `/api/v1/vehicles/${id}/locations?limit=10000`);
  expect(r.status).toBe(200);
  return r.body.locations;
}

describe("simulator against the embedded hub", () => {
  let hub: HubProcess;
  const index = new MemoryFenceIndex();

  beforeAll(async () => {
    hub = await startHubProcess();
    for (const fence of DEMO_FENCES) {
      expect((await api(hub, "POST", "/api/v1/geofences", fence)).status).toBe(201);
    }
    const stored = await api(hub, "GET", "/api/v1/geofences?limit=1000");
    for (const f of stored.body.features) {
      const fence: Fence = {
        id: f.id,
        name: f.properties.name,
        polygons: f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates,
      };
      index.upsert(fence);
    }
    expect(index.size).toBe(DEMO_FENCES.length);
  });

  afterAll(async () => {
    if (hub) expect(await hub.stop("SIGTERM")).toBe(0);
  });

  it("delivers every fix once with contiguous seqs on the seeded path, and the events the engine computes offline", async () => {
    const seed = 20261124;
    const vehicles = 20;
    const intervalMs = 100;
    const prefix = "sim-t1-";
    const run = await runSimulator(
      [
        ...["--vehicles", String(vehicles), "--interval", `${intervalMs}ms`, "--duration", "5s"],
        ...["--seed", String(seed), "--broker", hub.mqttUrl, "--id-prefix", prefix],
        ...["--bbox", BBOX, "--block-m", String(DEMO_BLOCK_M), "--noise-m", "3"],
      ],
      90_000,
    );
    expect(run.code, run.output).toBe(0);
    const counts = summary(run.output);
    expect(counts.buffered).toBe(0);
    expect(counts.acked).toBe(counts.produced);
    expect(counts.produced).toBeGreaterThanOrEqual(vehicles * 40);

    const model = new MotionModel({ kind: "grid", bbox: DEMO_BBOX, blockM: DEMO_BLOCK_M }, 3);
    let stored = 0;
    const expectedIds: string[] = [];
    const hubIds: string[] = [];
    let vehiclesWithEvents = 0;
    for (let i = 0; i < vehicles; i++) {
      const id = vehicleId(prefix, i);
      const fixes = await locations(hub, id);
      stored += fixes.length;
      // Contiguous seqs from 0, in ts order, one interval apart: nothing lost, nothing twice.
      expect(fixes.map((f) => f.seq)).toEqual(fixes.map((_, k) => k));
      const t0 = Date.parse(fixes[0].ts);
      expect(fixes.map((f) => Date.parse(f.ts) - t0)).toEqual(fixes.map((_, k) => k * intervalMs));
      // The path is the seeded one: recomputed offline, fix for fix.
      const path = trackFixes(model, seed, i, fixes.length, intervalMs);
      expect(
        fixes.map((f) => ({
          latitude: f.latitude,
          longitude: f.longitude,
          speed: f.speed,
          heading: f.heading,
          accuracy: f.accuracy,
        })),
      ).toEqual(path);

      // The engine, offline, over the same fixes: the same transitions, hence the same event ids.
      let state = EMPTY_VEHICLE_STATE;
      const mine: string[] = [];
      for (const f of fixes) {
        const ts = Date.parse(f.ts);
        const covering = index.coveringPoint(f.longitude, f.latitude);
        const judged = judgeFix(state, { ...f, ts }, covering, index);
        state = judged.state;
        for (const t of judged.transitions) {
          mine.push(
            eventId({ vehicle_id: id, geofence_id: t.fence_id, type: t.type, ts, seq: f.seq }),
          );
        }
      }
      if (mine.length > 0) vehiclesWithEvents++;
      expectedIds.push(...mine);
      const events = await api(hub, "GET", `/api/v1/events?vehicle_id=${id}&limit=10000`);
      expect(events.status).toBe(200);
      hubIds.push(...events.body.events.map((e: any) => e.id));
    }
    expect(stored).toBe(counts.produced);
    expect(vehiclesWithEvents).toBeGreaterThanOrEqual(3);
    expect(new Set(hubIds).size).toBe(hubIds.length);
    expect([...hubIds].sort()).toEqual([...expectedIds].sort());
    // The simulator's own subscriber saw them all on locus/geofence/events.
    expect(counts.events).toBe(hubIds.length);
  }, 150_000);

  it("--outage with SQLite buffers: fixes produced while every link is cut arrive after it, in order, none lost", async () => {
    const prefix = "sim-t2-";
    const vehicles = 5;
    const lengthMs = 2500;
    // Every fix of our vehicles as it reaches the broker, with its arrival time.
    const arrivals = new Map<string, { at: number; seq: number; ts: number }[]>();
    // The number of fixes in each message, per vehicle: a backlog goes out as batches.
    const messageSizes = new Map<string, number[]>();
    // Reading every vehicle's fixes takes an observer account (CONTRACT §3).
    const observer = await api(hub, "POST", "/api/v1/clients", {
      name: "sim-t2-recorder",
      role: "observer",
    });
    expect(observer.status, JSON.stringify(observer.body)).toBe(201);
    const recorder = await mqtt.connectAsync(hub.mqttUrl, {
      reconnectPeriod: 0,
      username: observer.body.mqtt.username,
      password: observer.body.mqtt.password,
    });
    recorder.on("message", (topic, payload) => {
      const id = parseLocationTopic(topic);
      if (id === null || !id.startsWith(prefix)) return;
      const at = Date.now();
      const value = JSON.parse(payload.toString());
      const list = arrivals.get(id) ?? [];
      const fixes = Array.isArray(value) ? value : [value];
      messageSizes.set(id, [...(messageSizes.get(id) ?? []), fixes.length]);
      for (const f of fixes) {
        list.push({ at, seq: f.seq, ts: Date.parse(f.ts) });
      }
      arrivals.set(id, list);
    });
    await recorder.subscribeAsync(LOCATION_TOPIC_FILTER, { qos: 1 });

    const bufferDir = tempDir("locus-sim-buffers-");
    let cutAt = 0;
    let restoredAt = 0;
    const run = await runSimulator(
      [
        ...["--vehicles", String(vehicles), "--interval", "100ms", "--duration", "7s"],
        ...["--seed", "7", "--broker", hub.mqttUrl, "--id-prefix", prefix, "--bbox", BBOX],
        ...["--outage", `1500ms+${lengthMs}ms`, "--reconnect-max", "500ms"],
        ...["--buffer-dir", bufferDir],
      ],
      90_000,
      (text, at) => {
        if (text.startsWith("outage: ")) cutAt = at;
        if (text.startsWith("outage over")) restoredAt = at;
      },
    );
    await recorder.endAsync();
    expect(run.code, run.output).toBe(0);
    expect(cutAt).toBeGreaterThan(0);
    expect(restoredAt).toBeGreaterThan(cutAt);
    const counts = summary(run.output);
    expect(counts.buffered).toBe(0);

    let stored = 0;
    for (let i = 0; i < vehicles; i++) {
      const id = vehicleId(prefix, i);
      const fixes = await locations(hub, id);
      stored += fixes.length;
      expect(fixes.map((f) => f.seq)).toEqual(fixes.map((_, k) => k));

      const seen = arrivals.get(id) ?? [];
      // First arrivals come in seq order (resends after the reconnection may repeat some).
      const firsts: number[] = [];
      const known = new Set<number>();
      for (const a of seen) {
        if (!known.has(a.seq)) firsts.push(a.seq);
        known.add(a.seq);
      }
      expect(firsts).toEqual(fixes.map((_, k) => k));
      // A fix due after the cut was seen here was pushed behind a cut link: it arrived only once
      // the outage was over. The times compared are all this process's, in the order it saw
      // things, so a busy machine delays both sides alike; the margin covers one poll of both.
      const heldBack = seen.filter((a) => a.ts > cutAt && a.ts < restoredAt);
      expect(heldBack.length).toBeGreaterThan(0);
      for (const a of heldBack) expect(a.at).toBeGreaterThanOrEqual(restoredAt - 100);
      // What piled up during the outage went out as a backlog, in batches.
      expect(Math.max(...(messageSizes.get(id) ?? [0]))).toBeGreaterThanOrEqual(10);
      // Each vehicle's SQLite buffer: every fix acknowledged, its seq counter where REST ends.
      const buffer = readBufferStats(path.join(bufferDir, `${id}.db`));
      expect(buffer).toMatchObject({ depth: 0, nextSeq: fixes.length });
    }
    fs.rmSync(bufferDir, { recursive: true, force: true });
    expect(stored).toBe(counts.produced);
  }, 150_000);
});

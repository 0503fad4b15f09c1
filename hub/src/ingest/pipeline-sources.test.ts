// Committed fixes are counted by source, duplicates left out, whichever group commit they share.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Fix } from "@locus/protocol";
import { afterEach, beforeEach, expect, it } from "vitest";
import { GeofenceEngine } from "../geofence/engine.ts";
import { DEFAULT_JUDGE_OPTIONS } from "../geofence/membership.ts";
import { MemoryFenceIndex } from "../geofence/memory-index.ts";
import { createMetrics, type FixSource, type HubMetrics } from "../metrics.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { IngestPipeline } from "./pipeline.ts";

let dir: string;
let store: SqliteStore;
let metrics: HubMetrics;
let pipeline: IngestPipeline;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-sources-"));
  store = new SqliteStore(path.join(dir, "locus.db"), { synchronous: "normal" });
  const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
  await engine.load([], await store.vehicleStates());
  metrics = createMetrics({ outboxDepth: () => 0, connectedDevices: () => 0 });
  pipeline = new IngestPipeline({ store, engine, metrics, onEvents: () => {} });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.now() - 3_600_000;
function fix(vehicle: string, s: number): Fix {
  return { vehicle_id: vehicle, latitude: 1, longitude: 2, ts: T0 + s * 1000, ts_given: true };
}

function submit(fixes: Fix[], source: FixSource): Promise<void> {
  return new Promise((resolve, reject) =>
    pipeline.submit(fixes, (err) => (err ? reject(err) : resolve()), source),
  );
}

async function bySource(): Promise<Record<string, number>> {
  const { values } = await metrics.fixesBySource.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.source), v.value]));
}

it("counts each source's stored fixes, not its duplicates, within shared group commits", async () => {
  await submit([fix("a", 0), fix("a", 1)], "agent");
  // One group commit: new and repeated fixes from three sources.
  await Promise.all([
    submit([fix("a", 1), fix("a", 2)], "agent"),
    submit([fix("p", 0), fix("p", 0)], "owntracks"),
    submit([fix("a", 0), fix("t", 5)], "import"),
    submit([fix("t", 6)], "osmand"),
  ]);
  expect(await bySource()).toEqual({ agent: 3, owntracks: 1, osmand: 1, import: 1 });
  const accepted = (await metrics.fixesAccepted.get()).values[0]?.value;
  const duplicates = (await metrics.fixesDuplicate.get()).values[0]?.value;
  expect({ accepted, duplicates }).toEqual({ accepted: 6, duplicates: 3 });
});

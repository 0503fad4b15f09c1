// The geofences the hub scenarios load: the engine benchmark's random fences (10–50 vertices,
// 100 m–2 km across, 10% with a hole, 10% multi-part, over a square near Berlin), created through
// the REST API like any client would, and an index of them for picking test points.

import path from "node:path";
import type { Fence, Position } from "../../hub/src/geofence/fence.ts";
import { MemoryFenceIndex } from "../../hub/src/geofence/memory-index.ts";
import { SqliteStore } from "../../hub/src/store/sqlite.ts";
import { mulberry32 } from "../../tests/support/random.ts";
import { type Box, boxFor, randomFence } from "../engine.ts";
import type { Point } from "./load-plan.ts";

export interface FenceSet {
  box: Box;
  fences: Fence[];
  index: MemoryFenceIndex;
}

/** `count` random fences (seeded: every run gets the same ones). */
export function makeFences(count: number, seed = 42): FenceSet {
  const random = mulberry32(seed);
  const box = boxFor(count);
  const fences = Array.from({ length: count }, (_, i) => randomFence(`bench-${i}`, box, random));
  const index = new MemoryFenceIndex();
  index.load(fences);
  return { box, fences, index };
}

function feature(fence: Fence) {
  return {
    type: "Feature",
    properties: { name: fence.name },
    geometry:
      fence.polygons.length === 1
        ? { type: "Polygon", coordinates: fence.polygons[0] }
        : { type: "MultiPolygon", coordinates: fence.polygons },
  };
}

/**
 * Creates every fence with `POST /api/v1/geofences`, `concurrency` requests at a time. Returns
 * the hub's ids by fence name and the rate achieved.
 */
export async function postFences(
  hub: { httpUrl: string; token: string },
  fences: readonly Fence[],
  concurrency = 8,
): Promise<{ ids: Map<string, string>; perSecond: number }> {
  const ids = new Map<string, string>();
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < fences.length) {
      const fence = fences[next++] as Fence;
      const res = await fetch(`${hub.httpUrl}/api/v1/geofences`, {
        method: "POST",
        headers: { authorization: `Bearer ${hub.token}`, "content-type": "application/json" },
        body: JSON.stringify(feature(fence)),
      });
      const body = (await res.json()) as { id?: string; message?: string };
      if (res.status !== 201 || body.id === undefined) {
        throw new Error(`POST geofence ${fence.name}: ${res.status} ${body.message ?? ""}`);
      }
      ids.set(fence.name, body.id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ids, perSecond: fences.length / ((performance.now() - started) / 1000) };
}

/**
 * For each of `vehicles`, a point inside exactly one fence and a point outside every fence, near
 * each other: alternating between them gives one event per fix (enter, exit, enter, …).
 */
export function alternatingPoints(set: FenceSet, vehicles: number): [Point, Point][] {
  const random = mulberry32(7);
  const [west, south, east, north] = set.box;
  const pairs: [Point, Point][] = [];
  const fences = set.fences.filter((f) => f.polygons.length === 1);
  for (let attempt = 0; pairs.length < vehicles && attempt < vehicles * 1000; attempt++) {
    const fence = fences[Math.floor(random() * fences.length)] as Fence;
    const shell = fence.polygons[0]?.[0] as readonly Position[];
    const inside = pickInside(set, fence.id, shell, random);
    if (inside === null) continue;
    for (let k = 0; k < 20; k++) {
      const out: Point = [
        Math.min(east, Math.max(west, inside[0] + (random() - 0.5) * 0.05)),
        Math.min(north, Math.max(south, inside[1] + (random() - 0.5) * 0.05)),
      ];
      if (set.index.coveringPoint(out[0], out[1]).length === 0) {
        pairs.push([inside, out]);
        break;
      }
    }
  }
  if (pairs.length < vehicles) throw new Error("could not find enough in/out point pairs");
  return pairs;
}

/** A point covered by this fence and no other, or null. */
function pickInside(
  set: FenceSet,
  id: string,
  shell: readonly Position[],
  random: () => number,
): Point | null {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of shell) {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  }
  for (let k = 0; k < 50; k++) {
    const x = minX + random() * (maxX - minX);
    const y = minY + random() * (maxY - minY);
    const covering = set.index.coveringPoint(x, y);
    if (covering.length === 1 && covering[0] === id) return [x, y];
  }
  return null;
}

/**
 * Writes the fences straight into a new embedded hub's SQLite file, through the hub's own store
 * code, before the hub starts (it loads them into its index at start). The REST API would take
 * tens of seconds for 10,000, one fsynced commit each; this path skips only the geometry
 * validation, which these generated fences pass (they are built valid and normalised).
 */
export async function seedSqlite(dataDir: string, fences: readonly Fence[]): Promise<void> {
  const store = new SqliteStore(path.join(dataDir, "locus.db"), { synchronous: "normal" });
  try {
    const now = Date.now();
    for (const fence of fences) {
      await store.createGeofence(
        {
          name: fence.name,
          geometry_type: fence.polygons.length === 1 ? "Polygon" : "MultiPolygon",
          polygons: fence.polygons,
          properties: {},
          hysteresis_m: null,
          max_accuracy_m: null,
          dwell_s: null,
          detect_crossing: false,
        },
        now,
      );
    }
  } finally {
    await store.close();
  }
}

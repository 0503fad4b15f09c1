// LiveFences: every geofence change, local or announced by another hub, applied once, in order,
// and only when newer than the one applied; a deleted fence stays deleted.

import { describe, expect, it } from "vitest";
import { LiveFeed, type LiveListener } from "../live/feed.ts";
import type { GeofenceRecord } from "../store/store.ts";
import { LiveFences } from "./live-fences.ts";
import { MapFenceRegistry, square } from "./test-support.ts";

function record(id: string, name: string, version?: number): GeofenceRecord {
  return {
    id,
    name,
    geometry_type: "Polygon",
    polygons: [[square(0, 0) as [number, number][]]],
    properties: { name },
    hysteresis_m: null,
    max_accuracy_m: null,
    dwell_s: null,
    detect_crossing: false,
    created_at: 0,
    updated_at: 0,
    ...(version === undefined ? {} : { version }),
  };
}

function setup() {
  const engine = new MapFenceRegistry();
  const feed = new LiveFeed();
  const ops: string[] = [];
  const listener: LiveListener = {
    message: (message) => {
      const m = JSON.parse(message.data.toString());
      ops.push(`${m.op}:${m.geofence?.properties.name ?? m.id}`);
    },
  };
  feed.subscribe(listener);
  return { engine, fences: new LiveFences(engine, feed), ops };
}

describe("LiveFences", () => {
  it("applies a versioned change only when newer, whatever order the calls come in", async () => {
    const { engine, fences, ops } = setup();
    fences.loaded([record("a", "a1", 1)]);
    expect(await fences.upsert(record("a", "a1", 1))).toBe(false);
    expect(await fences.upsert(record("a", "a3", 3))).toBe(true);
    // Version 2 applied late (a local replace overtaken by another hub's): changes nothing.
    expect(await fences.upsert(record("a", "a2", 2))).toBe(false);
    expect(engine.fences.get("a")?.name).toBe("a3");
    expect(ops).toEqual(["upsert:a3"]);
  });

  it("keeps a deleted fence deleted, and streams its deletion once", async () => {
    const { engine, fences, ops } = setup();
    await fences.upsert(record("b", "b1", 1));
    expect(await fences.remove("b")).toBe(true);
    expect(await fences.remove("b")).toBe(false);
    expect(await fences.upsert(record("b", "b2", 2))).toBe(false);
    expect(engine.fences.has("b")).toBe(false);
    expect(fences.versionedIds()).toEqual([]);
    expect(ops).toEqual(["upsert:b1", "delete:b"]);
  });

  it("applies unversioned records (SQLite) every time, in call order", async () => {
    const { engine, fences, ops } = setup();
    await Promise.all([fences.upsert(record("c", "c1")), fences.upsert(record("c", "c2"))]);
    expect(engine.fences.get("c")?.name).toBe("c2");
    expect(ops).toEqual(["upsert:c1", "upsert:c2"]);
  });
});

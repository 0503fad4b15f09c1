// The engine's answer to "who is inside": kept in step with the states it applies, from the
// states it loads at start, and empty for a fence it no longer knows. And crossings between the
// fixes of one group commit, looked up only while some fence detects them.

import type { Fix } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import type { GeofenceRecord } from "../store/store.ts";
import { GeofenceEngine } from "./engine.ts";
import type { Box } from "./fence-index.ts";
import { DEFAULT_JUDGE_OPTIONS } from "./membership.ts";
import { MemoryFenceIndex } from "./memory-index.ts";

const T0 = Date.UTC(2026, 11, 6, 12);

function square(id: string, west: number): GeofenceRecord {
  const ring: [number, number][] = [
    [west, 0],
    [west + 1, 0],
    [west + 1, 1],
    [west, 1],
    [west, 0],
  ];
  return {
    id,
    name: id,
    geometry_type: "Polygon",
    polygons: [[ring]],
    properties: { name: id },
    hysteresis_m: null,
    max_accuracy_m: null,
    dwell_s: null,
    detect_crossing: false,
    created_at: T0,
    updated_at: T0,
  };
}

function fix(vehicle_id: string, s: number, longitude: number): Fix {
  return { vehicle_id, latitude: 0.5, longitude, ts: T0 + s * 1000, ts_given: true };
}

async function step(engine: GeofenceEngine, fixes: Fix[]): Promise<void> {
  engine.apply(await engine.judge(fixes, T0));
}

describe("GeofenceEngine.vehiclesInside", () => {
  it("follows enters and exits, per fence, in id order", async () => {
    const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    await engine.load([square("a", 0), square("b", 10)], new Map());
    await step(engine, [fix("v2", 1, 0.5), fix("v1", 1, 0.5), fix("v3", 1, 10.5)]);
    expect(engine.vehiclesInside("a")).toEqual(["v1", "v2"]);
    expect(engine.vehiclesInside("b")).toEqual(["v3"]);
    // v1 moves from a to b; v2 leaves everything.
    await step(engine, [fix("v1", 2, 10.5), fix("v2", 2, 5)]);
    expect(engine.vehiclesInside("a")).toEqual([]);
    expect(engine.vehiclesInside("b")).toEqual(["v1", "v3"]);
    // A fix older than the newest is history: it changes nobody's place.
    await step(engine, [fix("v1", 1, 0.5)]);
    expect(engine.vehiclesInside("b")).toEqual(["v1", "v3"]);
  });

  it("starts from the loaded states, and answers nothing for a removed or unknown fence", async () => {
    const first = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    await first.load([square("a", 0)], new Map());
    await step(first, [fix("v1", 1, 0.5)]);
    const restarted = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    await restarted.load([square("a", 0)], new Map([["v1", first.state("v1")]]));
    expect(restarted.vehiclesInside("a")).toEqual(["v1"]);
    await restarted.remove("a");
    expect(restarted.vehiclesInside("a")).toEqual([]);
    expect(restarted.vehiclesInside("nope")).toEqual([]);
  });
});

describe("GeofenceEngine state versions", () => {
  it("judges from the version it holds, counts its own writes, and takes stored states again", async () => {
    const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    await engine.load(
      [square("a", 0)],
      new Map([["v1", { state: { last_ts: null, inside: new Map() }, version: 4 }]]),
    );
    const first = await engine.judge([fix("v1", 1, 0.5), fix("v1", 2, 0.5), fix("v2", 1, 5)], T0);
    expect(first.vehicles.map((v) => [v.vehicle_id, v.base_version])).toEqual([
      ["v1", 4],
      ["v2", 0],
    ]);
    engine.apply(first);
    const second = await engine.judge([fix("v1", 3, 5)], T0);
    expect(second.vehicles[0]?.base_version).toBe(5);
    expect(second.events.map((e) => e.type)).toEqual(["exit"]);

    // Another hub moved v1 out and on (version 9); v2 has no stored state.
    const elsewhere = { last_ts: T0 + 9000, inside: new Map() };
    engine.reload(["v1", "v2"], new Map([["v1", { state: elsewhere, version: 9 }]]));
    expect(engine.vehiclesInside("a")).toEqual([]);
    const again = await engine.judge([fix("v1", 3, 5), fix("v2", 2, 0.5)], T0);
    // v1's fix is older than its stored state now: history only.
    expect(again.vehicles.map((v) => [v.vehicle_id, v.base_version])).toEqual([["v2", 0]]);
    expect(again.events.map((e) => [e.vehicle_id, e.type])).toEqual([["v2", "enter"]]);
  });
});

describe("GeofenceEngine with circles and corridors", () => {
  /** Degrees of latitude for `m` metres along a meridian, on the model sphere. */
  const north = (m: number) => (m / 6_371_008.771_415) * (180 / Math.PI);
  const at = (vehicle_id: string, s: number, latitude: number, accuracy?: number): Fix => {
    const f: Fix = { vehicle_id, latitude, longitude: 20, ts: T0 + s * 1000, ts_given: true };
    if (accuracy !== undefined) f.accuracy = accuracy;
    return f;
  };
  const shaped = (id: string, extra: Partial<GeofenceRecord>): GeofenceRecord => ({
    ...square(id, 0),
    polygons: [],
    ...extra,
  });

  it("enters at the edge, exits only beyond the hysteresis band, dwells, and gates accuracy", async () => {
    const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    const circle = shaped("c", {
      geometry_type: "Point",
      circle: { center: [20, 0], radius_m: 100 },
      hysteresis_m: 20,
      max_accuracy_m: 50,
      dwell_s: 60,
    });
    // The corridor runs north along the meridian 20°E from the circle's centre; 60 m wide.
    const corridor = shaped("r", {
      geometry_type: "LineString",
      corridor: {
        line: [
          [20, 0],
          [20, 1],
        ],
        width_m: 60,
      },
      hysteresis_m: 5,
    });
    await engine.load([circle, corridor], new Map());
    const types = async (f: Fix) => {
      const decision = await engine.judge([f], T0);
      engine.apply(decision);
      return decision.events.map((e) => `${e.type} ${e.geofence_id}`);
    };
    // South of the centre: only the circle (the corridor ends at the centre, 30 m round).
    expect(await types(at("v", 0, -north(99.9)))).toEqual(["enter c"]);
    expect(engine.vehiclesInside("c")).toEqual(["v"]);
    expect(await types(at("v", 1, -north(115)))).toEqual([]);
    expect(await types(at("v", 2, -north(119.9), 80))).toEqual([]);
    expect(await types(at("v", 3, -north(150), 80))).toEqual([]);
    expect(await types(at("v", 61, -north(110)))).toEqual(["dwell c"]);
    expect(await types(at("v", 62, -north(120.1)))).toEqual(["exit c"]);
    expect(engine.vehiclesInside("c")).toEqual([]);
    // Along the corridor: enter both near the centre, leave the circle, then the corridor.
    expect(await types(at("v", 63, north(20)))).toEqual(["enter c", "enter r"]);
    expect(await types(at("v", 64, north(5000)))).toEqual(["exit c"]);
    expect(engine.vehiclesInside("r")).toEqual(["v"]);
  });
});

/** The real in-memory index, counting the segment lookups it is asked for. */
class CountingIndex extends MemoryFenceIndex {
  segmentLookups = 0;
  override crossingCandidates(boxes: readonly Box[]): string[][] {
    this.segmentLookups++;
    return super.crossingCandidates(boxes);
  }
}

describe("GeofenceEngine crossings", () => {
  const gate = (id: string, west: number) => ({ ...square(id, west), detect_crossing: true });

  it("judges the segments between fixes of one group commit, each before its fix's own events", async () => {
    const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
    await engine.load([gate("a", 0), square("b", 10)], new Map());
    // -1 → 2 crosses a (between s 1 and 2); 2 → 10.5 crosses nothing new and enters b.
    const decision = await engine.judge(
      [fix("v1", 0, -1), fix("v1", 3, 2), fix("v1", 5, 10.5)],
      T0,
    );
    expect(decision.events.map((e) => [e.type, e.geofence_id, e.ts, e.interpolated])).toEqual([
      ["enter", "a", new Date(T0 + 1000).toISOString(), true],
      ["exit", "a", new Date(T0 + 2000).toISOString(), true],
      ["enter", "b", new Date(T0 + 5000).toISOString(), undefined],
    ]);
    // Judged again from the same state (a redelivery after a crash): the same ids.
    const again = await engine.judge([fix("v1", 0, -1), fix("v1", 3, 2), fix("v1", 5, 10.5)], T0);
    expect(again.events.map((e) => e.id)).toEqual(decision.events.map((e) => e.id));
    // Interpolated stays are no membership: nobody is inside a afterwards.
    engine.apply(decision);
    expect(engine.vehiclesInside("a")).toEqual([]);
    expect(engine.state("v1").last_position).toMatchObject({ longitude: 10.5, latitude: 0.5 });
  });

  it("keeps positions and asks the index for segments only while a fence detects crossings", async () => {
    const index = new CountingIndex();
    const engine = new GeofenceEngine(index, DEFAULT_JUDGE_OPTIONS);
    await engine.load([square("a", 0)], new Map());
    await step(engine, [fix("v1", 0, -1), fix("v1", 3, 2)]);
    expect(index.segmentLookups).toBe(0);
    expect(engine.state("v1").last_position).toBeUndefined();
    // A new crossing fence is judged from the segment that starts at each vehicle's next fix.
    await engine.upsert(gate("a", 0));
    await step(engine, [fix("v1", 4, -1)]);
    expect(index.segmentLookups).toBe(0);
    await step(engine, [fix("v1", 5, 2)]);
    expect(index.segmentLookups).toBe(1);
    await engine.upsert(square("a", 0));
    await step(engine, [fix("v1", 6, -1)]);
    expect(index.segmentLookups).toBe(1);
    expect(engine.state("v1").last_position).toBeUndefined();
    await engine.upsert(gate("c", 20));
    await engine.remove("c");
    await step(engine, [fix("v1", 7, 2)]);
    expect(index.segmentLookups).toBe(1);
  });

  it("gives no crossing over a gap longer than crossingMaxGapMs", async () => {
    const engine = new GeofenceEngine(new MemoryFenceIndex(), {
      ...DEFAULT_JUDGE_OPTIONS,
      crossingMaxGapMs: 2000,
    });
    await engine.load([gate("a", 0)], new Map());
    const slow = await engine.judge([fix("v1", 0, -1), fix("v1", 3, 2)], T0);
    expect(slow.events).toEqual([]);
    const quick = await engine.judge([fix("v1", 0, -1), fix("v1", 2, 2)], T0);
    expect(quick.events.map((e) => e.type)).toEqual(["enter", "exit"]);
  });

  it("judges crossings of a circle and a corridor marked detect_crossing", async () => {
    const index = new CountingIndex();
    const engine = new GeofenceEngine(index, DEFAULT_JUDGE_OPTIONS);
    // A circle and a corridor on the way from (0, 0.5) to (1, 0.5), neither fix inside either.
    const circle = {
      ...square("c", 0),
      geometry_type: "Point" as const,
      polygons: [],
      circle: { center: [0.25, 0.5] as const, radius_m: 1000 },
      detect_crossing: true,
    };
    const corridor = {
      ...square("r", 0),
      geometry_type: "LineString" as const,
      polygons: [],
      corridor: {
        line: [
          [0.75, 0],
          [0.75, 1],
        ] as const,
        width_m: 1000,
      },
      detect_crossing: true,
    };
    await engine.load([circle, corridor], new Map());
    const decision = await engine.judge([fix("v1", 0, 0), fix("v1", 10, 1)], T0);
    expect(decision.events.map((e) => [e.type, e.geofence_id, e.interpolated])).toEqual([
      ["enter", "c", true],
      ["exit", "c", true],
      ["enter", "r", true],
      ["exit", "r", true],
    ]);
    expect(index.crossingCandidates([[-2, -2, 3, 3]])).toEqual([["c", "r"]]);
    // Without detect_crossing, the same fixes pass unseen.
    await engine.upsert({ ...circle, detect_crossing: false });
    const quiet = await engine.judge([fix("v2", 0, 0), fix("v2", 10, 0.5)], T0);
    expect(quiet.events).toEqual([]);
  });
});

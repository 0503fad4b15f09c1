// The engine's answer to "who is inside": kept in step with the states it applies, from the
// states it loads at start, and empty for a fence it no longer knows.

import type { Fix } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import type { GeofenceRecord } from "../store/store.ts";
import { GeofenceEngine } from "./engine.ts";
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

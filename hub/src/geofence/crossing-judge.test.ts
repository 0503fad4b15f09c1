// judgeCrossings rule by rule: which segments give interpolated pairs, at what time and place,
// in what order. Fences are squares in metres near Berlin; the fix's own covering comes from a
// real MemoryFenceIndex.

import { describe, expect, it } from "vitest";
import { crossableShape } from "./crossing.ts";
import {
  type CrossingFence,
  type CrossingOptions,
  type CrossingTransition,
  judgeCrossings,
} from "./crossing-judge.ts";
import type { Fence, Position } from "./fence.ts";
import {
  EMPTY_VEHICLE_STATE,
  type JudgedFix,
  judgeFix,
  type Membership,
  type VehicleState,
} from "./membership.ts";
import { MemoryFenceIndex } from "./memory-index.ts";

const LAT = 52.5;
const LON = 13.4;
const M_PER_DEG_LAT = (6_371_008.8 * Math.PI) / 180;
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((LAT * Math.PI) / 180);
const T0 = Date.UTC(2026, 11, 6, 12);

function at(east: number, north: number): Position {
  return [LON + east / M_PER_DEG_LON, LAT + north / M_PER_DEG_LAT];
}

function fence(id: string, x0: number, y0: number, x1: number, y1: number, extra = {}): Fence {
  const ring = [at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1), at(x0, y0)];
  return { id, name: id, polygons: [[ring]], detect_crossing: true, ...extra };
}

function fix(east: number, north: number, seconds: number, accuracy?: number): JudgedFix {
  const [longitude, latitude] = at(east, north);
  const f: JudgedFix = { longitude, latitude, ts: T0 + seconds * 1000 };
  if (accuracy !== undefined) f.accuracy = accuracy;
  return f;
}

const OPTIONS: CrossingOptions = { defaultMaxAccuracyM: Infinity, maxGapMs: 600_000 };

/** The state after `first` was judged, optionally inside some fences. */
function after(first: JudgedFix, inside: string[] = []): VehicleState {
  // As the engine keeps it while some fence detects crossings.
  const state = {
    ...judgeFix(EMPTY_VEHICLE_STATE, first, [], new Map()).state,
    last_position: first,
  };
  const memberships = new Map<string, Membership>(
    inside.map((id) => [id, { entered_at: first.ts, dwell_emitted: false }]),
  );
  return { ...state, inside: memberships };
}

function judge(
  fences: Fence[],
  state: VehicleState,
  next: JudgedFix,
  options: CrossingOptions = OPTIONS,
): CrossingTransition[] {
  const index = new MemoryFenceIndex();
  index.load(fences);
  const lookup = new Map<string, CrossingFence>(
    fences.map((f) => [f.id, { fence: f, shape: crossableShape(f) }]),
  );
  const covering = index.coveringPoint(next.longitude, next.latitude);
  const ids = fences.map((f) => f.id);
  return judgeCrossings(state, next, ids, covering, lookup, options);
}

function brief(ts: CrossingTransition[]): string[] {
  return ts.map((t) => `${t.type}:${t.fence_id}@${(t.ts - T0) / 1000}#${t.ordinal}`);
}

// 60 m wide, crossed by fixes 100 m apart.
const SIXTY = fence("f", 20, -30, 80, 30);

describe("judgeCrossings", () => {
  it("gives enter then exit, interpolated in time and place, for a fence between two fixes", () => {
    const out = judge([SIXTY], after(fix(0, 0, 0)), fix(100, 0, 10));
    expect(brief(out)).toEqual(["enter:f@2#0", "exit:f@8#0"]);
    const [enter, exit] = out as [CrossingTransition, CrossingTransition];
    const [lon20, lat0] = at(20, 0);
    const [lon80] = at(80, 0);
    expect(enter.longitude).toBeCloseTo(lon20, 9);
    expect(enter.latitude).toBeCloseTo(lat0, 9);
    expect(exit.longitude).toBeCloseTo(lon80, 9);
  });

  it("gives nothing when the fence does not detect crossings, or is unknown (deleted)", () => {
    const off = fence("f", 20, -30, 80, 30, { detect_crossing: false });
    expect(judge([off], after(fix(0, 0, 0)), fix(100, 0, 10))).toEqual([]);
    const state = after(fix(0, 0, 0));
    const next = fix(100, 0, 10);
    expect(judgeCrossings(state, next, ["gone"], [], new Map(), OPTIONS)).toEqual([]);
  });

  it("gives nothing when either fix is inside: ordinary enter/exit tell that", () => {
    expect(judge([SIXTY], after(fix(0, 0, 0)), fix(50, 0, 10))).toEqual([]);
    expect(judge([SIXTY], after(fix(50, 0, 0), ["f"]), fix(100, 0, 10))).toEqual([]);
    // Inside by the state only (a hysteresis band, say): still not a crossing.
    expect(judge([SIXTY], after(fix(0, 0, 0), ["f"]), fix(100, 0, 10))).toEqual([]);
    // The segment starts inside a fence the state does not know yet (created since).
    expect(judge([SIXTY], after(fix(50, 0, 0)), fix(100, 0, 10))).toEqual([]);
    // Ending exactly on the boundary: covered, so inside.
    expect(judge([SIXTY], after(fix(0, 0, 0)), fix(20, 0, 10))).toEqual([]);
  });

  it("gives nothing for the first fix, a segment that misses, or one that only grazes a corner", () => {
    expect(judge([SIXTY], EMPTY_VEHICLE_STATE, fix(100, 0, 10))).toEqual([]);
    expect(judge([SIXTY], after(fix(0, 40, 0)), fix(100, 40, 10))).toEqual([]);
    // A state stored before positions were kept: no previous position, no segment.
    const old: VehicleState = { last_ts: T0, inside: new Map() };
    expect(judge([SIXTY], old, fix(100, 0, 10))).toEqual([]);
  });

  it("gives nothing over a gap longer than maxGapMs; exactly maxGapMs still counts", () => {
    const options = { ...OPTIONS, maxGapMs: 60_000 };
    expect(judge([SIXTY], after(fix(0, 0, 0)), fix(100, 0, 61), options)).toEqual([]);
    expect(brief(judge([SIXTY], after(fix(0, 0, 0)), fix(100, 0, 60), options))).toEqual([
      "enter:f@12#0",
      "exit:f@48#0",
    ]);
  });

  it("gives nothing when either fix is too inaccurate for the fence", () => {
    const strict = fence("f", 20, -30, 80, 30, { max_accuracy_m: 25 });
    expect(judge([strict], after(fix(0, 0, 0, 40)), fix(100, 0, 10))).toEqual([]);
    expect(judge([strict], after(fix(0, 0, 0)), fix(100, 0, 10, 40))).toEqual([]);
    expect(judge([strict], after(fix(0, 0, 0, 20)), fix(100, 0, 10, 20))).toHaveLength(2);
    const byDefault = { ...OPTIONS, defaultMaxAccuracyM: 10 };
    expect(judge([SIXTY], after(fix(0, 0, 0, 20)), fix(100, 0, 10), byDefault)).toEqual([]);
  });

  it("gives nothing across the antimeridian, where the straight line goes the other way round", () => {
    const f = {
      ...SIXTY,
      polygons: [
        [
          [
            [0, -1],
            [1, -1],
            [1, 1],
            [0, 1],
            [0, -1],
          ] as Position[],
        ],
      ],
    };
    const state = after({ longitude: 179.5, latitude: 0, ts: T0 });
    const next = { longitude: -179.5, latitude: 0, ts: T0 + 1000 };
    expect(judge([f], state, next)).toEqual([]);
  });

  it("gives a pair for each pass through a hole, ordinals counting per fence and type", () => {
    const ring = (x0: number, x1: number) => [
      at(x0, -30),
      at(x1, -30),
      at(x1, 30),
      at(x0, 30),
      at(x0, -30),
    ];
    const donut: Fence = {
      id: "d",
      name: "d",
      detect_crossing: true,
      polygons: [[ring(20, 80), ring(40, 60).reverse()]],
    };
    expect(brief(judge([donut], after(fix(0, 0, 0)), fix(100, 0, 100)))).toEqual([
      "enter:d@20#0",
      "exit:d@40#0",
      "enter:d@60#1",
      "exit:d@80#1",
    ]);
  });

  it("orders crossings of several fences by where they happen, an exit before an enter", () => {
    const left = fence("z-left", 10, -30, 50, 30);
    const right = fence("a-right", 50, -30, 90, 30);
    const inner = fence("m-inner", 20, -10, 30, 10);
    expect(brief(judge([left, right, inner], after(fix(0, 0, 0)), fix(100, 0, 100)))).toEqual([
      "enter:z-left@10#0",
      "enter:m-inner@20#0",
      "exit:m-inner@30#0",
      "exit:z-left@50#0",
      "enter:a-right@50#0",
      "exit:a-right@90#0",
    ]);
  });
});

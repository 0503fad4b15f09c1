// judgeFix, rule by rule (CONTRACT §4 plus the jitter controls), as tables of fixes and the
// transitions each must produce. Geometry is real: fences are squares in metres near Berlin.

import { describe, expect, it } from "vitest";
import type { Fence, Position, Ring } from "./fence.ts";
import {
  EMPTY_VEHICLE_STATE,
  type JudgeOptions,
  judgeFix,
  type Membership,
  type VehicleState,
} from "./membership.ts";
import { MemoryFenceIndex } from "./memory-index.ts";

const LAT = 52.5;
const LON = 13.4;
const M_PER_DEG_LAT = (6_371_008.8 * Math.PI) / 180;
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((LAT * Math.PI) / 180);

function at(east: number, north: number): Position {
  return [LON + east / M_PER_DEG_LON, LAT + north / M_PER_DEG_LAT];
}

function square(x0: number, y0: number, x1: number, y1: number): Ring {
  return [at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1), at(x0, y0)];
}

/** A fence over the square [x0, x1] × [y0, y1] metres east and north of the origin. */
function fence(id: string, x0: number, y0: number, x1: number, y1: number, extra = {}): Fence {
  return { id, name: id, polygons: [[square(x0, y0, x1, y1)]], ...extra };
}

interface Step {
  /** Metres east and north of the origin. */
  at: [number, number];
  /** Seconds. */
  t: number;
  accuracy?: number;
  /** Catalogue changes made before this fix. */
  upsert?: Fence[];
  remove?: string[];
  /** Transitions as "type:fence". */
  expect: string[];
  /** Fences the vehicle is inside afterwards, when worth checking. */
  inside?: string[];
}

interface Case {
  name: string;
  fences: Fence[];
  options?: JudgeOptions;
  steps: Step[];
}

const A = fence("a", 0, 0, 1000, 1000);
const B = fence("b", 1000, 0, 2000, 1000);
const OFF: JudgeOptions = { defaultMaxAccuracyM: Number.POSITIVE_INFINITY };

const cases: Case[] = [
  {
    name: "the first fix inside gives enter",
    fences: [A],
    steps: [{ at: [500, 500], t: 0, expect: ["enter:a"], inside: ["a"] }],
  },
  {
    name: "the first fix outside gives nothing; then enter, stay, exit, stay out",
    fences: [A],
    steps: [
      { at: [-500, 500], t: 0, expect: [], inside: [] },
      { at: [500, 500], t: 1, expect: ["enter:a"] },
      { at: [600, 500], t: 2, expect: [] },
      { at: [1500, 500], t: 3, expect: ["exit:a"], inside: [] },
      { at: [1600, 500], t: 4, expect: [] },
    ],
  },
  {
    name: "a point on the boundary is inside",
    fences: [A],
    steps: [
      { at: [0, 500], t: 0, expect: ["enter:a"] },
      { at: [1000, 1000], t: 1, expect: [] },
    ],
  },
  {
    name: "an older fix changes nothing, whether it would enter or exit",
    fences: [A],
    steps: [
      { at: [-500, 500], t: 10, expect: [] },
      { at: [500, 500], t: 5, expect: [], inside: [] },
      { at: [500, 500], t: 11, expect: ["enter:a"] },
      { at: [-500, 500], t: 9, expect: [], inside: ["a"] },
      { at: [500, 500], t: 12, expect: [] },
    ],
  },
  {
    name: "a fix with the same ts as the latest is applied",
    fences: [A],
    steps: [
      { at: [500, 500], t: 10, expect: ["enter:a"] },
      { at: [-500, 500], t: 10, expect: ["exit:a"] },
    ],
  },
  {
    name: "leaving one fence for another: exit before enter",
    fences: [A, B],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:a"] },
      { at: [1500, 500], t: 1, expect: ["exit:a", "enter:b"] },
      { at: [500, 500], t: 2, expect: ["exit:b", "enter:a"] },
    ],
  },
  {
    name: "several enters and exits at once, each group sorted by id",
    fences: [fence("c", 0, 0, 100, 100), fence("a", 0, 0, 100, 100), fence("b", 50, 50, 100, 100)],
    steps: [
      { at: [60, 60], t: 0, expect: ["enter:a", "enter:b", "enter:c"] },
      { at: [500, 500], t: 1, expect: ["exit:a", "exit:b", "exit:c"] },
    ],
  },
  {
    name: "a deleted fence gives no exit, and its membership is dropped",
    fences: [A, B],
    steps: [
      { at: [1000, 500], t: 0, expect: ["enter:a", "enter:b"] },
      { at: [5000, 500], t: 1, remove: ["a"], expect: ["exit:b"], inside: [] },
      { at: [500, 500], t: 2, expect: [] },
    ],
  },
  {
    name: "a deleted fence is dropped even while the vehicle is still in its area",
    fences: [A],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:a"] },
      { at: [500, 500], t: 1, remove: ["a"], expect: [], inside: [] },
    ],
  },
  {
    name: "a new fence is judged from the next fix, as from outside",
    fences: [A],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:a"] },
      { at: [500, 500], t: 1, upsert: [fence("n", 400, 400, 600, 600)], expect: ["enter:n"] },
      { at: [500, 500], t: 2, upsert: [fence("far", 5000, 5000, 6000, 6000)], expect: [] },
    ],
  },
  {
    name: "a fence moved away from the vehicle gives exit",
    fences: [A],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:a"] },
      { at: [500, 500], t: 1, upsert: [fence("a", 2000, 2000, 3000, 3000)], expect: ["exit:a"] },
    ],
  },
  {
    name: "hysteresis: no exit within the band, exit beyond it, entry not widened",
    fences: [fence("h", 0, 0, 1000, 1000, { hysteresis_m: 50 })],
    steps: [
      { at: [-30, 500], t: 0, expect: [] },
      { at: [500, 500], t: 1, expect: ["enter:h"] },
      { at: [1030, 500], t: 2, expect: [], inside: ["h"] },
      { at: [1049, 500], t: 3, expect: [] },
      { at: [1070, 500], t: 4, expect: ["exit:h"], inside: [] },
      { at: [1030, 500], t: 5, expect: [] },
      { at: [1000, 500], t: 6, expect: ["enter:h"] },
    ],
  },
  {
    name: "hysteresis of one fence does not hold another",
    fences: [fence("h", 0, 0, 1000, 1000, { hysteresis_m: 50 }), fence("p", 0, 0, 1000, 1000)],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:h", "enter:p"] },
      { at: [1020, 500], t: 1, expect: ["exit:p"], inside: ["h"] },
    ],
  },
  {
    name: "a fence's max_accuracy_m freezes its membership on worse fixes",
    fences: [fence("q", 0, 0, 1000, 1000, { max_accuracy_m: 20 })],
    steps: [
      { at: [500, 500], t: 0, accuracy: 50, expect: [], inside: [] },
      { at: [500, 500], t: 1, accuracy: 20, expect: ["enter:q"] },
      { at: [-500, 500], t: 2, accuracy: 21, expect: [], inside: ["q"] },
      { at: [-500, 500], t: 3, expect: ["exit:q"] },
    ],
  },
  {
    name: "the global accuracy default applies to fences without their own limit",
    fences: [
      fence("own", 0, 0, 1000, 1000, { max_accuracy_m: 100 }),
      fence("dflt", 0, 0, 1000, 1000),
    ],
    options: { defaultMaxAccuracyM: 30 },
    steps: [
      { at: [500, 500], t: 0, accuracy: 50, expect: ["enter:own"] },
      { at: [500, 500], t: 1, accuracy: 30, expect: ["enter:dflt"] },
      { at: [500, 500], t: 2, accuracy: 500, expect: [] },
    ],
  },
  {
    name: "a fix too inaccurate to judge still advances last_ts",
    fences: [fence("q", 0, 0, 1000, 1000, { max_accuracy_m: 20 })],
    steps: [
      { at: [500, 500], t: 10, accuracy: 99, expect: [] },
      { at: [500, 500], t: 9, accuracy: 5, expect: [] },
      { at: [500, 500], t: 10, accuracy: 5, expect: ["enter:q"] },
    ],
  },
  {
    name: "dwell once per stay, reset by exit",
    fences: [fence("d", 0, 0, 1000, 1000, { dwell_s: 60 })],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:d"] },
      { at: [500, 500], t: 30, expect: [] },
      { at: [500, 500], t: 60, expect: ["dwell:d"] },
      { at: [500, 500], t: 120, expect: [] },
      { at: [-500, 500], t: 130, expect: ["exit:d"] },
      { at: [500, 500], t: 140, expect: ["enter:d"] },
      { at: [500, 500], t: 199, expect: [] },
      { at: [500, 500], t: 250, expect: ["dwell:d"] },
    ],
  },
  {
    name: "no dwell judged on a fix too inaccurate for the fence",
    fences: [fence("d", 0, 0, 1000, 1000, { dwell_s: 60, max_accuracy_m: 10 })],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:d"] },
      { at: [500, 500], t: 90, accuracy: 50, expect: [] },
      { at: [500, 500], t: 91, expect: ["dwell:d"] },
    ],
  },
  {
    name: "dwell_s of 0 is off",
    fences: [fence("z", 0, 0, 1000, 1000, { dwell_s: 0 })],
    steps: [
      { at: [500, 500], t: 0, expect: ["enter:z"] },
      { at: [500, 500], t: 100, expect: [] },
    ],
  },
  {
    name: "exits, then enters, then dwells in one fix",
    fences: [
      fence("a", 0, 0, 100, 100),
      fence("b", 0, 0, 1000, 1000, { dwell_s: 10 }),
      fence("c", 200, 200, 300, 300),
    ],
    steps: [
      { at: [50, 50], t: 0, expect: ["enter:a", "enter:b"] },
      { at: [250, 250], t: 10, expect: ["exit:a", "enter:c", "dwell:b"] },
    ],
  },
];

function fixAt(step: Step) {
  const [lon, lat] = at(...step.at);
  return {
    longitude: lon,
    latitude: lat,
    ts: step.t * 1000,
    ...(step.accuracy === undefined ? {} : { accuracy: step.accuracy }),
  };
}

describe("judgeFix", () => {
  it.each(cases)("$name", ({ fences, options, steps }) => {
    const index = new MemoryFenceIndex();
    index.load(fences);
    let state: VehicleState = EMPTY_VEHICLE_STATE;
    steps.forEach((step, i) => {
      for (const f of step.upsert ?? []) index.upsert(f);
      for (const id of step.remove ?? []) index.remove(id);
      const fix = fixAt(step);
      const covering = index.coveringPoint(fix.longitude, fix.latitude);
      const result = judgeFix(state, fix, covering, index, options ?? OFF);
      const got = result.transitions.map((t) => `${t.type}:${t.fence_id}`);
      expect(got, `step ${i}`).toEqual(step.expect);
      if (step.inside !== undefined)
        expect([...result.state.inside.keys()].sort()).toEqual(step.inside);
      if (state.last_ts !== null && fix.ts < state.last_ts) expect(result.state).toBe(state);
      else expect(result.state.last_ts).toBe(fix.ts);
      state = result.state;
    });
  });

  it("records when the stay began and whether its dwell was emitted", () => {
    const catalogue = new Map([["d", fence("d", 0, 0, 1, 1, { dwell_s: 5 })]]);
    const fix = (ts: number) => ({ latitude: LAT, longitude: LON, ts });
    const first = judgeFix(EMPTY_VEHICLE_STATE, fix(1000), ["d"], catalogue, OFF);
    expect(first.state.inside.get("d")).toEqual({ entered_at: 1000, dwell_emitted: false });
    const second = judgeFix(first.state, fix(6000), ["d"], catalogue, OFF);
    expect(second.transitions).toEqual([{ type: "dwell", fence_id: "d" }]);
    expect(second.state.inside.get("d")).toEqual({ entered_at: 1000, dwell_emitted: true });
  });

  it("ignores covering ids missing from the catalogue", () => {
    const result = judgeFix(
      EMPTY_VEHICLE_STATE,
      { latitude: LAT, longitude: LON, ts: 0 },
      ["gone", "a"],
      new Map([["a", A]]),
      OFF,
    );
    expect(result.transitions).toEqual([{ type: "enter", fence_id: "a" }]);
  });

  it("does not mutate its inputs", () => {
    const inside = new Map<string, Membership>([["a", { entered_at: 0, dwell_emitted: false }]]);
    const state: VehicleState = { last_ts: 0, inside };
    const covering = ["b"];
    const catalogue = new Map([
      ["a", A],
      ["b", fence("b", 0, 0, 1, 1, { dwell_s: 1 })],
    ]);
    const snapshot = JSON.stringify({ state: [...inside], covering, catalogue: [...catalogue] });
    const result = judgeFix(
      state,
      { latitude: 60, longitude: 20, ts: 5000 },
      covering,
      catalogue,
      OFF,
    );
    expect(result.transitions.map((t) => t.type)).toEqual(["exit", "enter"]);
    expect(JSON.stringify({ state: [...inside], covering, catalogue: [...catalogue] })).toBe(
      snapshot,
    );
    expect(state.last_ts).toBe(0);
    expect(EMPTY_VEHICLE_STATE.inside.size).toBe(0);
    expect(EMPTY_VEHICLE_STATE.last_ts).toBeNull();
  });
});

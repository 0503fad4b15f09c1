// Properties of judgeFix over random fences and random fix streams, with real lookups through a
// MemoryFenceIndex: events alternate, duplicates and older fixes change nothing.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Fence, Position } from "./fence.ts";
import {
  EMPTY_VEHICLE_STATE,
  type JudgedFix,
  type JudgeOptions,
  judgeFix,
  type Transition,
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

const IDS = ["a", "b", "c", "d", "e"];
// judgeFix is cheap: more runs than fast-check's default 100 cost well under a second.
const RUNS = 300;

/** The value one time in `every`, else undefined. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: every - 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary },
  );
}

/** 2–5 rectangles, often overlapping, in a 2.7 km square, each with random jitter controls. */
const fencesArb: fc.Arbitrary<Fence[]> = fc
  .array(
    fc.record({
      x: fc.integer({ min: 0, max: 1500 }),
      y: fc.integer({ min: 0, max: 1500 }),
      w: fc.integer({ min: 100, max: 1200 }),
      h: fc.integer({ min: 100, max: 1200 }),
      hysteresis_m: sometimes(fc.integer({ min: 1, max: 100 }), 2),
      dwell_s: sometimes(fc.integer({ min: 1, max: 120 }), 2),
      max_accuracy_m: sometimes(fc.integer({ min: 5, max: 60 }), 3),
    }),
    { minLength: 2, maxLength: 5 },
  )
  .map((specs) =>
    specs.map(({ x, y, w, h, ...jitter }, i): Fence => {
      const id = IDS[i] as string;
      const ring = [at(x, y), at(x + w, y), at(x + w, y + h), at(x, y + h), at(x, y)];
      return { id, name: id, polygons: [[ring]], ...jitter };
    }),
  );

const optionsArb: fc.Arbitrary<JudgeOptions> = sometimes(fc.integer({ min: 5, max: 60 }), 3).map(
  (limit) => ({ defaultMaxAccuracyM: limit ?? Number.POSITIVE_INFINITY }),
);

/**
 * One vehicle's fixes in fix-time order (`minStep` 0 allows equal timestamps): a random walk of
 * up to 300 m a step, so it wanders across boundaries and hysteresis bands, with the odd jump.
 */
function fixesArb(minStep: number): fc.Arbitrary<JudgedFix[]> {
  const coordinate = fc.integer({ min: -200, max: 2600 });
  return fc
    .tuple(
      coordinate,
      coordinate,
      fc.array(
        fc.record({
          dx: fc.integer({ min: -300, max: 300 }),
          dy: fc.integer({ min: -300, max: 300 }),
          jump: sometimes(fc.tuple(coordinate, coordinate), 10),
          step: fc.integer({ min: minStep, max: 20_000 }),
          accuracy: sometimes(fc.integer({ min: 1, max: 80 }), 4),
        }),
        { minLength: 1, maxLength: 60, size: "medium" },
      ),
    )
    .map(([x0, y0, raw]) => {
      let [x, y] = [x0, y0];
      let ts = 1_800_000_000_000;
      return raw.map(({ dx, dy, jump, step, accuracy }) => {
        [x, y] = jump ?? [x + dx, y + dy];
        ts += step;
        const [longitude, latitude] = at(x, y);
        return accuracy === undefined
          ? { longitude, latitude, ts }
          : { longitude, latitude, ts, accuracy };
      });
    });
}

interface Run {
  perFix: Transition[][];
  state: VehicleState;
}

/** Drives one vehicle through the fixes; `removals` deletes fences before the given fix index. */
function run(
  fences: readonly Fence[],
  fixes: readonly JudgedFix[],
  options: JudgeOptions,
  removals: ReadonlyMap<number, string> = new Map(),
): Run {
  const index = new MemoryFenceIndex({ minRebuildBatch: 2 });
  index.load(fences);
  let state = EMPTY_VEHICLE_STATE;
  const perFix: Transition[][] = [];
  fixes.forEach((fix, i) => {
    const removed = removals.get(i);
    if (removed !== undefined) index.remove(removed);
    const result = judgeFix(
      state,
      fix,
      index.coveringPoint(fix.longitude, fix.latitude),
      index,
      options,
    );
    perFix.push(result.transitions);
    state = result.state;
  });
  return { perFix, state };
}

function summary({ perFix, state }: Run) {
  return {
    transitions: perFix.flat(),
    last_ts: state.last_ts,
    inside: [...state.inside].sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}

describe("judgeFix properties", () => {
  it("enter and exit alternate per fence, starting with enter; one dwell per stay; fixed order", () => {
    const removalsArb = fc.array(
      fc.tuple(fc.integer({ min: 0, max: 59 }), fc.constantFrom(...IDS)),
      { maxLength: 2 },
    );
    fc.assert(
      fc.property(
        fencesArb,
        fixesArb(0),
        optionsArb,
        removalsArb,
        (fences, fixes, options, removalList) => {
          const removals = new Map(removalList);
          const { perFix } = run(fences, fixes, options, removals);
          const inside = new Map<string, { dwelled: boolean }>();
          const deleted = new Set<string>();
          perFix.forEach((transitions, i) => {
            const removed = removals.get(i);
            if (removed !== undefined) {
              deleted.add(removed);
              inside.delete(removed);
            }
            const rank = { exit: 0, enter: 1, dwell: 2 };
            const keys = transitions.map((t) => `${rank[t.type]}:${t.fence_id}`);
            expect(keys).toEqual([...keys].sort());
            for (const t of transitions) {
              expect(deleted.has(t.fence_id)).toBe(false);
              const stay = inside.get(t.fence_id);
              if (t.type === "enter") {
                expect(stay).toBeUndefined();
                inside.set(t.fence_id, { dwelled: false });
              } else if (t.type === "exit") {
                expect(stay).toBeDefined();
                inside.delete(t.fence_id);
              } else {
                expect(stay?.dwelled).toBe(false);
                if (stay !== undefined) stay.dwelled = true;
              }
            }
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("a fix repeated (right away or later) gives the same transitions", () => {
    const duplicatesArb = fc.array(
      fc.tuple(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 10 })),
      { minLength: 1, maxLength: 20 },
    );
    fc.assert(
      fc.property(
        fencesArb,
        fixesArb(1),
        optionsArb,
        duplicatesArb,
        (fences, fixes, options, dups) => {
          // Copy fix i in after fix i + later (or at the end).
          const after = new Map<number, JudgedFix[]>();
          for (const [i, later] of dups) {
            const fix = fixes[i % fixes.length] as JudgedFix;
            const slot = Math.min(fixes.length - 1, (i % fixes.length) + later);
            after.set(slot, [...(after.get(slot) ?? []), { ...fix }]);
          }
          const replayed = fixes.flatMap((fix, k) => [fix, ...(after.get(k) ?? [])]);
          expect(summary(run(fences, replayed, options))).toEqual(
            summary(run(fences, fixes, options)),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("older fixes interleaved into a stream change nothing", () => {
    const olderArb = fc.array(
      fc.record({
        slot: fc.integer({ min: 0, max: 59 }),
        x: fc.integer({ min: -200, max: 3000 }),
        y: fc.integer({ min: -200, max: 3000 }),
        back: fc.integer({ min: 1, max: 120_000 }),
        accuracy: fc.option(fc.integer({ min: 1, max: 80 }), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 20 },
    );
    fc.assert(
      fc.property(fencesArb, fixesArb(0), optionsArb, olderArb, (fences, fixes, options, older) => {
        const after = new Map<number, JudgedFix[]>();
        for (const { slot, x, y, back, accuracy } of older) {
          const k = slot % fixes.length;
          const [longitude, latitude] = at(x, y);
          const ts = (fixes[k] as JudgedFix).ts - back;
          const fix =
            accuracy === undefined
              ? { longitude, latitude, ts }
              : { longitude, latitude, ts, accuracy };
          after.set(k, [...(after.get(k) ?? []), fix]);
        }
        const mixed = fixes.flatMap((fix, k) => [fix, ...(after.get(k) ?? [])]);
        expect(summary(run(fences, mixed, options))).toEqual(summary(run(fences, fixes, options)));
      }),
      { numRuns: RUNS },
    );
  });
});

// The engine benchmark, run tiny, so it cannot rot: the index it measures answers every lookup as
// brute force does, before and after the churn. Its speed is the benchmark's business.

import { describe, expect, it } from "vitest";
import { runEngineBench } from "../../../bench/engine.ts";

describe("bench/engine.ts", () => {
  it("measures a small catalogue whose lookups agree with brute force", () => {
    const result = runEngineBench({
      fences: 100,
      points: 1000,
      runs: 1,
      vehicles: 20,
      verifyPoints: 1000,
      churnOps: 50,
    });
    // 1000 points checked after the build and 1000 after the churn.
    expect(result.verified).toEqual({ points: 2000, mismatches: 0 });
    expect(result.fences).toBe(100);
    // Some points fall inside fences, so the agreement covers hits as well as misses.
    expect(result.coveredFraction).toBeGreaterThan(0);
    expect(result.coveredFraction).toBeLessThan(1);
    // The catalogue with circles and corridors too.
    expect(result.mixed.verified).toEqual({ points: 1000, mismatches: 0 });
    expect(result.mixed.circles).toBeGreaterThan(0);
    expect(result.mixed.corridors).toBeGreaterThan(0);
    expect(result.mixed.coveredFraction).toBeGreaterThan(0);
  });
});

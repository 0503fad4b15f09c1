// The engine benchmark, run tiny: every figure is produced and lookups agree with brute force.

import { describe, expect, it } from "vitest";
import { runEngineBench } from "../../../bench/engine.ts";

describe("bench/engine.ts", () => {
  it("measures a small catalogue and checks lookups against brute force", () => {
    const result = runEngineBench({
      fences: 100,
      points: 1000,
      runs: 1,
      vehicles: 20,
      verifyPoints: 1000,
      churnOps: 50,
    });
    expect(result.verified).toEqual({ points: 2000, mismatches: 0 });
    for (const figure of [
      result.buildMs,
      result.incrementalBuildMs,
      result.lookupsPerSec,
      result.fixesPerSec,
      result.upsertsPerSec,
      result.removesPerSec,
      result.lookupsPerSecAfterChurn,
    ]) {
      expect(figure).toBeGreaterThan(0);
    }
    expect(result.fences).toBe(100);
    expect(result.coveredFraction).toBeGreaterThan(0);
    expect(result.machine.cores).toBeGreaterThan(0);
  });
});

// Scenario 7: the geofence engine alone (bench/engine.ts), for scale: what lookups and judging
// cost without any I/O.

import { runEngineBench } from "../engine.ts";
import { fmt, type Scenario, type ScenarioOutcome } from "../harness/context.ts";

export const engine: Scenario = {
  name: "engine",
  title: "7. Geofence engine micro-benchmark (bench/engine.ts)",
  async run(ctx): Promise<ScenarioOutcome> {
    const { fences, points, runs } = ctx.options.engine;
    const r = runEngineBench({
      fences,
      points,
      runs,
      verifyPoints: Math.min(2000, points),
      churnOps: Math.min(2000, fences),
    });
    const { machine: _, ...figures } = r;
    return {
      parameters: { fences, points, runs },
      figures,
      rows: [
        { measure: "point lookups (median)", value: fmt.rate(r.lookupsPerSec) },
        { measure: "point lookups per CPU-second", value: fmt.rate(r.lookupsPerCpuSec) },
        {
          measure: "fixes through lookup + judging",
          value: `${fmt.rate(r.fixesPerSec)} (${fmt.int(r.transitions)} transitions)`,
        },
        { measure: "geofence upserts with all loaded", value: fmt.rate(r.upsertsPerSec) },
        { measure: "index bulk build", value: fmt.ms(r.buildMs) },
        {
          measure: "brute-force check",
          value: `${r.verified.mismatches} mismatches in ${fmt.int(r.verified.points)} points`,
        },
        {
          measure: `point lookups, ${fmt.int(r.mixed.circles)} circles and ${fmt.int(r.mixed.corridors)} corridors among the polygons (median)`,
          value: fmt.rate(r.mixed.lookupsPerSec),
        },
        {
          measure: "fixes through lookup + judging, with circles and corridors",
          value: fmt.rate(r.mixed.fixesPerSec),
        },
        {
          measure: "brute-force check, with circles and corridors",
          value: `${r.mixed.verified.mismatches} mismatches in ${fmt.int(r.mixed.verified.points)} points`,
        },
      ],
    };
  },
};

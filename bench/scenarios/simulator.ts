// Scenario 6: what the simulator itself costs: RSS and CPU of 1,000 and 10,000 simulated vehicles
// at 1 Hz, measured by the simulator's own benchmark function (bench/simulator.ts).

import fs from "node:fs";
import type { Scenario, ScenarioOutcome } from "../harness/context.ts";

export const simulator: Scenario = {
  name: "simulator",
  title: "6. Simulator footprint (1 Hz per vehicle)",
  async run(ctx): Promise<ScenarioOutcome> {
    const parameters = {
      vehicles: ctx.options.simulatorVehicles,
      seconds: ctx.options.simulatorSeconds,
    };
    const file = new URL("../simulator.ts", import.meta.url);
    if (!fs.existsSync(file)) {
      return {
        status: "not available",
        reason: "bench/simulator.ts (the simulator's own measurement) is not in this build",
        parameters,
        figures: {},
        rows: [],
      };
    }
    return { status: "not available", reason: "not wired yet", parameters, figures: {}, rows: [] };
  },
};

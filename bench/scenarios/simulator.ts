// Scenario 6: what the simulator itself costs: CPU and RSS of 1,000 and 10,000 simulated vehicles
// at 1 Hz, each a real agent with its own MQTT connection, against a throwaway Mosquitto. The
// measurement is the simulator's own (bench/simulator.ts, one fresh process per fleet size, after
// its ramp and a 10 s warm-up).

import { fmt, type Row, type Scenario, type ScenarioOutcome } from "../harness/context.ts";
import { mosquittoBinary } from "../harness/versions.ts";
import { benchSimulator } from "../simulator.ts";

export const simulator: Scenario = {
  name: "simulator",
  title: "6. Simulator footprint (1 Hz per vehicle)",
  async run(ctx): Promise<ScenarioOutcome> {
    const broker = mosquittoBinary() === null ? "hub" : "mosquitto";
    const parameters = {
      vehicles: ctx.options.simulatorVehicles,
      intervalMs: 1000,
      measuredSeconds: ctx.options.simulatorSeconds,
      broker,
      measurement: "bench/simulator.ts benchSimulator (ramp 1000 vehicles/s, 10 s warm-up)",
    };
    const results = await benchSimulator({
      sizes: ctx.options.simulatorVehicles,
      intervalMs: 1000,
      measureMs: ctx.options.simulatorSeconds * 1000,
      broker,
    });
    const rows: Row[] = results.map((r) => ({
      measure: `${fmt.int(r.vehicles)} vehicles: CPU / RSS (avg, max)`,
      value: `${r.cpuPercent.toFixed(1)} % of a core / ${r.rssMiBAvg.toFixed(0)}, ${r.rssMiBMax.toFixed(0)} MiB (${fmt.rate(r.ackedPerSecond)} fixes acked; loop delay p99 ${fmt.ms(r.loopDelayP99Ms)})`,
    }));
    return { parameters, figures: { sizes: results }, rows };
  },
};

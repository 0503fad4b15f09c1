// @locus/simulator as a library: the fleet (many real agents in one process) and its seeded
// motion, for the demo, the benchmark and tests that recompute paths offline.

export { type Command, parseArgs, type SimulateConfig, USAGE, UsageError } from "./cli/args.ts";
export { type RunDeps, runSimulation } from "./cli/run.ts";
export { EventWatcher } from "./fleet/events.ts";
export {
  type BufferChoice,
  Fleet,
  type FleetOptions,
  type FleetReport,
  type FleetStats,
  type VehicleCredentials,
  vehicleId,
} from "./fleet/fleet.ts";
export { formatMs } from "./fleet/format.ts";
export { OutageRelay } from "./fleet/outage.ts";
export { TimerWheel } from "./fleet/wheel.ts";
export {
  ACCELERATION_MS2,
  BRAKING_MS2,
  MAX_CRUISE_MS,
  MIN_CRUISE_MS,
  TURN_SPEED_MS,
} from "./motion/driver.ts";
export { type BBox, LocalFrame } from "./motion/frame.ts";
export {
  DEFAULT_BLOCK_M,
  MotionModel,
  type MotionSpec,
  type SimFix,
  Track,
  trackFixes,
} from "./motion/model.ts";
export { parseRoutes, type Route, RoutesError } from "./motion/routes.ts";

// The fleet's motion: one model per run (frame, route model, noise), one Track per vehicle.
// A track is a stepped state machine driven by two seeded streams (motion, GPS noise), so fix k
// of vehicle i is a function of (seed, i, k, interval) alone and tests can recompute it offline.

import { type DrivePhase, Driver } from "./driver.ts";
import { type BBox, LocalFrame } from "./frame.ts";
import { GridModel, type PlanModel, RouteModel, WaypointModel } from "./plans.ts";
import { Random, STREAM_MOTION, STREAM_NOISE } from "./random.ts";
import type { Route } from "./routes.ts";

export type MotionSpec =
  | { kind: "grid"; bbox: BBox /** Street spacing, metres. Default 250. */; blockM?: number }
  | { kind: "waypoints"; bbox: BBox }
  | { kind: "routes"; routes: Route[] };

/** A fix as the simulator hands it to the agent (ts is added by the caller). */
export interface SimFix {
  latitude: number;
  longitude: number;
  /** m/s */
  speed: number;
  /** Degrees from north. */
  heading: number;
  /** Horizontal accuracy, m: the radius holding 68% of the noise. */
  accuracy: number;
}

/** sqrt(-2 ln 0.32): the radius of a 2-D Gaussian (σ per axis) that holds 68% of the points. */
const R68_PER_SIGMA = 1.5096;

export const DEFAULT_BLOCK_M = 250;

export class MotionModel {
  readonly frame: LocalFrame;
  private readonly plans: PlanModel;
  /** The box fixes are kept in (metres), or null for routes. */
  private readonly clamp: { width: number; height: number } | null;

  constructor(
    readonly spec: MotionSpec,
    /** Standard deviation of the GPS noise per axis, metres; 0 for exact positions. */
    readonly noiseM: number,
  ) {
    if (spec.kind === "routes") {
      const box = { west: 180, south: 90, east: -180, north: -90 };
      for (const route of spec.routes) {
        for (const [lon, lat] of route) {
          box.west = Math.min(box.west, lon);
          box.east = Math.max(box.east, lon);
          box.south = Math.min(box.south, lat);
          box.north = Math.max(box.north, lat);
        }
      }
      this.frame = LocalFrame.ofBox(box);
      this.plans = new RouteModel(
        spec.routes.map((r) => r.flatMap(([lon, lat]) => [this.frame.x(lon), this.frame.y(lat)])),
      );
      this.clamp = null;
    } else {
      this.frame = LocalFrame.ofBox(spec.bbox);
      const width = this.frame.x(spec.bbox.east);
      const height = this.frame.y(spec.bbox.north);
      this.plans =
        spec.kind === "grid"
          ? new GridModel(width, height, spec.blockM ?? DEFAULT_BLOCK_M)
          : new WaypointModel(width, height);
      this.clamp = { width, height };
    }
  }

  /** Vehicle `index`'s track for a run with this seed, at its first fix. */
  track(seed: number, index: number): Track {
    return new Track(this, seed, index, this.plans);
  }

  /** The noisy fix for a true position, kept inside the box. */
  observe(x: number, y: number, speed: number, heading: number, noise: Random): SimFix {
    let nx = x;
    let ny = y;
    let accuracy = 0;
    if (this.noiseM > 0) {
      // Receivers' accuracy varies from fix to fix; the reported value follows the draw's sigma.
      const sigma = this.noiseM * noise.range(0.8, 1.25);
      nx += sigma * noise.gaussian();
      ny += sigma * noise.gaussian();
      accuracy = round(sigma * R68_PER_SIGMA, 10);
    }
    if (this.clamp !== null) {
      nx = Math.min(Math.max(nx, 0), this.clamp.width);
      ny = Math.min(Math.max(ny, 0), this.clamp.height);
    }
    return {
      latitude: round(this.frame.lat(ny), 1e7),
      longitude: round(this.frame.lon(nx), 1e7),
      speed: round(speed, 100),
      heading: round(heading, 10) % 360,
      accuracy,
    };
  }
}

/** One vehicle: its driver (true motion) and its GPS noise. */
export class Track {
  private readonly driver: Driver;
  private readonly noise: Random;

  constructor(
    private readonly model: MotionModel,
    seed: number,
    readonly index: number,
    plans: PlanModel,
  ) {
    this.driver = new Driver(plans.plan(index), new Random(seed, index, STREAM_MOTION));
    this.noise = new Random(seed, index, STREAM_NOISE);
  }

  /** Moves the vehicle on by `seconds`. */
  advance(seconds: number): void {
    this.driver.advance(seconds);
  }

  /** The fix a receiver reports now (draws the noise: call once per fix). */
  fix(): SimFix {
    const d = this.driver;
    return this.model.observe(d.x, d.y, d.speed, d.heading, this.noise);
  }

  /** The true state, for tests. */
  truth(): { x: number; y: number; speed: number; heading: number; phase: DrivePhase } {
    const d = this.driver;
    return { x: d.x, y: d.y, speed: d.speed, heading: d.heading, phase: d.phase };
  }
}

function round(value: number, scale: number): number {
  return Math.round(value * scale) / scale;
}

/**
 * The first `count` fixes of vehicle `index` at `intervalMs` apart, as the fleet produces them:
 * fix 0 at the start, then one after each interval.
 */
export function trackFixes(
  model: MotionModel,
  seed: number,
  index: number,
  count: number,
  intervalMs: number,
): SimFix[] {
  const track = model.track(seed, index);
  const fixes: SimFix[] = [];
  for (let k = 0; k < count; k++) {
    if (k > 0) track.advance(intervalMs / 1000);
    fixes.push(track.fix());
  }
  return fixes;
}

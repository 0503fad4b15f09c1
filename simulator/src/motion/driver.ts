// Road kinematics along a leg: accelerate to a cruise speed drawn for the leg (10-35 m/s), brake in
// time to reach the leg's end at turning speed or at a standstill, wait at stops. A stepped state
// machine: the same plan, random stream and steps give the same path.

import type { Leg, LegEnd } from "./leg.ts";
import type { Random } from "./random.ts";

/** Road speeds a vehicle cruises at, m/s. */
export const MIN_CRUISE_MS = 10;
export const MAX_CRUISE_MS = 35;
/** Speed through a turn, m/s. */
export const TURN_SPEED_MS = 10;
export const ACCELERATION_MS2 = 2.5;
export const BRAKING_MS2 = 3;
/** A stop (traffic light, delivery) lasts this long, seconds. */
export const MIN_STOP_S = 3;
export const MAX_STOP_S = 30;
/** Longest integration step, seconds; a longer interval is split. */
const MAX_SUBSTEP_S = 0.25;

export type DrivePhase = "stopped" | "accelerating" | "cruising" | "braking";

/** Where the next leg comes from: the route model (grid, waypoints, GeoJSON routes). */
export interface Plan {
  /** The first leg and how far along it the vehicle starts, metres. */
  first(rng: Random): { leg: Leg; end: LegEnd; offset: number };
  /** The leg after the one just finished. */
  next(rng: Random): { leg: Leg; end: LegEnd };
}

export class Driver {
  /** Position in metres of the local frame. */
  x = 0;
  y = 0;
  /** m/s */
  speed = 0;
  /** Degrees clockwise from north, [0, 360). */
  heading = 0;
  phase: DrivePhase = "stopped";

  private leg: Leg;
  private end: LegEnd;
  private s = 0;
  private seg = 0;
  private cruise = MIN_CRUISE_MS;
  private stopLeft = 0;

  constructor(
    private readonly plan: Plan,
    private readonly rng: Random,
  ) {
    const first = plan.first(rng);
    this.leg = first.leg;
    this.end = first.end;
    this.begin(first.leg, first.end, first.offset);
  }

  /** Drives for `dt` seconds. */
  advance(dt: number): void {
    if (!(dt > 0)) return;
    const n = Math.max(1, Math.ceil(dt / MAX_SUBSTEP_S));
    const h = dt / n;
    for (let i = 0; i < n; i++) this.substep(h);
  }

  private begin(leg: Leg, end: LegEnd, offset: number): void {
    this.leg = leg;
    this.end = end;
    this.s = Math.min(Math.max(0, offset), leg.length);
    this.seg = 0;
    this.cruise = this.rng.range(MIN_CRUISE_MS, MAX_CRUISE_MS);
    this.place();
  }

  private substep(h: number): void {
    if (this.stopLeft > 0) {
      this.stopLeft -= h;
      this.speed = 0;
      this.phase = "stopped";
      if (this.stopLeft <= 0) {
        this.stopLeft = 0;
        const next = this.plan.next(this.rng);
        this.begin(next.leg, next.end, 0);
      }
      return;
    }
    const v = this.speed;
    const remaining = this.leg.length - this.s;
    const vEnd = this.end === "stop" ? 0 : Math.min(TURN_SPEED_MS, this.cruise);
    // The wanted change: towards the cruise speed.
    const wanted =
      v < this.cruise
        ? Math.min(ACCELERATION_MS2, (this.cruise - v) / h)
        : Math.max(-BRAKING_MS2, (this.cruise - v) / h);
    const vWanted = v + wanted * h;
    const room = remaining - (v * h + 0.5 * wanted * h * h);
    let a = wanted;
    // Would that leave too little room to brake to vEnd at the nominal rate? Then brake now, with
    // exactly the deceleration that reaches vEnd at the end (at most the nominal rate, since the
    // previous step passed this test), or hold a speed already at or below vEnd.
    if (vWanted > vEnd && room <= (vWanted * vWanted - vEnd * vEnd) / (2 * BRAKING_MS2)) {
      a = v > vEnd ? (vEnd * vEnd - v * v) / (2 * Math.max(remaining, 1e-6)) : 0;
    }
    let vNext = v + a * h;
    let ds = v * h + 0.5 * a * h * h;
    if (vNext < 0) {
      // Stops within the step: distance to standstill.
      ds = a < 0 ? (v * v) / (-2 * a) : 0;
      vNext = 0;
    }
    this.phase = a > 1e-9 ? "accelerating" : a < -1e-9 ? "braking" : "cruising";
    this.speed = vNext;
    this.s += Math.max(0, ds);
    const arrived =
      this.s >= this.leg.length - 1e-3 || (this.end === "stop" && vNext < 0.05 && remaining < 0.5);
    if (!arrived) {
      this.place();
      return;
    }
    this.s = this.leg.length;
    this.place();
    if (this.end === "stop") {
      this.speed = 0;
      this.phase = "stopped";
      this.stopLeft = this.rng.range(MIN_STOP_S, MAX_STOP_S);
    } else {
      this.speed = Math.min(vNext, TURN_SPEED_MS);
      const next = this.plan.next(this.rng);
      this.begin(next.leg, next.end, 0);
    }
  }

  // Position and heading from the distance along the leg.
  private place(): void {
    const { xy, cum } = this.leg;
    const last = cum.length - 2;
    while (this.seg < last && (cum[this.seg + 1] as number) < this.s) this.seg++;
    const i = this.seg;
    const x0 = xy[2 * i] as number;
    const y0 = xy[2 * i + 1] as number;
    const dx = (xy[2 * i + 2] as number) - x0;
    const dy = (xy[2 * i + 3] as number) - y0;
    const segLength = (cum[i + 1] as number) - (cum[i] as number);
    const f =
      segLength > 0 ? Math.min(1, Math.max(0, (this.s - (cum[i] as number)) / segLength)) : 0;
    this.x = x0 + f * dx;
    this.y = y0 + f * dy;
    const deg = (Math.atan2(dx, dy) * 180) / Math.PI;
    this.heading = deg < 0 ? deg + 360 : deg;
  }
}

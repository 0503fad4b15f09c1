// Where vehicles drive: a street grid over the box, random waypoints in it, or GeoJSON routes
// driven along and back. Each model is built once per run; each vehicle gets a small Plan.

import type { Plan } from "./driver.ts";
import { type Leg, type LegEnd, legOf, reversedLeg } from "./leg.ts";
import type { Random } from "./random.ts";

/** How often a leg ends at a stop (traffic light, delivery) rather than a turn. */
export const STOP_PROBABILITY = 0.25;
/** Longest straight run on the grid, in blocks. */
const MAX_BLOCKS = 6;

export interface PlanModel {
  /** The plan of vehicle `index`; a plan holds the vehicle's own route state. */
  plan(index: number): Plan;
}

// Directions on the grid: north, east, south, west.
const DX: readonly number[] = [0, 1, 0, -1];
const DY: readonly number[] = [1, 0, -1, 0];

/**
 * Streets every `block` metres across a width × height box (metres, origin at its south-west
 * corner), kept at least half a block from its edges. Vehicles drive 1-6 blocks, then turn or stop.
 */
export class GridModel implements PlanModel {
  readonly block: number;
  /** Intersections are at (ox + i·block, oy + j·block), 0 ≤ i ≤ nx, 0 ≤ j ≤ ny. */
  readonly nx: number;
  readonly ny: number;
  readonly ox: number;
  readonly oy: number;

  constructor(width: number, height: number, blockM: number) {
    this.block = Math.min(blockM, width / 3, height / 3);
    this.nx = Math.floor(width / this.block) - 1;
    this.ny = Math.floor(height / this.block) - 1;
    this.ox = (width - this.nx * this.block) / 2;
    this.oy = (height - this.ny * this.block) / 2;
  }

  plan(_index: number): Plan {
    return new GridPlan(this);
  }
}

class GridPlan implements Plan {
  private i = 0;
  private j = 0;
  private dir = -1;
  private lastEnd: LegEnd = "stop";

  constructor(private readonly grid: GridModel) {}

  first(rng: Random) {
    this.i = rng.int(this.grid.nx + 1);
    this.j = rng.int(this.grid.ny + 1);
    const { leg, end } = this.next(rng);
    return { leg, end, offset: rng.range(0, leg.length) };
  }

  next(rng: Random): { leg: Leg; end: LegEnd } {
    const g = this.grid;
    const room = [g.ny - this.j, g.nx - this.i, this.j, this.i];
    const reverse = this.dir < 0 ? -1 : (this.dir + 2) % 4;
    // A leg ends at a turn, so the next one turns; after a stop going straight on is fine too.
    let choices = [0, 1, 2, 3].filter(
      (d) =>
        (room[d] as number) > 0 && d !== reverse && (d !== this.dir || this.lastEnd === "stop"),
    );
    if (choices.length === 0) choices = [0, 1, 2, 3].filter((d) => (room[d] as number) > 0);
    const dir = choices[rng.int(choices.length)] as number;
    const blocks = 1 + rng.int(Math.min(MAX_BLOCKS, room[dir] as number));
    const x0 = g.ox + this.i * g.block;
    const y0 = g.oy + this.j * g.block;
    this.i += (DX[dir] as number) * blocks;
    this.j += (DY[dir] as number) * blocks;
    this.dir = dir;
    const end: LegEnd = rng.chance(STOP_PROBABILITY) ? "stop" : "turn";
    this.lastEnd = end;
    return { leg: legOf([x0, y0, g.ox + this.i * g.block, g.oy + this.j * g.block]), end };
  }
}

/** Straight drives between random points of the box (metres), each at least ~200 m long. */
export class WaypointModel implements PlanModel {
  readonly margin: number;
  readonly minLeg: number;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.margin = Math.min(50, width / 10, height / 10);
    this.minLeg = Math.min(200, 0.3 * Math.min(width, height));
  }

  plan(_index: number): Plan {
    return new WaypointPlan(this);
  }

  point(rng: Random): [number, number] {
    const m = this.margin;
    return [rng.range(m, this.width - m), rng.range(m, this.height - m)];
  }
}

class WaypointPlan implements Plan {
  private x = 0;
  private y = 0;

  constructor(private readonly model: WaypointModel) {}

  first(rng: Random) {
    [this.x, this.y] = this.model.point(rng);
    const { leg, end } = this.next(rng);
    return { leg, end, offset: rng.range(0, leg.length) };
  }

  next(rng: Random): { leg: Leg; end: LegEnd } {
    let target = this.model.point(rng);
    for (let tries = 0; tries < 8; tries++) {
      if (Math.hypot(target[0] - this.x, target[1] - this.y) >= this.model.minLeg) break;
      target = this.model.point(rng);
    }
    if (Math.hypot(target[0] - this.x, target[1] - this.y) < 1) target = [this.x + 1, this.y];
    const leg = legOf([this.x, this.y, target[0], target[1]]);
    [this.x, this.y] = target;
    return { leg, end: rng.chance(STOP_PROBABILITY) ? "stop" : "turn" };
  }
}

/** A bend sharper than this (degrees) splits a route into legs: the vehicle slows down there. */
const SHARP_TURN_DEG = 60;

/** One route as legs both ways; a polyline in metres. */
interface RouteLegs {
  forward: Leg[];
  backward: Leg[];
  length: number;
}

/**
 * GeoJSON LineStrings (already in metres) driven end to end and back: vehicle i takes route
 * i mod n, starts somewhere along it, stops at each end and turns round.
 */
export class RouteModel implements PlanModel {
  private readonly routes: RouteLegs[];

  /** `routes`: polylines as x, y pairs in metres. */
  constructor(routes: readonly (readonly number[])[]) {
    this.routes = routes.map(splitRoute);
    if (this.routes.length === 0) throw new RangeError("no routes");
  }

  /** Routes are assigned round-robin. */
  plan(index: number): Plan {
    return new RoutePlan(this.routes[index % this.routes.length] as RouteLegs);
  }
}

function splitRoute(points: readonly number[]): RouteLegs {
  const whole = legOf(points);
  const xy = whole.xy;
  const n = xy.length / 2;
  const cuts = [0];
  for (let i = 1; i < n - 1; i++) {
    const ax = (xy[2 * i] as number) - (xy[2 * i - 2] as number);
    const ay = (xy[2 * i + 1] as number) - (xy[2 * i - 1] as number);
    const bx = (xy[2 * i + 2] as number) - (xy[2 * i] as number);
    const by = (xy[2 * i + 3] as number) - (xy[2 * i + 1] as number);
    const cos = (ax * bx + ay * by) / (Math.hypot(ax, ay) * Math.hypot(bx, by));
    if ((Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI > SHARP_TURN_DEG) cuts.push(i);
  }
  cuts.push(n - 1);
  const forward: Leg[] = [];
  for (let c = 0; c + 1 < cuts.length; c++) {
    forward.push(
      legOf(Array.from(xy.subarray(2 * (cuts[c] as number), 2 * (cuts[c + 1] as number) + 2))),
    );
  }
  const backward = forward.map(reversedLeg).reverse();
  return { forward, backward, length: whole.length };
}

class RoutePlan implements Plan {
  private forward = true;
  private index = 0;

  constructor(private readonly route: RouteLegs) {}

  private legs(): Leg[] {
    return this.forward ? this.route.forward : this.route.backward;
  }

  private endOf(index: number, rng: Random): LegEnd {
    if (index === this.legs().length - 1) return "stop";
    return rng.chance(STOP_PROBABILITY) ? "stop" : "turn";
  }

  first(rng: Random) {
    this.forward = rng.chance(0.5);
    let at = rng.range(0, this.route.length);
    const legs = this.legs();
    this.index = 0;
    while (this.index < legs.length - 1 && at > (legs[this.index] as Leg).length) {
      at -= (legs[this.index] as Leg).length;
      this.index++;
    }
    const leg = legs[this.index] as Leg;
    return { leg, end: this.endOf(this.index, rng), offset: Math.min(at, leg.length) };
  }

  next(rng: Random): { leg: Leg; end: LegEnd } {
    this.index++;
    if (this.index >= this.legs().length) {
      this.forward = !this.forward;
      this.index = 0;
    }
    return { leg: this.legs()[this.index] as Leg, end: this.endOf(this.index, rng) };
  }
}

// Exact planar predicates (on top of orient.ts) and an R-tree over the edges of closed rings: the geometry that
// geofence validation rests on. Predicates are exact so validity never hangs on rounding.

import Flatbush from "flatbush";
import type { Ring } from "./fence.ts";
import { orient } from "./orient.ts";

/** A point as [x, y]. */
export type Point = readonly [number, number];

/**
 * Whether direction p→w lies strictly inside the sector swept counter-clockwise from ray p→u to
 * ray p→v (u and v not in the same direction).
 */
export function inSector([px, py]: Point, [ux, uy]: Point, [vx, vy]: Point, [wx, wy]: Point) {
  const fromU = orient(px, py, ux, uy, wx, wy) > 0;
  const toV = orient(px, py, wx, wy, vx, vy) > 0;
  return orient(px, py, ux, uy, vx, vy) > 0 ? fromU && toV : fromU || toV;
}

/**
 * How two segments meet (not at all, at one point that ends one of them, crossing, or along a
 * stretch) and where: rounded for a crossing, otherwise an exact endpoint.
 */
export interface Contact {
  kind: "none" | "touch" | "cross" | "overlap";
  x: number;
  y: number;
}

const NO_CONTACT: Contact = { kind: "none", x: Number.NaN, y: Number.NaN };

/** A segment as [x0, y0, x1, y1]. */
export type Segment = readonly [number, number, number, number];

/** How segment a–b meets segment c–d (neither of zero length). */
export function contact([ax, ay, bx, by]: Segment, [cx, cy, dx, dy]: Segment): Contact {
  const c = orient(ax, ay, bx, by, cx, cy);
  const d = orient(ax, ay, bx, by, dx, dy);
  if (c !== 0 && c === d) return NO_CONTACT;
  const a = orient(cx, cy, dx, dy, ax, ay);
  const b = orient(cx, cy, dx, dy, bx, by);
  if (a !== 0 && a === b) return NO_CONTACT;
  if (c === 0 && d === 0) return collinearContact([ax, ay, bx, by], [cx, cy, dx, dy]);
  // Past the two side tests, a zero orientation means that endpoint lies on the other segment.
  if (c === 0) return { kind: "touch", x: cx, y: cy };
  if (d === 0) return { kind: "touch", x: dx, y: dy };
  if (a === 0) return { kind: "touch", x: ax, y: ay };
  if (b === 0) return { kind: "touch", x: bx, y: by };
  const t =
    ((cx - ax) * (dy - cy) - (cy - ay) * (dx - cx)) /
    ((bx - ax) * (dy - cy) - (by - ay) * (dx - cx));
  return { kind: "cross", x: ax + t * (bx - ax), y: ay + t * (by - ay) };
}

function collinearContact([ax, ay, bx, by]: Segment, [cx, cy, dx, dy]: Segment): Contact {
  // On a common line one coordinate orders the points: x unless the line is vertical.
  const [a, b, c, d] = ax !== bx ? [ax, bx, cx, dx] : [ay, by, cy, dy];
  const low = Math.max(Math.min(a, b), Math.min(c, d));
  const high = Math.min(Math.max(a, b), Math.max(c, d));
  if (low > high) return NO_CONTACT;
  // The shared stretch starts at an endpoint; report that endpoint exactly.
  const [x, y] = low === a ? [ax, ay] : low === b ? [bx, by] : low === c ? [cx, cy] : [dx, dy];
  return { kind: low === high ? "touch" : "overlap", x, y };
}

/** Two edges that meet where they must not, or (kind "touch") at a point another rule must judge. */
export interface EdgeMeeting {
  kind: "touch" | "cross" | "overlap" | "spike" | "crowded";
  e1: number;
  e2: number;
  x: number;
  y: number;
}

/** Kinds of meeting, least grave first. */
const GRAVITY: readonly EdgeMeeting["kind"][] = ["crowded", "touch", "overlap", "cross", "spike"];

/** Of one edge's conflicts the gravest is the most useful to report, then the earliest. */
function graver(a: EdgeMeeting, b: EdgeMeeting): boolean {
  const [ga, gb] = [GRAVITY.indexOf(a.kind), GRAVITY.indexOf(b.kind)];
  return ga > gb || (ga === gb && a.e2 < b.e2);
}

/**
 * The edges of a set of closed rings (no consecutive repeated positions) in a packed R-tree.
 * Edges are numbered ring after ring; edge k of a ring runs from its position k to k + 1.
 */
export class EdgeIndex {
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  /** Ring r owns vertices first[r] .. first[r + 1] - 1, the last repeating the first. */
  private readonly first: Int32Array;
  private readonly edgeRing: Int32Array;
  /** Each ring's bounding-box area: a ring inside another has one no larger. */
  private readonly areas: Float64Array;
  private readonly orientations: Int8Array;
  private readonly edges: Flatbush;
  readonly edgeCount: number;

  constructor(rings: readonly Ring[]) {
    const vertexCount = rings.reduce((total, ring) => total + ring.length, 0);
    this.edgeCount = vertexCount - rings.length;
    this.xs = new Float64Array(vertexCount);
    this.ys = new Float64Array(vertexCount);
    this.first = new Int32Array(rings.length + 1);
    this.edgeRing = new Int32Array(this.edgeCount);
    this.areas = new Float64Array(rings.length);
    this.orientations = new Int8Array(rings.length);
    this.edges = new Flatbush(Math.max(this.edgeCount, 1));
    let v = 0;
    rings.forEach((ring, r) => {
      this.first[r] = v;
      let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
      // Indexed reads, no destructuring: this runs once per vertex, often before V8 optimises it.
      for (let i = 0; i < ring.length; i++, v++) {
        const position = ring[i] ?? [0, 0];
        const x = position[0];
        const y = position[1];
        this.xs[v] = x;
        this.ys[v] = y;
        if (i > 0) this.edgeRing[v - 1 - r] = r;
        minX = Math.min(minX, x);
        minY = Math.min(minY, y);
        maxX = Math.max(maxX, x);
        maxY = Math.max(maxY, y);
      }
      this.areas[r] = (maxX - minX) * (maxY - minY);
    });
    this.first[rings.length] = v;
    // Added in order, so an edge's number is its item number in the R-tree.
    for (let edge = 0; edge < this.edgeCount; edge++) this.edges.add(...this.edgeBox(edge));
    if (this.edgeCount === 0) this.edges.add(0, 0, 0, 0);
    this.edges.finish();
  }

  /** The ring an edge belongs to. */
  ringOf(edge: number): number {
    return this.edgeRing[edge] as number;
  }

  /** An edge's number within its ring, which is also the index of the position it starts at. */
  localEdge(edge: number): number {
    const ring = this.ringOf(edge);
    return edge + ring - this.start(ring);
  }

  /**
   * The first pair of edges (least e1, then gravest) that makes the rings invalid by itself:
   * a crossing, a shared stretch, a ring touching itself, or a spike where a ring turns back.
   * Touches between different rings are pushed to `touches` for the caller to judge; past
   * `maxTouches` of them the scan stops with a "crowded" meeting at the last.
   */
  firstConflict(touches: EdgeMeeting[], maxTouches = Infinity): EdgeMeeting | undefined {
    // Spikes first: a spike often revisits a vertex, and "turns back" says more than "touches".
    for (let e1 = 0; e1 < this.edgeCount; e1++) {
      const e2 = this.nextEdge(e1);
      const v = e1 + this.ringOf(e1);
      const w = e2 + this.ringOf(e2) + 1;
      const x = this.x(v + 1);
      const y = this.y(v + 1);
      if (turnsBack(this.x(v), this.y(v), x, y, this.x(w), this.y(w))) {
        return e1 < e2 ? { kind: "spike", e1, e2, x, y } : { kind: "spike", e1: e2, e2: e1, x, y };
      }
    }
    // Pairs are judged inside the R-tree's filter, which then declines them: no result arrays.
    let e1 = 0;
    let worst: EdgeMeeting | undefined;
    const judge = (e2: number) => {
      const meeting = e2 > e1 ? this.meet(e1, e2) : undefined;
      if (meeting === undefined) return false;
      if (meeting.kind === "touch" && this.ringOf(e1) !== this.ringOf(e2)) touches.push(meeting);
      else if (worst === undefined || graver(meeting, worst)) worst = meeting;
      return false;
    };
    for (; e1 < this.edgeCount; e1++) {
      const [minX, minY, maxX, maxY] = this.edgeBox(e1);
      this.edges.search(minX, minY, maxX, maxY, judge);
      if (worst !== undefined) return worst;
      // Every pair of edges through one point touches: thousands of rings meeting there would
      // cost time quadratic in their number.
      const last = touches[touches.length - 1];
      if (touches.length > maxTouches && last !== undefined) return { ...last, kind: "crowded" };
    }
    return undefined;
  }

  private meet(e1: number, e2: number): EdgeMeeting | undefined {
    // Neighbours in a ring share a vertex and, spikes aside, meet only there.
    if (this.nextEdge(e1) === e2 || this.nextEdge(e2) === e1) return undefined;
    const found = contact(this.edgeEnds(e1), this.edgeEnds(e2));
    if (found.kind === "none") return undefined;
    return { kind: found.kind, e1, e2, x: found.x, y: found.y };
  }

  /** The edge after this one around its ring. */
  private nextEdge(edge: number): number {
    const ring = this.ringOf(edge);
    // Ring r's edges are numbered from first[r] - r up to first[r + 1] - r - 2.
    return edge + ring + 2 === this.start(ring + 1) ? this.start(ring) - ring : edge + 1;
  }

  /** Whether, at a touch of two simple rings, one passes from one side of the other to the other. */
  crossesAt(touch: EdgeMeeting): boolean {
    const at: Point = [touch.x, touch.y];
    const [before, after] = this.around(touch.e1, at);
    const side = (w: Point) =>
      inSector(at, after, before, w) ? 1 : inSector(at, before, after, w) ? -1 : 0;
    const [otherBefore, otherAfter] = this.around(touch.e2, at);
    return side(otherBefore) * side(otherAfter) === -1;
  }

  /**
   * Each ring's parent: the innermost other ring whose interior holds it, or -1. The rings must
   * neither cross nor share an edge (they may touch at points).
   */
  parents(): Int32Array {
    const parents = new Int32Array(this.orientations.length).fill(-1);
    const tops = Array.from(parents, (_, ring) => {
      let top = this.start(ring);
      for (let v = top + 1; v < this.start(ring + 1); v++) if (this.y(v) > this.y(top)) top = v;
      return top;
    });
    const order = tops
      .map((_, ring) => ring)
      .sort((a, b) => this.y(tops[b] ?? 0) - this.y(tops[a] ?? 0));
    // From the top down, so a ray up from a ring's top vertex meets only rings already placed.
    for (const ring of order) {
      const top = tops[ring] ?? 0;
      const [x, y] = [this.x(top), this.y(top)];
      if (this.edgesThrough(x, y, (other) => other !== ring).length > 0) {
        // The ray would start on another ring; ask every ring instead (slower, and rare).
        parents[ring] = this.innermost(this.holdersOf(ring));
        continue;
      }
      const hit = this.firstEdgeAbove(x, y, ring);
      if (hit === undefined) continue;
      // Just below the edge hit is either inside its ring or beside it, inside its parent. A
      // counter-clockwise ring has its interior on the left: below an edge running leftwards.
      const owner = this.ringOf(hit);
      const leftwards = this.x(hit + owner + 1) < this.x(hit + owner);
      parents[ring] = this.orientation(owner) > 0 === leftwards ? owner : (parents[owner] ?? -1);
    }
    return parents;
  }

  /**
   * The edge of another ring that a ray straight up from (x, y) meets first. The ray runs a hair
   * right of x, so vertical edges and vertices on it are met consistently.
   */
  private firstEdgeAbove(x: number, y: number, ring: number): number | undefined {
    let best: number | undefined;
    const consider = (edge: number) => {
      const [lx, ly, rx, ry] = this.leftToRight(edge);
      const spans = lx <= x && x < rx && this.ringOf(edge) !== ring;
      if (!spans || orient(lx, ly, rx, ry, x, y) >= 0) return false;
      if (best === undefined || this.lowerAt(edge, best)) best = edge;
      return false;
    };
    // Widen a window up the ray until its lowest edge crosses inside it: none outside is lower.
    const ceiling = this.edges.maxY;
    for (let reach = Math.max((ceiling - y) / 2 ** 20, Number.MIN_VALUE); ; reach *= 2) {
      best = undefined;
      this.edges.search(x, y, x, y + reach, consider);
      if (best === undefined && y + reach >= ceiling) return undefined;
      if (best === undefined) continue;
      const [lx, ly, rx, ry] = this.leftToRight(best);
      if (orient(lx, ly, rx, ry, x, y + reach) >= 0) return best;
    }
  }

  /** Whether edge a runs below edge b just right of x, where both span it without crossing. */
  private lowerAt(a: number, b: number): boolean {
    const [alx, aly, arx, ary] = this.leftToRight(a);
    const [blx, bly, brx, bry] = this.leftToRight(b);
    // Judge at the later left end; if it touches the other edge, the right end tells the way.
    if (alx >= blx) {
      const side = orient(blx, bly, brx, bry, alx, aly);
      return (side !== 0 ? side : orient(blx, bly, brx, bry, arx, ary)) < 0;
    }
    const side = orient(alx, aly, arx, ary, blx, bly);
    return (side !== 0 ? side : orient(alx, aly, arx, ary, brx, bry)) > 0;
  }

  /** Every ring holding `ring`, found by one ray cast from its first vertex across all rings. */
  private holdersOf(ring: number): number[] {
    const v = this.start(ring);
    const [px, py] = [this.x(v), this.y(v)];
    const inside = new Set<number>();
    const touching = new Map<number, number>();
    this.castRay(px, py, (other, edge, on) => {
      if (on) touching.set(other, edge);
      else if (!inside.delete(other)) inside.add(other);
    });
    for (const [other, edge] of touching) {
      // A ring through the vertex holds this one if its first edge leaves into that ring's
      // interior: left of a counter-clockwise ring, right of a clockwise one.
      const [before, after] = this.around(edge, [px, py]);
      const [from, to] = this.orientation(other) > 0 ? [after, before] : [before, after];
      if (inSector([px, py], from, to, [this.x(v + 1), this.y(v + 1)])) inside.add(other);
      else inside.delete(other);
    }
    inside.delete(ring);
    return [...inside];
  }

  /** The innermost of rings that all hold one ring, and so hold one another in turn. */
  private innermost(holders: readonly number[]): number {
    let best = -1;
    for (const ring of holders) {
      // A ring inside another has a box no larger; equal boxes need the exact test.
      const [area, bestArea] = [this.areas[ring] ?? 0, this.areas[best] ?? Infinity];
      const inside = area < bestArea || (area === bestArea && this.holdersOf(ring).includes(best));
      if (inside) best = ring;
    }
    return best;
  }

  /**
   * Casts a ray from (px, py) along +x and reports each edge it crosses (half-open in y, so a
   * vertex on the ray counts once) or starts on. Exact.
   */
  private castRay(
    px: number,
    py: number,
    visit: (ring: number, edge: number, on: boolean) => void,
  ) {
    this.edges.search(px, py, this.edges.maxX, py, (edge) => {
      const [ax, ay, bx, by] = this.edgeEnds(edge);
      const turn = orient(ax, ay, bx, by, px, py);
      if (turn === 0 && this.onEdge(edge, px, py)) visit(this.ringOf(edge), edge, true);
      else if (ay > py !== by > py && turn > 0 === by > ay) visit(this.ringOf(edge), edge, false);
      return false;
    });
  }

  /** 1 if a simple ring runs counter-clockwise, -1 if clockwise. */
  orientation(ring: number): number {
    const known = this.orientations[ring] ?? 0;
    if (known !== 0) return known;
    const start = this.start(ring);
    const last = this.start(ring + 1) - 1;
    // At its lowest-leftmost vertex a simple ring turns the way it runs.
    let low = start;
    for (let v = start + 1; v < last; v++) {
      const dx = this.x(v) - this.x(low);
      if (dx < 0 || (dx === 0 && this.y(v) < this.y(low))) low = v;
    }
    const prev = low === start ? last - 1 : low - 1;
    const [px, py, lx, ly] = [this.x(prev), this.y(prev), this.x(low), this.y(low)];
    const result = orient(px, py, lx, ly, this.x(low + 1), this.y(low + 1)) >= 0 ? 1 : -1;
    this.orientations[ring] = result;
    return result;
  }

  // Reads within the bounds this index maintains.
  private x(vertex: number): number {
    return this.xs[vertex] as number;
  }

  private y(vertex: number): number {
    return this.ys[vertex] as number;
  }

  private start(ring: number): number {
    return this.first[ring] as number;
  }

  private leftToRight(edge: number): Segment {
    const [ax, ay, bx, by] = this.edgeEnds(edge);
    return ax <= bx ? [ax, ay, bx, by] : [bx, by, ax, ay];
  }

  private edgeEnds(edge: number): Segment {
    const v = edge + this.ringOf(edge);
    return [this.x(v), this.y(v), this.x(v + 1), this.y(v + 1)];
  }

  private edgeBox(edge: number): Segment {
    const v = edge + this.ringOf(edge);
    const [ax, ay, bx, by] = [this.x(v), this.y(v), this.x(v + 1), this.y(v + 1)];
    return [Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)];
  }

  private onEdge(edge: number, px: number, py: number): boolean {
    const [ax, ay, bx, by] = this.edgeEnds(edge);
    const [minX, minY, maxX, maxY] = this.edgeBox(edge);
    const within = minX <= px && px <= maxX && minY <= py && py <= maxY;
    return within && orient(ax, ay, bx, by, px, py) === 0;
  }

  /** Rings' edges through point (x, y), of the rings `which` accepts. */
  private edgesThrough(x: number, y: number, which: (ring: number) => boolean): number[] {
    return this.edges.search(x, y, x, y, (e) => which(this.ringOf(e)) && this.onEdge(e, x, y));
  }

  /** The ring's positions just before and just after a point on the given edge. */
  private around(edge: number, [x, y]: Point): [Point, Point] {
    const ring = this.ringOf(edge);
    const from = edge + ring;
    const to = from + 1;
    const [first, last] = [this.start(ring), this.start(ring + 1) - 1];
    let [prev, next] = [from, to];
    if (x === this.x(from) && y === this.y(from)) prev = from === first ? last - 1 : from - 1;
    else if (x === this.x(to) && y === this.y(to)) next = to === last ? first + 1 : to + 1;
    return [
      [this.x(prev), this.y(prev)],
      [this.x(next), this.y(next)],
    ];
  }
}

/** Whether b→c runs back along a→b (collinear, opposite direction); a ≠ b ≠ c. */
function turnsBack(ax: number, ay: number, bx: number, by: number, cx: number, cy: number) {
  if (orient(ax, ay, bx, by, cx, cy) !== 0) return false;
  return ax !== bx ? bx > ax !== cx > bx : by > ay !== cy > by;
}

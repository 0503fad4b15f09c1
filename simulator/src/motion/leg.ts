// A leg: a polyline a vehicle drives from end to end without stopping or turning sharply.

export interface Leg {
  /** x, y pairs in metres of the run's local frame. */
  readonly xy: Float64Array;
  /** Distance from the first point to point i, metres. */
  readonly cum: Float64Array;
  /** Total length, metres (> 0). */
  readonly length: number;
}

/** What the vehicle does when it reaches the end of a leg. */
export type LegEnd = "stop" | "turn";

/** A leg through the given points (x0, y0, x1, y1, ...); consecutive duplicates are dropped. */
export function legOf(points: readonly number[]): Leg {
  const kept: number[] = [];
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i] as number;
    const y = points[i + 1] as number;
    const n = kept.length;
    if (n >= 2 && Math.hypot(x - (kept[n - 2] as number), y - (kept[n - 1] as number)) < 1e-6) {
      continue;
    }
    kept.push(x, y);
  }
  const xy = Float64Array.from(kept);
  const cum = new Float64Array(xy.length / 2);
  for (let i = 1; i < cum.length; i++) {
    const dx = (xy[2 * i] as number) - (xy[2 * i - 2] as number);
    const dy = (xy[2 * i + 1] as number) - (xy[2 * i - 1] as number);
    cum[i] = (cum[i - 1] as number) + Math.hypot(dx, dy);
  }
  const length = cum.length > 0 ? (cum[cum.length - 1] as number) : 0;
  if (!(length > 0)) throw new RangeError("a leg needs two distinct points");
  return { xy, cum, length };
}

/** The same leg driven the other way. */
export function reversedLeg(leg: Leg): Leg {
  const pts: number[] = [];
  for (let i = leg.xy.length - 2; i >= 0; i -= 2)
    pts.push(leg.xy[i] as number, leg.xy[i + 1] as number);
  return legOf(pts);
}

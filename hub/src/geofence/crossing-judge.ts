// Crossings between sparse fixes as a pure function: (vehicle state before a fix, the fix,
// candidate fences) → interpolated enter/exit pairs for the `detect_crossing` fences the straight
// segment from the previous applied fix to this one passed through, neither fix being inside.
// Membership never changes here: judgeFix owns it, so an interpolated stay gives no dwell.
//
// Decisions (docs/geofences.md "Crossings between fixes"):
// - Only when neither end is inside: the vehicle's state is outside the fence before the fix,
//   the fix does not cover it, and the segment does not start inside it. Otherwise the ordinary
//   enter/exit of judgeFix tells the story.
// - No crossing over a gap longer than `maxGapMs`, across the antimeridian (|Δlon| > 180°), or
//   when either fix is too inaccurate for the fence.
// - Every pass through the shape counts: a segment through a hole or two parts of a MultiPolygon
//   gives one enter/exit pair for each stretch inside, as densely spaced fixes would.
// - Time is linear along the segment: `ts` = previous ts + fraction × gap, rounded to the ms.

import type { CrossableShape } from "./crossing.ts";
import type { Fence } from "./fence.ts";
import { compareIds } from "./fence-index.ts";
import {
  type JudgedFix,
  type JudgeOptions,
  tooInaccurate,
  type VehicleState,
} from "./membership.ts";

export interface CrossingOptions extends JudgeOptions {
  /** A longer gap between the two fixes (ms) gives no crossing. */
  maxGapMs: number;
}

/** A fence that detects crossings, with its shape ready for segment tests. */
export interface CrossingFence {
  fence: Fence;
  shape: CrossableShape;
}

/** Where judging finds crossing fences by id; a missing one was deleted (or does not detect). */
export interface CrossingLookup {
  get(id: string): CrossingFence | undefined;
}

/** One interpolated transition on the segment ending at the judged fix. */
export interface CrossingTransition {
  type: "enter" | "exit";
  fence_id: string;
  /** Epoch ms, interpolated. */
  ts: number;
  latitude: number;
  longitude: number;
  /** Which of this fence's enters (or exits) on this segment it is, from 0: part of its id. */
  ordinal: number;
}

/** The segment a fix ends, or null when no crossing can be judged on it. */
export interface Segment {
  ax: number;
  ay: number;
  bx: number;
  by: number;
  fromTs: number;
  toTs: number;
  fromAccuracy: number | undefined;
}

/** The segment from the previous applied fix to `fix`, when it may hold crossings. */
export function segmentTo(
  state: VehicleState,
  fix: JudgedFix,
  options: Pick<CrossingOptions, "maxGapMs">,
): Segment | null {
  const from = state.last_position;
  if (from === undefined || state.last_ts === null) return null;
  const gap = fix.ts - state.last_ts;
  if (gap < 0 || gap > options.maxGapMs) return null;
  if (Math.abs(fix.longitude - from.longitude) > 180) return null;
  if (fix.longitude === from.longitude && fix.latitude === from.latitude) return null;
  return {
    ax: from.longitude,
    ay: from.latitude,
    bx: fix.longitude,
    by: fix.latitude,
    fromTs: state.last_ts,
    toTs: fix.ts,
    fromAccuracy: from.accuracy,
  };
}

interface Found {
  type: "enter" | "exit";
  fence_id: string;
  fraction: number;
  ordinal: number;
}

/**
 * The crossings of the segment ending at `fix`, in the order they happened (by fraction; at the
 * same point an exit before an enter, then by fence id). `candidates` are the ids of crossing
 * fences whose bbox meets the segment's; `covering` those covering the fix itself.
 */
export function judgeCrossings(
  state: VehicleState,
  fix: JudgedFix,
  candidates: readonly string[],
  covering: readonly string[],
  fences: CrossingLookup,
  options: CrossingOptions,
): CrossingTransition[] {
  if (candidates.length === 0) return [];
  const segment = segmentTo(state, fix, options);
  if (segment === null) return [];
  const found: Found[] = [];
  for (const id of candidates) {
    if (state.inside.has(id) || covering.includes(id)) continue;
    const entry = fences.get(id);
    if (entry === undefined || entry.fence.detect_crossing !== true) continue;
    if (tooInaccurate(fix, entry.fence, options)) continue;
    if (tooInaccurate({ accuracy: segment.fromAccuracy }, entry.fence, options)) continue;
    const spans = entry.shape.spans(segment.ax, segment.ay, segment.bx, segment.by);
    // A span reaching an end means that fix is on or inside the shape: ordinary judging's case.
    if (spans.some((s) => s.enter <= 0 || s.exit >= 1)) continue;
    spans.forEach((s, ordinal) => {
      found.push({ type: "enter", fence_id: id, fraction: s.enter, ordinal });
      found.push({ type: "exit", fence_id: id, fraction: s.exit, ordinal });
    });
  }
  found.sort(
    (p, q) =>
      p.fraction - q.fraction ||
      (p.type === q.type ? 0 : p.type === "exit" ? -1 : 1) ||
      compareIds(p.fence_id, q.fence_id),
  );
  return found.map((f) => ({
    type: f.type,
    fence_id: f.fence_id,
    ts: Math.round(segment.fromTs + f.fraction * (segment.toTs - segment.fromTs)),
    longitude: segment.ax + f.fraction * (segment.bx - segment.ax),
    latitude: segment.ay + f.fraction * (segment.by - segment.ay),
    ordinal: f.ordinal,
  }));
}

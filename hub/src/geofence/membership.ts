// Geofence detection as a pure function: (vehicle state, fix, fences covering it) → (new state,
// transitions). No I/O, clock or logger; inputs are never mutated. CONTRACT §4 is the spec.
//
// Decisions beyond the contract:
// - Hysteresis is one-sided (a Schmitt trigger): a vehicle enters at the boundary, but once inside
//   it exits only when more than `hysteresis_m` outside. Widening the entry too would report a
//   vehicle inside a place it has not reached; the band exists only to stop exit/enter storms
//   from a fix wandering across the line.
// - A fix too inaccurate for a fence (`accuracy` > `max_accuracy_m`, or the global default)
//   freezes that fence's membership: no enter, no exit, no dwell. It still advances `last_ts`,
//   because it is a real, newer fix, and other fences still judge it. No `accuracy`: trusted.
// - `dwell_s` and `hysteresis_m` of 0 or less mean off, as when absent.

import { distanceToEdgeM } from "./distance.ts";
import type { Fence } from "./fence.ts";
import { compareIds } from "./fence-index.ts";

/** The part of a fix that judging needs; the protocol's Fix is structurally compatible. */
export interface JudgedFix {
  latitude: number;
  longitude: number;
  /** Time of the fix, epoch milliseconds. */
  ts: number;
  /** Horizontal accuracy, metres. */
  accuracy?: number;
}

/** A vehicle's stay inside one fence. */
export interface Membership {
  /** `ts` of the fix that entered. */
  entered_at: number;
  dwell_emitted: boolean;
}

/** Where the newest applied fix was, for crossings between it and the next (crossing-judge.ts). */
export type LastPosition = Pick<JudgedFix, "longitude" | "latitude" | "accuracy">;

/** What is remembered of one vehicle between fixes. */
export interface VehicleState {
  /** `ts` of the newest applied fix; null before the first. */
  last_ts: number | null;
  /**
   * Position of that fix, kept by the engine only while some fence detects crossings. judgeFix
   * leaves it out: retaining one more object per fix until the vehicle's next one slowed its
   * measured rate by a fifth (GC promotion). Absent otherwise.
   */
  last_position?: LastPosition;
  /** The fences the vehicle is inside, by id. Never mutated: successive states may share it. */
  inside: ReadonlyMap<string, Membership>;
}

export type TransitionType = "enter" | "exit" | "dwell";

export interface Transition {
  type: TransitionType;
  fence_id: string;
}

export interface JudgeOptions {
  /** Accuracy limit (m) for fences without their own `max_accuracy_m`; Infinity turns it off. */
  defaultMaxAccuracyM: number;
}

/** Where judging looks fences up: a Map, or anything with the same `get` (e.g. MemoryFenceIndex). */
export interface FenceLookup {
  get(id: string): Fence | undefined;
}

export interface Judgement {
  state: VehicleState;
  /** Exits, then enters, then dwells; each group sorted by fence id. */
  transitions: Transition[];
}

/** The state of a vehicle never seen: no fix yet, inside nothing. */
export const EMPTY_VEHICLE_STATE: VehicleState = Object.freeze({
  last_ts: null,
  inside: new Map<string, Membership>(),
});

export const DEFAULT_JUDGE_OPTIONS: JudgeOptions = Object.freeze({
  defaultMaxAccuracyM: Number.POSITIVE_INFINITY,
});

/**
 * Applies one fix to a vehicle's state. `covering` holds the ids of the fences whose geometry
 * covers the fix (from a FenceIndex); `fences` is the current catalogue, and a fence missing from
 * it is treated as deleted: its membership is dropped without an event.
 */
export function judgeFix(
  state: VehicleState,
  fix: JudgedFix,
  covering: readonly string[],
  fences: FenceLookup,
  options: JudgeOptions = DEFAULT_JUDGE_OPTIONS,
): Judgement {
  if (state.last_ts !== null && fix.ts < state.last_ts) return { state, transitions: [] };

  // Copied on the first change only: most fixes change no membership, and the old map is shared.
  let inside: Map<string, Membership> | undefined;
  const exits: string[] = [];
  const enters: string[] = [];
  const dwells: string[] = [];

  for (const [id, membership] of state.inside) {
    const fence = fences.get(id);
    if (fence === undefined) {
      inside ??= new Map(state.inside);
      inside.delete(id);
    } else if (tooInaccurate(fix, fence, options)) {
      // Frozen: this fix says nothing reliable about this fence.
    } else if (!covering.includes(id) && !withinHysteresis(fence, fix)) {
      exits.push(id);
      inside ??= new Map(state.inside);
      inside.delete(id);
    } else if (dwellDue(fence, membership, fix)) {
      dwells.push(id);
      inside ??= new Map(state.inside);
      inside.set(id, { entered_at: membership.entered_at, dwell_emitted: true });
    }
  }

  for (const id of covering) {
    if (state.inside.has(id) || inside?.has(id)) continue;
    const fence = fences.get(id);
    if (fence === undefined || tooInaccurate(fix, fence, options)) continue;
    enters.push(id);
    // dwell_s > 0, so no dwell is due at the entering fix itself.
    inside ??= new Map(state.inside);
    inside.set(id, { entered_at: fix.ts, dwell_emitted: false });
  }

  const transitions: Transition[] = [];
  for (const id of exits.sort(compareIds)) transitions.push({ type: "exit", fence_id: id });
  for (const id of enters.sort(compareIds)) transitions.push({ type: "enter", fence_id: id });
  for (const id of dwells.sort(compareIds)) transitions.push({ type: "dwell", fence_id: id });
  return { state: { last_ts: fix.ts, inside: inside ?? state.inside }, transitions };
}

/** Whether the fix's accuracy is worse than the fence (or the global default) accepts. */
export function tooInaccurate(
  fix: { accuracy?: number },
  fence: Fence,
  options: JudgeOptions,
): boolean {
  if (fix.accuracy === undefined) return false;
  return fix.accuracy > (fence.max_accuracy_m ?? options.defaultMaxAccuracyM);
}

/** Whether a fix outside the fence is still within its exit band (so the vehicle stays inside). */
function withinHysteresis(fence: Fence, fix: JudgedFix): boolean {
  const band = fence.hysteresis_m ?? 0;
  if (!(band > 0)) return false;
  return distanceToEdgeM(fence, fix.longitude, fix.latitude) <= band;
}

function dwellDue(fence: Fence, membership: Membership, fix: JudgedFix): boolean {
  const dwell = fence.dwell_s ?? 0;
  if (!(dwell > 0) || membership.dwell_emitted) return false;
  return fix.ts - membership.entered_at >= dwell * 1000;
}

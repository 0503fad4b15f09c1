// The geofence engine: the live fences (by id and in the spatial index) and every vehicle's
// judged state with its version, behind one seam. It judges a group commit's fresh fixes with the
// pure `judgeFix` (and `judgeCrossings` where fences detect crossings) and changes its vehicle
// states only when told that the decision was committed, or, when another hub wrote them, when
// given the stored ones again.

import { buildCrossingEvent, buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import type { GeofenceRecord, VehicleUpdate, VersionedState } from "../store/store.ts";
import { crossableShape, detectsCrossing } from "./crossing.ts";
import {
  type CrossingFence,
  type CrossingOptions,
  judgeCrossings,
  segmentTo,
} from "./crossing-judge.ts";
import type { Fence } from "./fence.ts";
import type { Box, FenceIndex, LonLat } from "./fence-index.ts";
import {
  EMPTY_VEHICLE_STATE,
  type JudgeOptions,
  judgeFix,
  type VehicleState,
} from "./membership.ts";

const NO_IDS: readonly string[] = Object.freeze([]);
const NO_MEMBERSHIPS: VehicleState["inside"] = new Map();

/** Longest gap between two fixes (ms) with crossings between them, unless configured. */
export const DEFAULT_CROSSING_MAX_GAP_MS = 600_000;

export interface EngineOptions extends JudgeOptions {
  /** A longer gap between two fixes (ms) gives no crossing. Default DEFAULT_CROSSING_MAX_GAP_MS. */
  crossingMaxGapMs?: number;
}

/** What the engine decided about the fresh fixes of one group commit. */
export interface Decision {
  vehicles: VehicleUpdate[];
  events: GeofenceEvent[];
}

export function fenceFromRecord(record: GeofenceRecord): Fence {
  const fence: Fence = { id: record.id, name: record.name, polygons: record.polygons };
  if (record.circle !== undefined) fence.circle = record.circle;
  if (record.corridor !== undefined) fence.corridor = record.corridor;
  if (record.hysteresis_m !== null) fence.hysteresis_m = record.hysteresis_m;
  if (record.max_accuracy_m !== null) fence.max_accuracy_m = record.max_accuracy_m;
  if (record.dwell_s !== null) fence.dwell_s = record.dwell_s;
  if (record.detect_crossing) fence.detect_crossing = true;
  return fence;
}

export class GeofenceEngine {
  readonly #fences = new Map<string, Fence>();
  readonly #states = new Map<string, VehicleState>();
  /** The stored version each state was read or written as (absent: 0, none stored). */
  readonly #versions = new Map<string, number>();
  /** Who is inside each fence: the states' memberships turned around, kept in step by #setState. */
  readonly #insideOf = new Map<string, Set<string>>();
  /** The fences with detect_crossing, with their shapes; empty keeps judging free of segments. */
  readonly #crossing = new Map<string, CrossingFence>();
  readonly #index: FenceIndex;
  readonly #options: CrossingOptions;

  constructor(index: FenceIndex, options: EngineOptions) {
    this.#index = index;
    const { crossingMaxGapMs, ...judge } = options;
    this.#options = { ...judge, maxGapMs: crossingMaxGapMs ?? DEFAULT_CROSSING_MAX_GAP_MS };
  }

  /**
   * Takes the stored geofences and vehicle states at start: plain states from a store that keeps
   * no versions, versioned ones from a store that checks them at commit.
   */
  async load(
    records: readonly GeofenceRecord[],
    states: ReadonlyMap<string, VehicleState | VersionedState>,
  ): Promise<void> {
    const fences = records.map(fenceFromRecord);
    for (const fence of fences) this.#setFence(fence);
    for (const [id, stored] of states) {
      if ("version" in stored) {
        this.#setState(id, stored.state);
        this.#versions.set(id, stored.version);
      } else {
        this.#setState(id, stored);
      }
    }
    await this.#index.load(fences);
  }

  /**
   * Takes the stored states of `ids` again, after a commit found that another hub had written
   * them: a vehicle absent from `stored` has none (version 0).
   */
  reload(ids: Iterable<string>, stored: ReadonlyMap<string, VersionedState>): void {
    for (const id of ids) {
      const found = stored.get(id);
      this.#setState(id, found?.state ?? EMPTY_VEHICLE_STATE);
      this.#versions.set(id, found?.version ?? 0);
    }
  }

  /** After a geofence was stored (created or replaced). */
  async upsert(record: GeofenceRecord): Promise<void> {
    const fence = fenceFromRecord(record);
    await this.#index.upsert(fence);
    this.#setFence(fence);
  }

  /** After a geofence was deleted: memberships of it end without an event. */
  async remove(id: string): Promise<void> {
    this.#fences.delete(id);
    this.#crossing.delete(id);
    await this.#index.remove(id);
  }

  #setFence(fence: Fence): void {
    this.#fences.set(fence.id, fence);
    if (detectsCrossing(fence)) {
      this.#crossing.set(fence.id, { fence, shape: crossableShape(fence) });
    } else {
      this.#crossing.delete(fence.id);
    }
  }

  has(id: string): boolean {
    return this.#fences.has(id);
  }

  /** The vehicles inside a live fence now, by id in order; empty for a fence it does not know. */
  vehiclesInside(id: string): string[] {
    if (!this.#fences.has(id)) return [];
    return [...(this.#insideOf.get(id) ?? [])].sort();
  }

  get fenceCount(): number {
    return this.#fences.size;
  }

  state(vehicleId: string): VehicleState {
    return this.#states.get(vehicleId) ?? EMPTY_VEHICLE_STATE;
  }

  /**
   * Judges `fresh` (no duplicates) in arrival order. A fix older than its vehicle's newest is
   * history only: stored, not judged, and not looked up in the index. Changes nothing here.
   */
  async judge(fresh: readonly Fix[], detectedAt: number): Promise<Decision> {
    const judged: Fix[] = [];
    const newest = new Map<string, number>();
    for (const fix of fresh) {
      const last = newest.get(fix.vehicle_id) ?? this.state(fix.vehicle_id).last_ts;
      if (last !== null && fix.ts < last) continue;
      newest.set(fix.vehicle_id, fix.ts);
      judged.push(fix);
    }
    if (judged.length === 0) return { vehicles: [], events: [] };
    const points = judged.map((f): LonLat => [f.longitude, f.latitude]);
    const covering = await this.#index.covering(points);
    const crossing = this.#crossing.size === 0 ? null : await this.#crossingCandidates(judged);

    const touched = new Map<string, VehicleUpdate>();
    const events: GeofenceEvent[] = [];
    for (let i = 0; i < judged.length; i++) {
      const fix = judged[i] as Fix;
      const previous = touched.get(fix.vehicle_id)?.state ?? this.state(fix.vehicle_id);
      const result = judgeFix(previous, fix, covering[i] ?? [], this.#fences, this.#options);
      // The position only while it can be used: a fence detecting crossings is judged from the
      // segment that starts at each vehicle's next fix.
      const state: VehicleState =
        crossing === null
          ? result.state
          : { last_ts: result.state.last_ts, last_position: fix, inside: result.state.inside };
      touched.set(fix.vehicle_id, {
        vehicle_id: fix.vehicle_id,
        state,
        last_fix: fix,
        base_version: this.#versions.get(fix.vehicle_id) ?? 0,
      });
      // On the way to the fix, so before its own transitions.
      const candidates = crossing?.[i];
      if (candidates !== undefined && candidates.length > 0) {
        const crossed = judgeCrossings(
          previous,
          fix,
          candidates,
          covering[i] ?? [],
          this.#crossing,
          this.#options,
        );
        for (const c of crossed) {
          const name = this.#fences.get(c.fence_id)?.name ?? "";
          const transition = { type: c.type, geofence_id: c.fence_id };
          events.push(buildCrossingEvent(transition, fix, c, name, detectedAt));
        }
      }
      for (const t of result.transitions) {
        const name = this.#fences.get(t.fence_id)?.name ?? "";
        events.push(buildEvent({ type: t.type, geofence_id: t.fence_id }, fix, name, detectedAt));
      }
    }
    return { vehicles: [...touched.values()], events };
  }

  /**
   * For each judged fix, the crossing fences whose bbox meets the segment from the vehicle's
   * previous applied fix (in this group or before it); empty where no crossing can be judged.
   */
  async #crossingCandidates(judged: readonly Fix[]): Promise<(readonly string[])[]> {
    // Each vehicle's previous fix within this group; only last_ts and last_position are read.
    const last = new Map<string, Fix>();
    const boxes: Box[] = [];
    const at: number[] = [];
    for (let i = 0; i < judged.length; i++) {
      const fix = judged[i] as Fix;
      const previous = last.get(fix.vehicle_id);
      const before: VehicleState =
        previous === undefined
          ? this.state(fix.vehicle_id)
          : { last_ts: previous.ts, last_position: previous, inside: NO_MEMBERSHIPS };
      const s = segmentTo(before, fix, this.#options);
      if (s !== null) {
        boxes.push([
          Math.min(s.ax, s.bx),
          Math.min(s.ay, s.by),
          Math.max(s.ax, s.bx),
          Math.max(s.ay, s.by),
        ]);
        at.push(i);
      }
      last.set(fix.vehicle_id, fix);
    }
    const out = new Array<readonly string[]>(judged.length).fill(NO_IDS);
    if (boxes.length === 0) return out;
    const found = await this.#index.crossingCandidates(boxes);
    at.forEach((i, k) => {
      out[i] = found[k] ?? [];
    });
    return out;
  }

  /** Makes a committed decision's states the ones the next fixes are judged from. */
  apply(decision: Decision): void {
    for (const v of decision.vehicles) {
      this.#setState(v.vehicle_id, v.state);
      this.#versions.set(v.vehicle_id, (v.base_version ?? 0) + 1);
    }
  }

  #setState(vehicleId: string, state: VehicleState): void {
    const before = this.#states.get(vehicleId)?.inside;
    this.#states.set(vehicleId, state);
    if (before === state.inside) return;
    if (before !== undefined) {
      for (const id of before.keys()) {
        if (state.inside.has(id)) continue;
        const set = this.#insideOf.get(id);
        set?.delete(vehicleId);
        if (set?.size === 0) this.#insideOf.delete(id);
      }
    }
    for (const id of state.inside.keys()) {
      if (before?.has(id)) continue;
      let set = this.#insideOf.get(id);
      if (set === undefined) {
        set = new Set();
        this.#insideOf.set(id, set);
      }
      set.add(vehicleId);
    }
  }
}

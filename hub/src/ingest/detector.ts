// Turns the new fixes of one group commit into vehicle-state updates and events, using the pure
// membership rules; the cached states change only once the store has committed the decision.

import { buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import type { FenceCatalogue } from "../geofence/catalogue.ts";
import {
  EMPTY_VEHICLE_STATE,
  type JudgeOptions,
  judgeFix,
  type VehicleState,
} from "../geofence/membership.ts";
import type { Decision, VehicleUpdate } from "../store/store.ts";

export class Detector {
  readonly #states: Map<string, VehicleState>;
  readonly #fences: FenceCatalogue;
  readonly #options: JudgeOptions;

  constructor(states: Map<string, VehicleState>, fences: FenceCatalogue, options: JudgeOptions) {
    this.#states = states;
    this.#fences = fences;
    this.#options = options;
  }

  /**
   * Judges `fresh` in arrival order. `covering` gives the fences covering each fix. Pure with
   * respect to the cache: nothing changes until `commit`.
   */
  decide(
    fresh: readonly Fix[],
    covering: ReadonlyMap<Fix, readonly string[]>,
    detectedAt: number,
  ): Decision {
    const touched = new Map<string, VehicleUpdate>();
    const events: GeofenceEvent[] = [];
    for (const fix of fresh) {
      const previous = touched.get(fix.vehicle_id)?.state ?? this.state(fix.vehicle_id);
      if (previous.last_ts !== null && fix.ts < previous.last_ts) continue; // history only
      const judged = judgeFix(previous, fix, covering.get(fix) ?? [], this.#fences, this.#options);
      touched.set(fix.vehicle_id, {
        vehicle_id: fix.vehicle_id,
        state: judged.state,
        last_fix: fix,
      });
      for (const t of judged.transitions) {
        const name = this.#fences.get(t.fence_id)?.name ?? "";
        events.push(buildEvent({ type: t.type, geofence_id: t.fence_id }, fix, name, detectedAt));
      }
    }
    return { vehicles: [...touched.values()], events };
  }

  /** Makes a committed decision the new cached state. */
  commit(decision: Decision): void {
    for (const v of decision.vehicles) this.#states.set(v.vehicle_id, v.state);
  }

  state(vehicleId: string): VehicleState {
    return this.#states.get(vehicleId) ?? EMPTY_VEHICLE_STATE;
  }
}

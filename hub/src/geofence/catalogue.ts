// The geofences the engine judges against: a catalogue by id plus the spatial index, kept in step.

import type { GeofenceRecord } from "../store/store.ts";
import type { Fence } from "./fence.ts";
import type { FenceIndex } from "./fence-index.ts";
import { MemoryFenceIndex } from "./memory-index.ts";

export function fenceFromRecord(record: GeofenceRecord): Fence {
  const fence: Fence = { id: record.id, name: record.name, polygons: record.polygons };
  if (record.hysteresis_m !== null) fence.hysteresis_m = record.hysteresis_m;
  if (record.max_accuracy_m !== null) fence.max_accuracy_m = record.max_accuracy_m;
  if (record.dwell_s !== null) fence.dwell_s = record.dwell_s;
  return fence;
}

/** Live geofences: what the REST API changes, the ingest pipeline reads. */
export class FenceCatalogue {
  readonly #fences = new Map<string, Fence>();
  readonly index: FenceIndex;

  constructor(index: FenceIndex) {
    this.index = index;
  }

  async upsert(record: GeofenceRecord): Promise<void> {
    const fence = fenceFromRecord(record);
    await this.index.upsert(fence);
    this.#fences.set(fence.id, fence);
  }

  /**
   * Takes the stored geofences at start. `indexed`: the index already holds them (PostGIS reads
   * the geofences table itself), so only the catalogue is filled.
   */
  async load(records: readonly GeofenceRecord[], indexed: boolean): Promise<void> {
    const loaded = records.map(fenceFromRecord);
    for (const fence of loaded) this.#fences.set(fence.id, fence);
    if (indexed) return;
    if (this.index instanceof MemoryFenceIndex) this.index.load(loaded);
    else for (const fence of loaded) await this.index.upsert(fence);
  }

  async remove(id: string): Promise<void> {
    this.#fences.delete(id);
    await this.index.remove(id);
  }

  has(id: string): boolean {
    return this.#fences.has(id);
  }

  get(id: string): Fence | undefined {
    return this.#fences.get(id);
  }

  get size(): number {
    return this.#fences.size;
  }
}

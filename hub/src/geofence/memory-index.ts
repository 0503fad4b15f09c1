// The in-process FenceIndex: a packed Hilbert R-tree (Flatbush) over every polygon's bbox, plus a
// small overlay for recent changes, then an exact point-in-polygon test on the candidates.
//
// Flatbush cannot change after it is built, so changes are layered on top of it:
// - an upsert compiles the fence and appends it to the overlay, a short list scanned linearly;
// - a removed or replaced fence's record is flagged dead (a tombstone) and skipped on lookup;
// - the tree is rebuilt from the live records (O(n log n); compiled geometry is reused) once the
//   overlay reaches max(minRebuildBatch, ⌈√n⌉) entries or tombstones reach max(minRebuildBatch, n/4).
// Amortised, an upsert costs O(v) to compile plus O(√n · log n) of rebuilds, a remove O(log n);
// a lookup scans at most ~√n overlay bboxes besides the tree (100 at 10k fences).
// The tree holds one box per polygon rather than per fence: a MultiPolygon's parts may be far
// apart, and on the benchmark's mix per-polygon boxes measured no slower. Circles and corridors
// go in as their parts (reach.ts): a circle's bbox, or each run of a corridor's segments, grown by
// the radius or half width; their exact test is a great-circle distance (sphere.ts).
// Fences with `detect_crossing` (polygons only) also get a second, small tree of their bboxes for
// segment lookups, rebuilt on the first lookup after one of them changed: point lookups never see it.

import Flatbush from "flatbush";
import { detectsCrossing } from "./crossing.ts";
import type { Fence } from "./fence.ts";
import { type Box, compareIds, type FenceIndex, type LonLat } from "./fence-index.ts";
import {
  type CompiledGeometry,
  type CompiledPolygon,
  compileFence,
  polygonCovers,
} from "./geometry.ts";
import { type CompiledReach, reachCovers } from "./reach.ts";
import { toUnit, type Unit } from "./sphere.ts";

// Children per tree node. For point queries 4 and 8 measured ~20% faster than Flatbush's
// default of 16 (fewer boxes tested per visited node); 8 keeps the tree shallower.
const NODE_SIZE = 8;

export interface MemoryFenceIndexOptions {
  /**
   * The fewest overlay entries (or tombstones) that trigger a rebuild of the tree; see the file
   * header for the actual limits. Default 64. Tests use 1 to 3 to exercise rebuilds often.
   */
  minRebuildBatch?: number;
}

interface FenceRecord {
  readonly fence: Fence;
  readonly geometry: CompiledGeometry;
  /** False once removed or replaced: the tree may still point here until the next rebuild. */
  live: boolean;
  /** Position in the overlay, or -1 when the record is in the tree. */
  overlaySlot: number;
  /** The lookup that last reported this fence, so a fence found via two polygons is listed once. */
  hitStamp: number;
}

/** In-memory FenceIndex with a synchronous single-point lookup for the ingest hot path. */
export class MemoryFenceIndex implements FenceIndex {
  readonly #minRebuildBatch: number;
  readonly #records = new Map<string, FenceRecord>();

  #tree: Flatbush | null = null;
  /**
   * For each tree item: the polygon it bounds and the record that owns it. Items 0 to
   * #treePolygons.length - 1 are polygons; the rest are circle and corridor parts, in #treeReaches.
   */
  #treePolygons: CompiledPolygon[] = [];
  #treeReaches: CompiledReach[] = [];
  #treeOwners: FenceRecord[] = [];
  #tombstones = 0;

  #overlay: FenceRecord[] = [];
  /** The overlay records' bboxes, 4 numbers each, packed for a cache-friendly scan. */
  #overlayBoxes = new Float64Array(4 * 64);

  /** The fences with detect_crossing, and a tree of their bboxes (null: to be rebuilt). */
  readonly #crossing = new Map<string, FenceRecord>();
  #crossingTree: Flatbush | null = null;
  #crossingOwners: FenceRecord[] = [];

  /** Increments per lookup; see FenceRecord.hitStamp. */
  #stamp = 0;
  /** The point and result list of the lookup in progress, read by #visit. */
  #queryX = 0;
  #queryY = 0;
  /** The query point as a unit vector, computed on the first circle or corridor candidate. */
  #queryUnit: Unit | null = null;
  #queryOut: string[] = [];

  constructor(options: MemoryFenceIndexOptions = {}) {
    this.#minRebuildBatch = Math.max(1, options.minRebuildBatch ?? 64);
  }

  /** How many fences are held. */
  get size(): number {
    return this.#records.size;
  }

  /** The fence with this id as last upserted, if any. Lets the index serve as the fence catalogue. */
  get(id: string): Fence | undefined {
    return this.#records.get(id)?.fence;
  }

  /** Every fence held, in no particular order. */
  fences(): IterableIterator<Fence> {
    const records = this.#records.values();
    return (function* () {
      for (const record of records) yield record.fence;
    })();
  }

  /** Adds or replaces the fence; it is searchable at once, via the overlay. */
  upsert(fence: Fence): void {
    this.#overlayAppend(this.#put(fence));
    this.#rebuildIfDue();
  }

  /** Adds or replaces many fences with one rebuild at the end: the way to load a catalogue. */
  load(fences: Iterable<Fence>): void {
    for (const fence of fences) this.#put(fence);
    this.#rebuild();
  }

  /** Forgets the fence; an unknown id is ignored. */
  remove(id: string): void {
    const record = this.#records.get(id);
    if (record === undefined) return;
    this.#records.delete(id);
    this.#retire(record);
    this.#rebuildIfDue();
  }

  /** For each [lon, lat], the sorted ids of the fences covering it. */
  covering(points: readonly LonLat[]): string[][] {
    return points.map(([lon, lat]) => this.coveringPoint(lon, lat));
  }

  /** For each box, the sorted ids of the crossing fences whose bbox meets it. */
  crossingCandidates(boxes: readonly Box[]): string[][] {
    if (this.#crossing.size === 0) return boxes.map(() => []);
    const tree = this.#crossingTreeNow();
    const owners = this.#crossingOwners;
    return boxes.map(([x0, y0, x1, y1]) => {
      // NaN passes every bbox comparison (see coveringPoint).
      if (Number.isNaN(x0 + y0 + x1 + y1)) return [];
      const hits = tree.search(x0, y0, x1, y1);
      const ids = new Array<string>(hits.length);
      for (let k = 0; k < hits.length; k++)
        ids[k] = (owners[hits[k] as number] as FenceRecord).fence.id;
      return ids.length > 1 ? ids.sort(compareIds) : ids;
    });
  }

  #crossingTreeNow(): Flatbush {
    if (this.#crossingTree !== null) return this.#crossingTree;
    const owners = [...this.#crossing.values()];
    const tree = new Flatbush(owners.length, NODE_SIZE);
    for (const { geometry: g } of owners) tree.add(g.minX, g.minY, g.maxX, g.maxY);
    tree.finish();
    this.#crossingTree = tree;
    this.#crossingOwners = owners;
    return tree;
  }

  /**
   * The ids of the fences covering (lon, lat), sorted. Pass `out` to reuse an array across calls
   * (it is cleared first and returned); the caller must not keep it past the next call.
   */
  coveringPoint(lon: number, lat: number, out: string[] = []): string[] {
    out.length = 0;
    // NaN passes every bbox comparison; a NaN point is covered by nothing.
    if (Number.isNaN(lon) || Number.isNaN(lat)) return out;
    this.#stamp++;
    this.#searchTree(lon, lat, out);
    this.#scanOverlay(lon, lat, out);
    if (out.length > 1) out.sort(compareIds);
    return out;
  }

  /**
   * Asks the tree for the point's candidates and tests each exactly inside Flatbush's filter,
   * which always declines: nothing is collected into the array `search` returns, so the only
   * allocations per lookup are Flatbush's two small empty arrays.
   */
  #searchTree(x: number, y: number, out: string[]): void {
    const tree = this.#tree;
    if (tree === null) return;
    this.#queryX = x;
    this.#queryY = y;
    this.#queryUnit = null;
    this.#queryOut = out;
    tree.search(x, y, x, y, this.#visit);
  }

  /** Flatbush's filter for #searchTree: records a covering fence and declines every item. */
  readonly #visit = (index: number): boolean => {
    const owner = this.#treeOwners[index] as FenceRecord;
    if (owner.live && owner.hitStamp !== this.#stamp) {
      const polygons = this.#treePolygons;
      const covers =
        index < polygons.length
          ? polygonCovers(polygons[index] as CompiledPolygon, this.#queryX, this.#queryY)
          : reachCovers(this.#treeReaches[index - polygons.length] as CompiledReach, this.#unit());
      if (covers) {
        owner.hitStamp = this.#stamp;
        this.#queryOut.push(owner.fence.id);
      }
    }
    return false;
  };

  #unit(): Unit {
    this.#queryUnit ??= toUnit(this.#queryX, this.#queryY);
    return this.#queryUnit;
  }

  #scanOverlay(x: number, y: number, out: string[]): void {
    const boxes = this.#overlayBoxes;
    const overlay = this.#overlay;
    for (let i = 0, b = 0; i < overlay.length; i++, b += 4) {
      if (x < (boxes[b] as number) || y < (boxes[b + 1] as number)) continue;
      if (x > (boxes[b + 2] as number) || y > (boxes[b + 3] as number)) continue;
      const record = overlay[i] as FenceRecord;
      if (this.#recordCovers(record.geometry, x, y)) out.push(record.fence.id);
    }
  }

  #recordCovers(geometry: CompiledGeometry, x: number, y: number): boolean {
    for (const polygon of geometry.polygons) {
      if (x < polygon.minX || x > polygon.maxX || y < polygon.minY || y > polygon.maxY) continue;
      if (polygonCovers(polygon, x, y)) return true;
    }
    for (const part of geometry.reaches) {
      if (x < part.minX || x > part.maxX || y < part.minY || y > part.maxY) continue;
      if (reachCovers(part, toUnit(x, y))) return true;
    }
    return false;
  }

  /** Compiles and registers the fence, retiring the record it replaces. */
  #put(fence: Fence): FenceRecord {
    const previous = this.#records.get(fence.id);
    if (previous !== undefined) this.#retire(previous);
    const record: FenceRecord = {
      fence,
      geometry: compileFence(fence),
      live: true,
      overlaySlot: -1,
      hitStamp: 0,
    };
    this.#records.set(fence.id, record);
    if (detectsCrossing(fence)) {
      this.#crossing.set(fence.id, record);
      this.#crossingTree = null;
    }
    return record;
  }

  #retire(record: FenceRecord): void {
    record.live = false;
    if (this.#crossing.get(record.fence.id) === record) {
      this.#crossing.delete(record.fence.id);
      this.#crossingTree = null;
    }
    if (record.overlaySlot >= 0) this.#overlayRemove(record);
    else if (this.#tree !== null) this.#tombstones++;
  }

  #overlayAppend(record: FenceRecord): void {
    const slot = this.#overlay.length;
    if (this.#overlayBoxes.length < 4 * (slot + 1)) {
      const grown = new Float64Array(this.#overlayBoxes.length * 2);
      grown.set(this.#overlayBoxes);
      this.#overlayBoxes = grown;
    }
    const g = record.geometry;
    this.#overlayBoxes.set([g.minX, g.minY, g.maxX, g.maxY], 4 * slot);
    this.#overlay.push(record);
    record.overlaySlot = slot;
  }

  /** Swap-remove: the last overlay entry takes the freed slot. */
  #overlayRemove(record: FenceRecord): void {
    const slot = record.overlaySlot;
    const last = this.#overlay.pop() as FenceRecord;
    record.overlaySlot = -1;
    if (last === record) return;
    this.#overlay[slot] = last;
    last.overlaySlot = slot;
    const from = 4 * this.#overlay.length;
    this.#overlayBoxes.copyWithin(4 * slot, from, from + 4);
  }

  /**
   * The overlay is scanned by every lookup, so it is kept to ~√n entries. Tombstones only cost a
   * bbox hit that is then skipped, so they may pile up to a quarter of the tree.
   */
  #rebuildIfDue(): void {
    const n = this.#records.size;
    const overlayLimit = Math.max(this.#minRebuildBatch, Math.ceil(Math.sqrt(n)));
    const tombstoneLimit = Math.max(this.#minRebuildBatch, Math.ceil(n / 4));
    if (this.#overlay.length >= overlayLimit || this.#tombstones >= tombstoneLimit) this.#rebuild();
  }

  #rebuild(): void {
    const polygons: CompiledPolygon[] = [];
    const reaches: CompiledReach[] = [];
    const owners: FenceRecord[] = [];
    const reachOwners: FenceRecord[] = [];
    for (const record of this.#records.values()) {
      record.overlaySlot = -1;
      for (const polygon of record.geometry.polygons) {
        polygons.push(polygon);
        owners.push(record);
      }
      for (const part of record.geometry.reaches) {
        reaches.push(part);
        reachOwners.push(record);
      }
    }
    for (const owner of reachOwners) owners.push(owner);
    let tree: Flatbush | null = null;
    if (owners.length > 0) {
      tree = new Flatbush(owners.length, NODE_SIZE);
      for (const p of polygons) tree.add(p.minX, p.minY, p.maxX, p.maxY);
      for (const p of reaches) tree.add(p.minX, p.minY, p.maxX, p.maxY);
      tree.finish();
    }
    this.#tree = tree;
    this.#treePolygons = polygons;
    this.#treeReaches = reaches;
    this.#treeOwners = owners;
    this.#tombstones = 0;
    this.#overlay = [];
  }
}

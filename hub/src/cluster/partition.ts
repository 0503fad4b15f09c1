// How the fleet is cut into partitions on the engine (docs/scaling.md): a vehicle's partition is
// FNV-1a of its id modulo the partition count, the same on every hub, and its fixes travel on the
// subject `locus.p.<partition>.<vehicle token>`.

/** The stream every hub forwards fixes into; a message leaves it once its owner committed it. */
export const FIXES_STREAM = "LOCUS_FIXES";
/** The stream committed events reach every hub through (deduplicated by event id). */
export const EVENTS_STREAM = "LOCUS_EVENTS";
export const EVENTS_SUBJECT = "locus.events";
/** Committed fixes for every hub's live stream clients: plain publish, nothing kept. */
export const LIVE_FIXES_SUBJECT = "locus.live.fixes";
/** The replicated key-value bucket of the hubs' heartbeats (its TTL is the lease time). */
export const MEMBERS_BUCKET = "locus_members";
/** The replicated key-value bucket naming each partition's owner (no TTL). */
export const OWNERS_BUCKET = "locus_partitions";

/** Partitions unless configured: many more than hubs, so ownership moves in small pieces. */
export const DEFAULT_PARTITIONS = 64;

/** The partition of a vehicle: FNV-1a (32 bits) of its id's UTF-16 code units, modulo `count`. */
export function partitionOf(vehicleId: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < vehicleId.length; i++) {
    hash ^= vehicleId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}

/**
 * The subject of a vehicle's fixes. The vehicle id is hex-encoded: ids may hold `.`, which
 * separates subject tokens, and the subject is only routed by its partition anyway.
 */
export function fixSubject(vehicleId: string, count: number): string {
  return `locus.p.${partitionOf(vehicleId, count)}.${Buffer.from(vehicleId).toString("hex")}`;
}

/** What a partition's consumer reads. */
export function partitionFilter(partition: number): string {
  return `locus.p.${partition}.>`;
}

// The live stream's fan-out: what the hub commits (fixes, events, geofence changes, vehicle
// status) handed to every stream client. No I/O and no timers: each publish call encodes its
// message once and hands the same bytes to every listener, so its cost is O(listeners) and it
// never waits for a socket. Fixes are not handed out one by one: they are coalesced to the newest
// per vehicle until the stream's ticker takes them as one batch (takeFixes).

import { type Fix, type GeofenceEvent, toWireEvent, toWireFix } from "@locus/protocol";

/** One message for the stream clients, encoded once and shared by all of them. */
export interface LiveMessage {
  /** The UTF-8 JSON text of the message. */
  readonly data: Buffer;
}

/** Takes the feed's messages; must not block (a session queues, it never writes synchronously). */
export interface LiveListener {
  message(message: LiveMessage): void;
}

/** The newest fix per vehicle since the previous batch, encoded on first use and then shared. */
export class FixBatch {
  #data: Buffer | null = null;

  constructor(readonly fixes: ReadonlyMap<string, Fix>) {}

  /** The `{"type":"fixes",…}` message of this batch (encoded once for every client). */
  data(): Buffer {
    this.#data ??= encodeFixes(this.fixes.values());
    return this.#data;
  }
}

/** A `{"type":"fixes","fixes":[…]}` message of the §3 fix shape. */
export function encodeFixes(fixes: Iterable<Fix>): Buffer {
  const wire = [];
  for (const fix of fixes) wire.push(toWireFix(fix));
  return encode({ type: "fixes", fixes: wire });
}

function encode(message: object): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}

export interface LiveFeedOptions {
  /** Fixes that were replaced by a newer fix of their vehicle before any client was sent them. */
  onCoalesced?: (count: number) => void;
}

export class LiveFeed {
  readonly #listeners = new Set<LiveListener>();
  readonly #onCoalesced: (count: number) => void;
  /** The newest fix per vehicle since the last batch. */
  #pending = new Map<string, Fix>();
  /**
   * The ts of the newest fix batched so far per vehicle, while anyone listens: an older fix
   * (stored late, out of order) is history, not the vehicle's position, and is not streamed.
   */
  readonly #batchedTs = new Map<string, number>();

  constructor(options: LiveFeedOptions = {}) {
    this.#onCoalesced = options.onCoalesced ?? (() => {});
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; the returned function removes it. */
  subscribe(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#pending.clear();
        this.#batchedTs.clear();
      }
    };
  }

  /** Committed fixes, in commit order. Kept as the newest per vehicle until takeFixes. */
  publishFixes(fixes: readonly Fix[]): void {
    if (this.#listeners.size === 0) return;
    let coalesced = 0;
    for (const fix of fixes) {
      const pending = this.#pending.get(fix.vehicle_id);
      const newest = pending?.ts ?? this.#batchedTs.get(fix.vehicle_id);
      if (newest !== undefined && fix.ts < newest) {
        coalesced++;
        continue;
      }
      if (pending !== undefined) coalesced++;
      this.#pending.set(fix.vehicle_id, fix);
    }
    if (coalesced > 0) this.#onCoalesced(coalesced);
  }

  /** The fixes published since the previous call, newest per vehicle; null when there are none. */
  takeFixes(): FixBatch | null {
    if (this.#pending.size === 0) return null;
    const fixes = this.#pending;
    this.#pending = new Map();
    for (const [id, fix] of fixes) this.#batchedTs.set(id, fix.ts);
    return new FixBatch(fixes);
  }

  /** Events as committed, in outbox order. */
  publishEvents(events: readonly GeofenceEvent[]): void {
    if (this.#listeners.size === 0) return;
    for (const event of events) this.#publish({ type: "event", event: toWireEvent(event) });
  }

  /** A geofence created or replaced, as the Feature GET /api/v1/geofences/{id} answers. */
  publishGeofence(feature: object): void {
    this.#publish({ type: "geofence", op: "upsert", geofence: feature });
  }

  publishGeofenceDeleted(id: string): void {
    this.#publish({ type: "geofence", op: "delete", id });
  }

  publishStatus(vehicleId: string, status: "online" | "offline"): void {
    this.#publish({ type: "status", vehicle_id: vehicleId, status });
  }

  #publish(message: object): void {
    if (this.#listeners.size === 0) return;
    const shared: LiveMessage = { data: encode(message) };
    for (const listener of this.#listeners) listener.message(shared);
  }
}

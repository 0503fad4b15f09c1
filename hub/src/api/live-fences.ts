// The FenceRegistry the API is given when the hub streams: the geofence engine's, whose changes
// also go to the live stream's clients, once the engine has them.

import type { LiveFeed } from "../live/feed.ts";
import type { GeofenceRecord } from "../store/store.ts";
import type { FenceRegistry } from "./deps.ts";
import { toFeature } from "./geofence-feature.ts";

export function liveFences(fences: FenceRegistry, feed: LiveFeed): FenceRegistry {
  return {
    async upsert(record: GeofenceRecord) {
      await fences.upsert(record);
      if (feed.listeners > 0) feed.publishGeofence(toFeature(record));
    },
    async remove(id: string) {
      await fences.remove(id);
      feed.publishGeofenceDeleted(id);
    },
    has: (id) => fences.has(id),
    vehiclesInside: (id) => fences.vehiclesInside(id),
  };
}

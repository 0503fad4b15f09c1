// The live stream's first message: every vehicle as GET /api/v1/vehicles lists it and every
// geofence as GET /api/v1/geofences/{id} answers it, with the client's role and the staleness
// threshold the map shows vehicles by.

import type { TokenRole } from "../identity/principal.ts";
import type { ApiDeps } from "./deps.ts";
import { toFeature } from "./geofence-feature.ts";
import { toVehicle } from "./vehicles.ts";

/** A vehicle whose newest fix is older than this is shown as stale (not offline). */
export const STALE_AFTER_S = 300;

/** Vehicles read from the store at once while the snapshot is built. */
const PAGE = 1000;

/** The `{"type":"snapshot",…}` message for a client of this role. */
export async function readSnapshot(
  deps: Pick<ApiDeps, "store" | "fences">,
  role: TokenRole,
): Promise<Buffer> {
  const vehicles = [];
  for (let after: string | undefined; ; ) {
    const page = await deps.store.listVehicles({ limit: PAGE, ...(after ? { after } : {}) });
    for (const record of page) vehicles.push(toVehicle(record, deps.fences));
    if (page.length < PAGE) break;
    after = page[page.length - 1]?.id;
  }
  const geofences = (await deps.store.allGeofences()).map(toFeature);
  const snapshot = {
    type: "snapshot",
    role,
    vehicles,
    geofences: { type: "FeatureCollection", features: geofences },
    stale_after_s: STALE_AFTER_S,
  };
  return Buffer.from(JSON.stringify(snapshot), "utf8");
}

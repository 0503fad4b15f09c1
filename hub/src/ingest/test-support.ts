// One group commit the way the pipeline makes it (deduplicate, decide, commit, wait until
// durable), for tests of the stores and of what reads them, without the pipeline's queueing.

import type { Fix } from "@locus/protocol";
import type { Decision } from "../geofence/engine.ts";
import type { OutboxEvent, Store } from "../store/store.ts";
import { Deduplicator } from "./dedup.ts";

export type Decide = (fresh: readonly Fix[]) => Decision;

export const decideNothing: Decide = () => ({ vehicles: [], events: [] });

export interface IngestResult {
  stored: number;
  duplicates: number;
  events: OutboxEvent[];
}

export async function ingest(
  store: Store,
  fixes: readonly Fix[],
  decide: Decide = decideNothing,
): Promise<IngestResult> {
  const fresh = await new Deduplicator(store).fresh(fixes);
  const committed = await store.commit({ fixes: fresh, ...decide(fresh) });
  await committed.durable;
  return {
    stored: fresh.length,
    duplicates: fixes.length - fresh.length,
    events: committed.events,
  };
}

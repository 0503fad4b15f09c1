// The retention part of the Store contract (deleteOlderThan), run inside storeContract against
// every implementation: old fixes and delivered events go in bounded steps, nothing else does.

import { buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import type { Store } from "./store.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const DAY = 86_400_000;

function fixOn(vehicleId: string, day: number, seq: number): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34.05,
    longitude: -118.24,
    ts: T0 + day * DAY + seq,
    ts_given: true,
    seq,
  };
}

function enter(fix: Fix): GeofenceEvent {
  return buildEvent({ type: "enter", geofence_id: "fence-a" }, fix, "fence a", fix.ts + 4);
}

/** Calls deleteOlderThan until it reports nothing left; returns what each call deleted. */
async function deleteAll(store: Store, before: number, limit: number): Promise<number[]> {
  const steps: number[] = [];
  for (let n = await store.deleteOlderThan(before, limit); n > 0; ) {
    steps.push(n);
    n = await store.deleteOlderThan(before, limit);
  }
  return steps;
}

/** Registers the retention tests; `current` gives the store under test. */
export function retentionContract(current: () => Store): void {
  describe("retention", () => {
    it("deletes fixes older than the cut-off, in steps of at most `limit`, across vehicles", async () => {
      const store = current();
      // Five vehicles, each with fixes on days 0 to 3, in two commits so some may have moved.
      const vehicles = ["a", "b", "c", "d", "e"];
      await ingest(
        store,
        vehicles.flatMap((v) => [0, 1].flatMap((d) => [1, 2, 3].map((s) => fixOn(v, d, s)))),
      );
      await ingest(
        store,
        vehicles.flatMap((v) => [2, 3].flatMap((d) => [1, 2, 3].map((s) => fixOn(v, d, s)))),
      );
      const cutOff = T0 + 2 * DAY;
      const steps = await deleteAll(store, cutOff, 4);
      expect(steps.every((n) => n <= 4)).toBe(true);
      expect(steps.reduce((a, b) => a + b, 0)).toBe(vehicles.length * 6);
      for (const v of vehicles) {
        const left = await store.locations(v, { limit: 100 });
        expect(left.map((f) => f.ts)).toEqual(
          [2, 3].flatMap((d) => [1, 2, 3].map((s) => T0 + d * DAY + s)),
        );
      }
      // A fix sent again after its original was deleted is stored again; a kept one is not.
      const again = await ingest(store, [fixOn("a", 0, 1), fixOn("a", 3, 1)]);
      expect(again).toMatchObject({ stored: 1, duplicates: 1 });
    });

    it("deletes old delivered events and never undelivered ones", async () => {
      const store = current();
      const old = [1, 2, 3].map((s) => fixOn("v", 0, s));
      const recent = fixOn("v", 5, 1);
      const { events } = await ingest(store, [...old, recent], () => ({
        vehicles: [],
        events: [...old, recent].map(enter),
      }));
      // The first two old events and the recent one went out; the third old one did not.
      await store.markDelivered([events[0], events[1], events[3]].map((e) => e?.seqno as number));
      const cutOff = T0 + DAY;
      const steps = await deleteAll(store, cutOff, 1);
      // Three old fixes and two old delivered events, one per call.
      expect(steps).toEqual([1, 1, 1, 1, 1]);
      expect((await store.events({ limit: 10 })).map((e) => e.id)).toEqual([
        enter(old[2] as Fix).id,
        enter(recent).id,
      ]);
      expect(await store.undelivered(0, 10)).toEqual([events[2]]);
      expect((await store.locations("v", { limit: 10 })).map((f) => f.ts)).toEqual([recent.ts]);
    });

    it("deletes nothing when nothing is older", async () => {
      const store = current();
      await ingest(store, [fixOn("v", 1, 1)]);
      expect(await store.deleteOlderThan(T0, 100)).toBe(0);
      expect(await store.locations("v", { limit: 10 })).toHaveLength(1);
    });
  });
}

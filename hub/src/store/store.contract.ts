// The behaviour every Store must show, as one vitest suite that each implementation's test file
// runs against its own backend. It works only through the Store interface.

import { buildCrossingEvent, buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Decision } from "../geofence/engine.ts";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import type { Membership, VehicleState } from "../geofence/membership.ts";
import { type Decide, ingest } from "../ingest/test-support.ts";
import { retentionContract } from "./retention.contract.ts";
import type { GeofenceInput, OutboxEvent, Store } from "./store.ts";
import { accountsContract } from "./store-accounts.contract.ts";
import { webhooksContract } from "./store-webhooks.contract.ts";

/** A store under test, opened empty. */
export interface StoreHarness {
  store: Store;
  /** Closes the store and opens the same database again; absent when the backend cannot. */
  reopen?: () => Promise<Store>;
  /** Closes whichever store is open last and removes the database. */
  cleanup: () => Promise<void>;
}

const T0 = Date.parse("2026-11-24T20:00:00.000Z");
const SQUARE: MultiPolygonCoords = [
  [
    [
      [-118.25, 34.04],
      [-118.23, 34.04],
      [-118.23, 34.06],
      [-118.25, 34.06],
      [-118.25, 34.04],
    ],
  ],
];
const TWO_SQUARES_ONE_WITH_HOLE: MultiPolygonCoords = [
  [
    [
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 10],
      [0, 0],
    ],
    [
      [2, 2],
      [2, 4],
      [4, 4],
      [4, 2],
      [2, 2],
    ],
  ],
  [
    [
      [20, 20],
      [21, 20],
      [21, 21],
      [20, 21],
      [20, 20],
    ],
  ],
];

function fenceInput(name: string, extra: Partial<GeofenceInput> = {}): GeofenceInput {
  return {
    name,
    geometry_type: "Polygon",
    polygons: SQUARE,
    properties: { name },
    hysteresis_m: null,
    max_accuracy_m: null,
    dwell_s: null,
    detect_crossing: false,
    ...extra,
  };
}

/** A fix `s` seconds after T0, with ts given and no optional fields. */
function fixAt(vehicleId: string, s: number, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34.05,
    longitude: -118.24,
    ts: T0 + s * 1000,
    ts_given: true,
    ...extra,
  };
}

function eventFor(fix: Fix, type: "enter" | "exit", fenceId = "fence-a"): GeofenceEvent {
  return buildEvent({ type, geofence_id: fenceId }, fix, `name of ${fenceId}`, fix.ts + 4);
}

const emitting =
  (events: GeofenceEvent[]): Decide =>
  () => ({ vehicles: [], events });

function stateInside(lastTs: number, inside: Record<string, Membership>): VehicleState {
  return { last_ts: lastTs, inside: new Map(Object.entries(inside)) };
}

/** Registers the Store contract suite for one implementation; `open` gives a fresh, empty store. */
export function storeContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    /** Reopens the database, or skips the test when the backend cannot. */
    async function reopen(skip: (note?: string) => never): Promise<void> {
      if (harness.reopen === undefined) skip("this backend cannot reopen its database");
      store = await harness.reopen();
    }

    retentionContract(() => store);
    webhooksContract(
      () => store,
      async () => {
        if (harness.reopen === undefined) return store;
        store = await harness.reopen();
        return store;
      },
    );

    it("names its kind and answers ping", async () => {
      expect(store.kind).toMatch(/^[a-z]+$/);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe("geofences", () => {
      it("creates one and gets it back exactly", async () => {
        const input = fenceInput("multi", {
          geometry_type: "MultiPolygon",
          polygons: TWO_SQUARES_ONE_WITH_HOLE,
          properties: { name: "multi", colour: "red", tags: ["a", 1, null], nested: { x: 1.5 } },
          hysteresis_m: 25,
          max_accuracy_m: 50.5,
          dwell_s: 60,
          detect_crossing: true,
        });
        const created = await store.createGeofence(input, T0);
        // A store that versions geofences (to announce changes to other hubs) starts at 1.
        const version = created.version === undefined ? {} : { version: 1 };
        expect(created).toEqual({
          ...input,
          id: created.id,
          created_at: T0,
          updated_at: T0,
          ...version,
        });
        expect(created.id).toEqual(expect.any(String));
        expect(await store.getGeofence(created.id)).toEqual(created);
      });

      it("stores circles and corridors as sent, and changes a geofence's kind on replace", async () => {
        const circle = fenceInput("circle", {
          geometry_type: "Point",
          polygons: [],
          circle: { center: [-118.2437, 34.0522], radius_m: 250.5 },
          properties: { name: "circle", radius_m: 250.5 },
          hysteresis_m: 5,
        });
        const created = await store.createGeofence(circle, T0);
        expect(await store.getGeofence(created.id)).toEqual(created);
        expect(created.circle).toEqual(circle.circle);

        const corridor = fenceInput("route", {
          geometry_type: "LineString",
          polygons: [],
          corridor: {
            line: [
              [-118.25, 34.05],
              [-118.2, 34.0500001],
              [0.1 + 0.2, -1e-9],
            ],
            width_m: 40,
          },
          properties: { name: "route", width_m: 40 },
        });
        const replaced = await store.replaceGeofence(created.id, corridor, T0 + 1);
        // A store that versions geofences counts the replacement.
        const version = created.version === undefined ? {} : { version: created.version + 1 };
        expect(replaced).toEqual({
          ...corridor,
          id: created.id,
          created_at: T0,
          updated_at: T0 + 1,
          ...version,
        });
        expect(await store.getGeofence(created.id)).toEqual(replaced);

        const back = await store.replaceGeofence(created.id, fenceInput("square"), T0 + 2);
        expect(await store.allGeofences()).toEqual([back]);
        expect(back?.circle).toBeUndefined();
        expect(back?.corridor).toBeUndefined();
      });

      it("answers null for an unknown id", async () => {
        await store.createGeofence(fenceInput("a"), T0);
        expect(await store.getGeofence("01900000-0000-7000-8000-000000000000")).toBeNull();
      });

      it("replaces one, keeping created_at and bumping updated_at", async () => {
        const old = fenceInput("old", { hysteresis_m: 10, detect_crossing: true });
        const created = await store.createGeofence(old, T0);
        const input = fenceInput("new", {
          geometry_type: "MultiPolygon",
          polygons: TWO_SQUARES_ONE_WITH_HOLE,
          properties: { name: "new", speed_limit: 30 },
          dwell_s: 120,
        });
        const replaced = await store.replaceGeofence(created.id, input, T0 + 5000);
        const version = created.version === undefined ? {} : { version: created.version + 1 };
        const expected = {
          ...input,
          id: created.id,
          created_at: T0,
          updated_at: T0 + 5000,
          ...version,
        };
        expect(replaced).toEqual(expected);
        expect(await store.getGeofence(created.id)).toEqual(expected);
        expect(await store.allGeofences()).toHaveLength(1);
      });

      it("does not replace an unknown id, nor create it", async () => {
        const replaced = await store.replaceGeofence(
          "01900000-0000-7000-8000-000000000000",
          fenceInput("ghost"),
          T0,
        );
        expect(replaced).toBeNull();
        expect(await store.allGeofences()).toEqual([]);
      });

      it("deletes one: true once, then false", async () => {
        const a = await store.createGeofence(fenceInput("a"), T0);
        const b = await store.createGeofence(fenceInput("b"), T0);
        expect(await store.deleteGeofence(a.id)).toBe(true);
        expect(await store.deleteGeofence(a.id)).toBe(false);
        expect(await store.getGeofence(a.id)).toBeNull();
        expect(await store.getGeofence(b.id)).toEqual(b);
        expect(await store.allGeofences()).toEqual([b]);
      });

      it("lists pages in creation order, also for ids made within one millisecond", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          // Five in the same millisecond, then two later ones.
          const now = i < 5 ? T0 : T0 + i;
          ids.push((await store.createGeofence(fenceInput(`f${i}`), now)).id);
        }
        expect(new Set(ids).size).toBe(7);
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listGeofences(
            after === undefined ? { limit: 3 } : { limit: 3, after },
          );
          seen.push(...page.map((g) => g.id));
          if (page.length < 3) break;
          after = page[page.length - 1]?.id;
        }
        expect(seen).toEqual(ids);
        expect([...ids].sort()).toEqual(ids);
        expect(await store.listGeofences({ limit: 100, after: ids[6] })).toEqual([]);
        const names = (await store.listGeofences({ limit: 2, after: ids[1] })).map((g) => g.name);
        expect(names).toEqual(["f2", "f3"]);
      });

      it("gives every geofence to allGeofences", async () => {
        expect(await store.allGeofences()).toEqual([]);
        const made = [];
        for (let i = 0; i < 4; i++) made.push(await store.createGeofence(fenceInput(`f${i}`), T0));
        await store.deleteGeofence(made[1]?.id as string);
        const all = await store.allGeofences();
        const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
        expect([...all].sort(byId)).toEqual([made[0], made[2], made[3]]);
      });
    });

    describe("ingest and locations", () => {
      it("stores fixes and reads them back in ts order, per vehicle", async () => {
        const fixes = [fixAt("v1", 3), fixAt("v1", 1), fixAt("v2", 2), fixAt("v1", 2)];
        const result = await ingest(store, fixes);
        expect(result).toEqual({ stored: 4, duplicates: 0, events: [] });
        expect(await store.locations("v1", { limit: 100 })).toEqual([
          fixAt("v1", 1),
          fixAt("v1", 2),
          fixAt("v1", 3),
        ]);
        expect(await store.locations("v2", { limit: 100 })).toEqual([fixAt("v2", 2)]);
        expect(await store.locations("nobody", { limit: 100 })).toEqual([]);
      });

      it("reads within [from, to], oldest first up to limit", async () => {
        await ingest(
          store,
          [1, 2, 3, 4, 5, 6].map((s) => fixAt("v1", s)),
        );
        const range = { from: T0 + 2000, to: T0 + 5000 };
        const ts = async (r: { from?: number; to?: number; limit: number }) =>
          (await store.locations("v1", r)).map((f) => (f.ts - T0) / 1000);
        expect(await ts({ ...range, limit: 100 })).toEqual([2, 3, 4, 5]);
        expect(await ts({ ...range, limit: 2 })).toEqual([2, 3]);
        expect(await ts({ from: T0 + 5000, limit: 100 })).toEqual([5, 6]);
        expect(await ts({ to: T0 + 1000, limit: 100 })).toEqual([1]);
        expect(await ts({ from: T0 + 7000, limit: 100 })).toEqual([]);
      });

      it("round-trips optional fields exactly: present ones kept, absent ones absent", async () => {
        const full = fixAt("v1", 1, {
          seq: 0,
          speed: 0,
          heading: 360,
          accuracy: 0,
          altitude: -12.5,
        });
        // The decoder's shape: every optional key present, undefined when absent.
        const bare: Fix = {
          ...fixAt("v1", 2),
          seq: undefined,
          speed: undefined,
          heading: undefined,
          accuracy: undefined,
          altitude: undefined,
        };
        const untimed = fixAt("v1", 3, { ts_given: false, seq: 7, speed: 13.25 });
        await ingest(store, [full, bare, untimed]);
        const [a, b, c] = await store.locations("v1", { limit: 10 });
        expect(a).toStrictEqual(full);
        expect(b).toStrictEqual(fixAt("v1", 2));
        expect(c).toStrictEqual(untimed);
      });

      it("skips duplicates by (vehicle_id, ts, seq) within one call, keeping the first", async () => {
        const first = fixAt("v1", 1, { seq: 4 });
        const again = fixAt("v1", 1, { seq: 4, latitude: 1 });
        const result = await ingest(store, [first, fixAt("v1", 2, { seq: 5 }), again]);
        expect(result).toMatchObject({ stored: 2, duplicates: 1 });
        expect(await store.locations("v1", { limit: 10 })).toEqual([
          first,
          fixAt("v1", 2, { seq: 5 }),
        ]);
      });

      it("skips duplicates across calls, with and without seq", async () => {
        await ingest(store, [fixAt("v1", 1, { seq: 4 }), fixAt("v1", 2)]);
        const result = await ingest(store, [
          fixAt("v1", 1, { seq: 4, speed: 9 }),
          fixAt("v1", 2),
          fixAt("v1", 3),
        ]);
        expect(result).toMatchObject({ stored: 1, duplicates: 2 });
        expect(await store.locations("v1", { limit: 10 })).toEqual([
          fixAt("v1", 1, { seq: 4 }),
          fixAt("v1", 2),
          fixAt("v1", 3),
        ]);
      });

      it("keeps fixes that differ in ts, in seq, in whether seq is given, or in vehicle", async () => {
        await ingest(store, [fixAt("v1", 1, { seq: 4 })]);
        const others = [
          fixAt("v1", 2, { seq: 4 }), // a wiped device reusing its seq
          fixAt("v1", 1, { seq: 5 }),
          fixAt("v1", 1),
          fixAt("v2", 1, { seq: 4 }),
        ];
        expect(await ingest(store, others)).toMatchObject({ stored: 4, duplicates: 0 });
        expect(await store.locations("v1", { limit: 10 })).toHaveLength(4);
      });

      it("never takes a fix without a given ts for a duplicate", async () => {
        const timed = fixAt("v1", 1, { seq: 4 });
        const untimed = fixAt("v1", 1, { seq: 4, ts_given: false });
        await ingest(store, [timed]);
        const result = await ingest(store, [untimed, untimed, fixAt("v1", 2, { ts_given: false })]);
        expect(result).toMatchObject({ stored: 3, duplicates: 0 });
        // Nor is a stored untimed fix the original of a later timed one.
        await ingest(store, [fixAt("v1", 5, { ts_given: false })]);
        expect(await ingest(store, [fixAt("v1", 5)])).toMatchObject({ stored: 1 });
        expect(await store.locations("v1", { limit: 10 })).toHaveLength(6);
      });

      it("hands decide only the fresh fixes, in arrival order", async () => {
        await ingest(store, [fixAt("v1", 1, { seq: 1 })]);
        const seen: Fix[][] = [];
        const later = fixAt("v1", 9, { seq: 9 });
        const earlier = fixAt("v2", 3);
        await ingest(store, [later, fixAt("v1", 1, { seq: 1 }), earlier, later], (fresh) => {
          seen.push([...fresh]);
          return { vehicles: [], events: [] };
        });
        expect(seen.at(-1)).toEqual([later, earlier]);
      });

      it("tells each vehicle's newest stored ts, untimed fixes included", async () => {
        await ingest(store, [fixAt("v1", 3), fixAt("v1", 1), fixAt("v2", 2, { ts_given: false })]);
        const newest = await store.newestFixTs(["v1", "v2", "nobody"]);
        expect(newest).toEqual(
          new Map([
            ["v1", T0 + 3000],
            ["v2", T0 + 2000],
          ]),
        );
        expect(await store.newestFixTs([])).toEqual(new Map());
      });

      it("tells which fix identities are stored, only for fixes with their own ts", async () => {
        await ingest(store, [
          fixAt("v1", 1, { seq: 4 }),
          fixAt("v1", 2),
          fixAt("v1", 3, { ts_given: false }),
        ]);
        const stored = await store.storedFixes([
          { vehicle_id: "v1", ts: T0 + 1000, seq: 4 },
          { vehicle_id: "v1", ts: T0 + 1000, seq: null },
          { vehicle_id: "v1", ts: T0 + 2000, seq: null },
          { vehicle_id: "v1", ts: T0 + 2000, seq: 0 },
          { vehicle_id: "v1", ts: T0 + 3000, seq: null },
          { vehicle_id: "v2", ts: T0 + 1000, seq: 4 },
        ]);
        expect(stored).toEqual([true, false, true, false, false, false]);
        expect(await store.storedFixes([])).toEqual([]);
      });
    });

    describe("vehicles", () => {
      const state: VehicleState = {
        ...stateInside(T0 + 2000, {
          "fence-a": { entered_at: T0 + 1000, dwell_emitted: false },
          "fence-b": { entered_at: T0, dwell_emitted: true },
        }),
        last_position: { longitude: -118.24, latitude: 34.05, accuracy: 7.5 },
      };

      it("persists the vehicle updates decide returns", async () => {
        const fix = fixAt("v1", 2, { seq: 3, speed: 4 });
        const decision: Decision = {
          vehicles: [{ vehicle_id: "v1", state, last_fix: fix }],
          events: [],
        };
        await ingest(store, [fixAt("v1", 1), fix], () => decision);
        const expected = { id: "v1", last_fix: fix, state, status: "unknown" };
        expect(await store.getVehicle("v1")).toEqual(expected);
        expect(await store.listVehicles({ limit: 10 })).toEqual([expected]);
        expect(await store.vehicleStates()).toEqual(new Map([["v1", state]]));
        expect(await store.getVehicle("v2")).toBeNull();
      });

      it("overwrites a vehicle's state and last fix with the next update", async () => {
        const first = fixAt("v1", 1);
        await ingest(store, [first], () => ({
          vehicles: [{ vehicle_id: "v1", state, last_fix: first }],
          events: [],
        }));
        const second = fixAt("v1", 5);
        const outside = stateInside(second.ts, {});
        await ingest(store, [second], () => ({
          vehicles: [{ vehicle_id: "v1", state: outside, last_fix: second }],
          events: [],
        }));
        expect(await store.getVehicle("v1")).toMatchObject({ last_fix: second, state: outside });
        expect((await store.vehicleStates()).get("v1")).toEqual(outside);
      });

      it("lists vehicles in id order, a page at a time", async () => {
        const fixes = ["c", "a", "b"].map((id) => fixAt(id, 1));
        await ingest(store, fixes, (fresh) => ({
          vehicles: fresh.map((f) => ({
            vehicle_id: f.vehicle_id,
            state: stateInside(f.ts, {}),
            last_fix: f,
          })),
          events: [],
        }));
        const ids = async (page: { limit: number; after?: string }) =>
          (await store.listVehicles(page)).map((v) => v.id);
        expect(await ids({ limit: 2 })).toEqual(["a", "b"]);
        expect(await ids({ limit: 2, after: "b" })).toEqual(["c"]);
        expect(await ids({ limit: 2, after: "c" })).toEqual([]);
      });

      it("sets the status of an unknown vehicle, creating it with no fix and no state", async () => {
        await store.setVehicleStatus("v9", "online", T0);
        const vehicle = await store.getVehicle("v9");
        expect(vehicle).toMatchObject({ id: "v9", last_fix: null, status: "online" });
        expect(vehicle?.state.last_ts).toBeNull();
        expect(vehicle?.state.inside.size).toBe(0);
      });

      it("sets the status of a known vehicle, keeping its state and last fix, and vice versa", async () => {
        const fix = fixAt("v1", 1);
        const update = () => ({
          vehicles: [{ vehicle_id: "v1", state, last_fix: fix }],
          events: [],
        });
        await ingest(store, [fix], update);
        await store.setVehicleStatus("v1", "offline", T0 + 1);
        expect(await store.getVehicle("v1")).toEqual({
          id: "v1",
          last_fix: fix,
          state,
          status: "offline",
        });
        await store.setVehicleStatus("v1", "online", T0 + 2);
        const next = fixAt("v1", 2);
        await ingest(store, [next], () => ({
          vehicles: [{ vehicle_id: "v1", state, last_fix: next }],
          events: [],
        }));
        expect(await store.getVehicle("v1")).toEqual({
          id: "v1",
          last_fix: next,
          state,
          status: "online",
        });
        expect((await store.vehicleStates()).get("v1")).toEqual(state);
      });

      it("keeps vehicles across a reopen", async ({ skip }) => {
        const fix = fixAt("v1", 2);
        await ingest(store, [fix], () => ({
          vehicles: [{ vehicle_id: "v1", state, last_fix: fix }],
          events: [],
        }));
        await store.setVehicleStatus("v1", "online", T0);
        await reopen(skip);
        expect(await store.getVehicle("v1")).toEqual({
          id: "v1",
          last_fix: fix,
          state,
          status: "online",
        });
        expect(await store.vehicleStates()).toEqual(new Map([["v1", state]]));
      });
    });

    describe("outbox", () => {
      it("writes decided events with rising seqnos and returns them", async () => {
        const a = fixAt("v1", 1);
        const b = fixAt("v1", 2);
        const first = await ingest(
          store,
          [a, b],
          emitting([eventFor(a, "enter"), eventFor(b, "exit")]),
        );
        expect(first.events.map((e) => e.event)).toEqual([
          eventFor(a, "enter"),
          eventFor(b, "exit"),
        ]);
        const c = fixAt("v1", 3);
        const second = await ingest(store, [c], emitting([eventFor(c, "enter")]));
        const seqnos = [...first.events, ...second.events].map((e) => e.seqno);
        expect(seqnos).toHaveLength(3);
        expect([...seqnos].sort((x, y) => x - y)).toEqual(seqnos);
        expect(new Set(seqnos).size).toBe(3);
        expect(await store.undelivered(0, 100)).toEqual([...first.events, ...second.events]);
        expect(await store.outboxDepth()).toBe(3);
      });

      it("keeps whether an event was interpolated, in the outbox and in the history", async () => {
        const a = fixAt("v1", 10);
        const crossing = buildCrossingEvent(
          { type: "enter", geofence_id: "fence-a" },
          a,
          { ts: T0 + 4000, latitude: 34.051, longitude: -118.241, ordinal: 0 },
          "fence-a",
          T0 + 10_005,
        );
        const own = eventFor(a, "exit");
        const { events } = await ingest(store, [a], emitting([crossing, own]));
        expect(events.map((e) => e.event)).toEqual([crossing, own]);
        expect((await store.undelivered(0, 10)).map((e) => e.event)).toEqual([crossing, own]);
        const stored = await store.events({ limit: 10 });
        expect(stored).toEqual([crossing, own]);
        expect(stored[0]?.interpolated).toBe(true);
        expect(stored[1]).not.toHaveProperty("interpolated");
      });

      it("stores an event id once, within one call and across calls", async () => {
        const a = fixAt("v1", 1);
        const enter = eventFor(a, "enter");
        const first = await ingest(store, [a], emitting([enter, enter]));
        expect(first.events.map((e) => e.event)).toEqual([enter]);
        const second = await ingest(store, [fixAt("v1", 2)], emitting([enter]));
        expect(second.events).toEqual([]);
        expect(await store.events({ limit: 100 })).toEqual([enter]);
        expect(await store.outboxDepth()).toBe(1);
      });

      it("stores nothing of a commit that fails midway, and stays usable", async () => {
        const fixes = [fixAt("v1", 1, { seq: 1 }), fixAt("v1", 2, { seq: 2 })];
        const broken = { ...eventFor(fixes[1] as Fix, "enter"), type: null as never };
        const vehicle = {
          vehicle_id: "v1",
          state: stateInside(T0 + 2000, {}),
          last_fix: fixes[1] as Fix,
        };
        await expect(
          store.commit({ fixes, vehicles: [vehicle], events: [broken] }),
        ).rejects.toThrow();
        expect(await store.locations("v1", { limit: 10 })).toEqual([]);
        expect(await store.getVehicle("v1")).toBeNull();
        expect(await store.events({ limit: 10 })).toEqual([]);
        expect(await store.outboxDepth()).toBe(0);

        const event = eventFor(fixes[1] as Fix, "enter");
        const update = {
          vehicle_id: "v1",
          state: stateInside(T0 + 2000, {}),
          last_fix: fixes[1] as Fix,
        };
        const result = await ingest(store, fixes, () => ({ vehicles: [update], events: [event] }));
        expect(result).toMatchObject({ stored: 2, duplicates: 0 });
        expect(result.events.map((e) => e.event)).toEqual([event]);
        expect(await store.getVehicle("v1")).toMatchObject({ last_fix: fixes[1] });
      });

      it("reads undelivered events after a seqno, in outbox order, and marks them delivered", async () => {
        const fixes = [1, 2, 3, 4, 5].map((s) => fixAt("v1", s));
        const { events } = await ingest(
          store,
          fixes,
          emitting(fixes.map((f, i) => eventFor(f, i % 2 === 0 ? "enter" : "exit"))),
        );
        expect(events).toHaveLength(5);
        const e = (n: number) => events[n - 1] as OutboxEvent;
        expect(await store.undelivered(0, 2)).toEqual([e(1), e(2)]);
        expect(await store.undelivered(e(2).seqno, 10)).toEqual([e(3), e(4), e(5)]);
        await store.markDelivered([e(1).seqno, e(3).seqno]);
        await store.markDelivered([]);
        expect(await store.undelivered(0, 10)).toEqual([e(2), e(4), e(5)]);
        expect(await store.outboxDepth()).toBe(3);
        await store.markDelivered([e(1).seqno, e(2).seqno, e(4).seqno, e(5).seqno]);
        expect(await store.undelivered(0, 10)).toEqual([]);
        expect(await store.outboxDepth()).toBe(0);
        // Delivered events stay readable as history.
        expect(await store.events({ limit: 10 })).toHaveLength(5);
      });

      it("keeps undelivered events and seqno order across a reopen", async ({ skip }) => {
        const fixes = [1, 2, 3].map((s) => fixAt("v1", s));
        const { events } = await ingest(
          store,
          fixes,
          emitting(fixes.map((f) => eventFor(f, "enter", `f${f.ts}`))),
        );
        await store.markDelivered([events[0]?.seqno as number]);
        await reopen(skip);
        expect(await store.undelivered(0, 10)).toEqual(events.slice(1));
        expect(await store.outboxDepth()).toBe(2);
        const later = fixAt("v1", 4);
        const next = await ingest(store, [later], emitting([eventFor(later, "exit")]));
        expect(next.events[0]?.seqno).toBeGreaterThan(events[2]?.seqno as number);
      });
    });

    describe("events", () => {
      // Written out of ts order, in two calls, so the store must sort.
      const at = (v: string, s: number) => fixAt(v, s);
      const all = {
        v1EnterA: eventFor(at("v1", 10), "enter", "fence-a"),
        v1ExitA: eventFor(at("v1", 30), "exit", "fence-a"),
        v2EnterB: eventFor(at("v2", 20), "enter", "fence-b"),
        v2EnterA: eventFor(at("v2", 20), "enter", "fence-a"),
        v1EnterB: eventFor(at("v1", 40), "enter", "fence-b"),
      };

      beforeEach(async () => {
        await ingest(store, [at("v1", 40)], emitting([all.v1EnterB, all.v2EnterB]));
        await ingest(store, [at("v1", 10)], emitting([all.v1ExitA, all.v2EnterA, all.v1EnterA]));
      });

      it("lists every event in ts order, then outbox order", async () => {
        expect(await store.events({ limit: 100 })).toEqual([
          all.v1EnterA,
          all.v2EnterB,
          all.v2EnterA,
          all.v1ExitA,
          all.v1EnterB,
        ]);
        expect(await store.events({ limit: 2 })).toEqual([all.v1EnterA, all.v2EnterB]);
      });

      it("filters by vehicle, geofence, type and time, combined", async () => {
        expect(await store.events({ vehicle_id: "v1", limit: 100 })).toEqual([
          all.v1EnterA,
          all.v1ExitA,
          all.v1EnterB,
        ]);
        expect(await store.events({ geofence_id: "fence-b", limit: 100 })).toEqual([
          all.v2EnterB,
          all.v1EnterB,
        ]);
        expect(await store.events({ type: "exit", limit: 100 })).toEqual([all.v1ExitA]);
        expect(await store.events({ from: T0 + 20_000, to: T0 + 30_000, limit: 100 })).toEqual([
          all.v2EnterB,
          all.v2EnterA,
          all.v1ExitA,
        ]);
        expect(
          await store.events({
            vehicle_id: "v1",
            geofence_id: "fence-a",
            type: "enter",
            limit: 100,
          }),
        ).toEqual([all.v1EnterA]);
        expect(await store.events({ vehicle_id: "v1", from: T0 + 20_000, limit: 1 })).toEqual([
          all.v1ExitA,
        ]);
        expect(await store.events({ vehicle_id: "nobody", limit: 100 })).toEqual([]);
      });
    });

    accountsContract(() => store);

    it("keeps geofences and fixes across a reopen", async ({ skip }) => {
      const fence = await store.createGeofence(fenceInput("kept"), T0);
      const fix = fixAt("v1", 1, { seq: 2, accuracy: 3 });
      await ingest(store, [fix]);
      await reopen(skip);
      expect(await store.getGeofence(fence.id)).toEqual(fence);
      expect(await store.locations("v1", { limit: 10 })).toEqual([fix]);
      expect(await ingest(store, [fix])).toMatchObject({ stored: 0, duplicates: 1 });
      const next = await store.createGeofence(fenceInput("next"), T0 + 1);
      expect((await store.listGeofences({ limit: 10 })).map((g) => g.id)).toEqual([
        fence.id,
        next.id,
      ]);
    });
  });
}

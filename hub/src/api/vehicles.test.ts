// Vehicle, location and event reads over a real SQLite store, written as the pipeline writes a group commit.

import { buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Membership } from "../geofence/membership.ts";
import { ingest } from "../ingest/test-support.ts";
import type { VehicleUpdate } from "../store/store.ts";
import { call, errorMessage, polygonFeature, startApi, type TestApi } from "./test-support.ts";

const T0 = Date.UTC(2026, 10, 24, 20, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

let t: TestApi;
let fenceA: string;
let fenceB: string;
/** A geofence a vehicle is inside, deleted since: not shown. */
const GONE = "01900000-0000-7000-8000-00000000dead";

function fix(vehicle_id: string, i: number, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle_id,
    latitude: 34 + i / 1000,
    longitude: -118 - i / 1000,
    ts: T0 + i * 1000,
    ts_given: true,
    seq: i,
    ...extra,
  };
}

/** Stores fixes; the newest becomes the vehicle's last fix, inside the given fences. */
async function write(fixes: Fix[], inside: string[], events: GeofenceEvent[] = []) {
  await ingest(t.store, fixes, (fresh) => {
    const last = new Map<string, Fix>();
    for (const f of fresh) {
      const prev = last.get(f.vehicle_id);
      if (!prev || f.ts >= prev.ts) last.set(f.vehicle_id, f);
    }
    const vehicles: VehicleUpdate[] = [...last.values()].map((f) => ({
      vehicle_id: f.vehicle_id,
      last_fix: f,
      state: {
        last_ts: f.ts,
        inside: new Map<string, Membership>(
          inside.map((id) => [id, { entered_at: f.ts, dwell_emitted: false }]),
        ),
      },
    }));
    return { vehicles, events };
  });
}

beforeAll(async () => {
  t = await startApi();
  fenceA = (await call(t.app, "POST", "/api/v1/geofences", polygonFeature("a"))).json().id;
  fenceB = (await call(t.app, "POST", "/api/v1/geofences", polygonFeature("b"))).json().id;

  const truck = Array.from({ length: 10 }, (_, i) =>
    fix("truck-01", i, i === 9 ? { speed: 12.5, heading: 90, accuracy: 4, altitude: 80 } : {}),
  );
  const enterA = buildEvent({ type: "enter", geofence_id: fenceA }, truck[2] as Fix, "a", T0 + 5);
  const enterB = buildEvent({ type: "enter", geofence_id: fenceB }, truck[4] as Fix, "b", T0 + 6);
  const exitA = buildEvent({ type: "exit", geofence_id: fenceA }, truck[7] as Fix, "a", T0 + 7);
  // Events written out of ts order: answers must come back sorted by ts.
  await write(truck.slice(0, 5), [fenceB, GONE], [exitA]);
  await write(truck.slice(5), [fenceB, GONE], [enterB, enterA]);
  await write(
    [fix("van.2", 3)],
    [],
    [buildEvent({ type: "enter", geofence_id: fenceA }, fix("van.2", 3), "a", T0 + 8)],
  );
  await t.store.setVehicleStatus("truck-01", "online", T0);
  await t.store.setVehicleStatus("bike_3", "offline", T0);
});
afterAll(async () => {
  await t.close();
});

describe("vehicles", () => {
  it("lists vehicles by id with last fix, geofences still known, and status", async () => {
    const r = await call(t.app, "GET", "/api/v1/vehicles");
    expect(r.statusCode).toBe(200);
    const { vehicles, next_cursor } = r.json();
    expect(next_cursor).toBeUndefined();
    expect(vehicles.map((v: { id: string }) => v.id)).toEqual(["bike_3", "truck-01", "van.2"]);
    expect(vehicles[0]).toEqual({ id: "bike_3", last_fix: null, geofences: [], status: "offline" });
    expect(vehicles[1]).toEqual({
      id: "truck-01",
      last_fix: {
        vehicle_id: "truck-01",
        ts: iso(T0 + 9000),
        latitude: 34.009,
        longitude: -118.009,
        seq: 9,
        speed: 12.5,
        heading: 90,
        accuracy: 4,
        altitude: 80,
      },
      geofences: [fenceB],
      status: "online",
    });
    expect(vehicles[2]).toMatchObject({ id: "van.2", geofences: [], status: "unknown" });
  });

  it("pages vehicles with a cursor", async () => {
    const first = (await call(t.app, "GET", "/api/v1/vehicles?limit=2")).json();
    expect(first.vehicles.map((v: { id: string }) => v.id)).toEqual(["bike_3", "truck-01"]);
    const second = await call(t.app, "GET", `/api/v1/vehicles?limit=2&cursor=${first.next_cursor}`);
    expect(second.json()).toMatchObject({ vehicles: [{ id: "van.2" }] });
    expect(second.json().next_cursor).toBeUndefined();
    errorMessage(await call(t.app, "GET", "/api/v1/vehicles?limit=1001"), 400);
    errorMessage(await call(t.app, "GET", "/api/v1/vehicles?cursor=Pz8_"), 400);
  });

  it("shows sorted memberships, and drops a geofence once deleted", async () => {
    const c = (await call(t.app, "POST", "/api/v1/geofences", polygonFeature("c"))).json().id;
    const d = (await call(t.app, "POST", "/api/v1/geofences", polygonFeature("d"))).json().id;
    await write([fix("sorter", 1)], [d, c]);
    const before = (await call(t.app, "GET", "/api/v1/vehicles/sorter")).json();
    expect(before.geofences).toEqual([c, d].sort());
    expect((await call(t.app, "DELETE", `/api/v1/geofences/${c}`)).statusCode).toBe(204);
    const after = (await call(t.app, "GET", "/api/v1/vehicles/sorter")).json();
    expect(after.geofences).toEqual([d]);
  });

  it("gets one vehicle, 404 for an unknown one, 400 for an invalid id", async () => {
    const r = await call(t.app, "GET", "/api/v1/vehicles/truck-01");
    expect(r.statusCode).toBe(200);
    expect(r.json().last_fix.seq).toBe(9);
    expect(errorMessage(await call(t.app, "GET", "/api/v1/vehicles/ghost"), 404)).toContain(
      "ghost",
    );
    const bad = await call(t.app, "GET", `/api/v1/vehicles/${"x".repeat(65)}`);
    expect(errorMessage(bad, 400)).toMatch(/params\/id/);
    errorMessage(await call(t.app, "GET", "/api/v1/vehicles/a%20b/locations"), 400);
  });
});

describe("locations", () => {
  it("returns every fix in ts order in the §3 shape", async () => {
    const r = await call(t.app, "GET", "/api/v1/vehicles/truck-01/locations");
    expect(r.statusCode).toBe(200);
    const { locations } = r.json();
    expect(locations.map((f: { seq: number }) => f.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(locations[0]).toEqual({
      vehicle_id: "truck-01",
      ts: iso(T0),
      latitude: 34,
      longitude: -118,
      seq: 0,
    });
  });

  it("filters by from and to, inclusive, with any offset, and limits", async () => {
    const url = `/api/v1/vehicles/truck-01/locations?from=${iso(T0 + 2000)}&to=${encodeURIComponent("2026-11-24T21:00:05+01:00")}`;
    const r = await call(t.app, "GET", url);
    expect(r.json().locations.map((f: { seq: number }) => f.seq)).toEqual([2, 3, 4, 5]);
    const limited = await call(t.app, "GET", "/api/v1/vehicles/truck-01/locations?limit=3");
    expect(limited.json().locations.map((f: { seq: number }) => f.seq)).toEqual([0, 1, 2]);
  });

  it.each([
    ["from=yesterday", /from must be an RFC 3339/],
    ["to=2026-11-24", /to must be an RFC 3339/],
    ["from=1764014400000", /from must be an RFC 3339/],
    [`from=${iso(T0 + 5000)}&to=${iso(T0)}`, /from is after/],
    ["limit=10001", /limit must be <= 10000/],
    ["limit=0", /limit/],
  ])("refuses %s", async (query, pattern) => {
    const r = await call(t.app, "GET", `/api/v1/vehicles/truck-01/locations?${query}`);
    expect(errorMessage(r, 400)).toMatch(pattern);
  });

  it("is 404 for an unknown vehicle", async () => {
    errorMessage(await call(t.app, "GET", "/api/v1/vehicles/ghost/locations"), 404);
  });
});

describe("events", () => {
  const types = (r: { json(): { events: GeofenceEvent[] } }) =>
    r.json().events.map((e) => `${e.vehicle_id}:${e.type}:${e.geofence_name}`);

  it("returns every event in ts order in the §3 shape", async () => {
    const r = await call(t.app, "GET", "/api/v1/events");
    expect(r.statusCode).toBe(200);
    expect(types(r)).toEqual([
      "truck-01:enter:a",
      "van.2:enter:a",
      "truck-01:enter:b",
      "truck-01:exit:a",
    ]);
    const first = r.json().events[0];
    expect(Object.keys(first).sort()).toEqual(
      [
        "id",
        "type",
        "vehicle_id",
        "geofence_id",
        "geofence_name",
        "ts",
        "latitude",
        "longitude",
        "detected_at",
      ].sort(),
    );
    expect(first).toMatchObject({ ts: iso(T0 + 2000), detected_at: iso(T0 + 5) });
  });

  it.each([
    ["vehicle_id=truck-01", ["truck-01:enter:a", "truck-01:enter:b", "truck-01:exit:a"]],
    ["type=exit", ["truck-01:exit:a"]],
    ["vehicle_id=van.2&type=enter", ["van.2:enter:a"]],
    [`from=${iso(T0 + 3000)}`, ["van.2:enter:a", "truck-01:enter:b", "truck-01:exit:a"]],
    [`to=${iso(T0 + 3000)}`, ["truck-01:enter:a", "van.2:enter:a"]],
    ["limit=1", ["truck-01:enter:a"]],
    ["vehicle_id=nobody", []],
  ])("filters %s", async (query, expected) => {
    expect(types(await call(t.app, "GET", `/api/v1/events?${query}`))).toEqual(expected);
  });

  it("filters by geofence id", async () => {
    const r = await call(t.app, "GET", `/api/v1/events?geofence_id=${fenceB}`);
    expect(types(r)).toEqual(["truck-01:enter:b"]);
  });

  it.each([
    ["type=linger", /type must be one of "enter", "exit", "dwell"/],
    ["vehicle_id=a%20b", /vehicle_id/],
    ["from=now", /from must be an RFC 3339/],
    [`from=${iso(T0 + 1)}&to=${iso(T0)}`, /from is after/],
    ["limit=10001", /limit must be <= 10000/],
  ])("refuses %s", async (query, pattern) => {
    expect(errorMessage(await call(t.app, "GET", `/api/v1/events?${query}`), 400)).toMatch(pattern);
  });
});

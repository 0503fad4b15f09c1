import { describe, expect, it } from "vitest";
import { Fleet, shownStatus } from "./fleet.ts";
import type { GeofenceFeature, Vehicle } from "./types.ts";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const at = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000).toISOString();
const fix = (id: string, secondsAgo: number, lng = 10, lat = 50) => ({
  vehicle_id: id,
  latitude: lat,
  longitude: lng,
  ts: at(secondsAgo),
});
const vehicle = (over: Partial<Vehicle>): Vehicle => ({
  id: "v1",
  last_fix: fix("v1", 10),
  geofences: [],
  status: "online",
  ...over,
});
const square: GeofenceFeature = {
  type: "Feature",
  id: "g1",
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 0],
      ],
    ],
  },
  properties: { name: "depot" },
};

describe("shownStatus", () => {
  it.each([
    ["offline wins over a fresh fix", vehicle({ status: "offline" }), "offline"],
    ["a fresh fix is online", vehicle({}), "online"],
    ["unknown status with a fresh fix is online", vehicle({ status: "unknown" }), "online"],
    ["a fix older than the limit is stale", vehicle({ last_fix: fix("v1", 301) }), "stale"],
    ["a fix exactly at the limit is online", vehicle({ last_fix: fix("v1", 300) }), "online"],
    ["no fix is stale", vehicle({ last_fix: null }), "stale"],
  ] as const)("%s", (_name, v, expected) => {
    expect(shownStatus(v, NOW, 300)).toBe(expected);
  });
});

describe("Fleet", () => {
  it("replaces everything with a snapshot and takes its stale limit", () => {
    const fleet = new Fleet();
    fleet.apply({ type: "fixes", fixes: [fix("old", 1)] });
    const change = fleet.apply({
      type: "snapshot",
      role: "read",
      vehicles: [vehicle({ geofences: ["g1"] })],
      geofences: { type: "FeatureCollection", features: [square] },
      stale_after_s: 60,
    });
    expect(change.reset).toBe(true);
    expect([...fleet.vehicles.keys()]).toEqual(["v1"]);
    expect(fleet.staleAfterS).toBe(60);
    expect(fleet.inside("g1")).toEqual(["v1"]);
  });

  it("keeps the newest fix per vehicle and adds unknown vehicles", () => {
    const fleet = new Fleet();
    fleet.apply({
      type: "snapshot",
      vehicles: [vehicle({})],
      geofences: { type: "FeatureCollection", features: [] },
    });
    const change = fleet.apply({
      type: "fixes",
      fixes: [fix("v1", 5, 11), fix("v1", 20, 12), fix("v2", 1, 13)],
    });
    expect([...change.vehicles].sort()).toEqual(["v1", "v2"]);
    expect(fleet.vehicles.get("v1")?.last_fix?.longitude).toBe(11);
    expect(fleet.vehicles.get("v2")?.status).toBe("unknown");
  });

  it("follows enter and exit events into the vehicles' geofences", () => {
    const fleet = new Fleet();
    const event = (type: string, id: string) => ({
      type: "event" as const,
      event: { id, type, vehicle_id: "v1", geofence_id: "g1", ts: at(0) },
    });
    expect(fleet.apply(event("enter", "e1")).vehicles.has("v1")).toBe(true);
    expect(fleet.inside("g1")).toEqual(["v1"]);
    expect(fleet.apply(event("enter", "e1")).vehicles.size).toBe(0);
    fleet.apply(event("exit", "e2"));
    expect(fleet.inside("g1")).toEqual([]);
  });

  it("applies status changes, geofence upserts and deletes", () => {
    const fleet = new Fleet();
    fleet.apply({
      type: "snapshot",
      vehicles: [vehicle({ geofences: ["g1"] })],
      geofences: { type: "FeatureCollection", features: [] },
    });
    expect(
      fleet.apply({ type: "status", vehicle_id: "v1", status: "offline" }).vehicles.has("v1"),
    ).toBe(true);
    expect(fleet.vehicles.get("v1")?.status).toBe("offline");
    fleet.apply({ type: "geofence", op: "upsert", geofence: square });
    expect(fleet.geofences.get("g1")?.properties.name).toBe("depot");
    const gone = fleet.apply({ type: "geofence", op: "delete", id: "g1" });
    expect(fleet.geofences.has("g1")).toBe(false);
    expect(gone.vehicles.has("v1")).toBe(true);
    expect(fleet.vehicles.get("v1")?.geofences).toEqual([]);
  });

  it("takes the hub's list of who is inside a geofence as the truth for it", () => {
    const fleet = new Fleet();
    fleet.apply({
      type: "snapshot",
      vehicles: [vehicle({ geofences: ["g1", "g2"] }), vehicle({ id: "v2" })],
      geofences: { type: "FeatureCollection", features: [] },
    });
    const changed = fleet.setInside("g1", ["v2"]);
    expect([...changed].sort()).toEqual(["v1", "v2"]);
    expect(fleet.inside("g1")).toEqual(["v2"]);
    expect(fleet.vehicles.get("v1")?.geofences).toEqual(["g2"]);
  });
});

import { describe, expect, it } from "vitest";
import {
  EVENTS_TOPIC,
  isVehicleId,
  LOCATION_TOPIC_FILTER,
  locationTopic,
  parseLocationTopic,
  parseStatusTopic,
  parseVehicleStatus,
  STATUS_TOPIC_FILTER,
  statusTopic,
} from "./topics.ts";

describe("vehicle ids", () => {
  it.each([
    ["truck-01", true],
    ["A.b_c-9", true],
    ["x", true],
    ["a".repeat(64), true],
    ["a".repeat(65), false],
    ["", false],
    ["truck 01", false],
    ["truck/01", false],
    ["truck+", false],
    ["#", false],
    ["trück", false],
    ["truck-01\n", false],
  ])("isVehicleId(%j) is %s", (id, ok) => {
    expect(isVehicleId(id)).toBe(ok);
  });
});

describe("topics", () => {
  it("has the §3 names", () => {
    expect(LOCATION_TOPIC_FILTER).toBe("locus/vehicles/+/location");
    expect(STATUS_TOPIC_FILTER).toBe("locus/vehicles/+/status");
    expect(EVENTS_TOPIC).toBe("locus/geofence/events");
    expect(locationTopic("truck-01")).toBe("locus/vehicles/truck-01/location");
    expect(statusTopic("truck-01")).toBe("locus/vehicles/truck-01/status");
  });

  it.each(["", "a/b", "+", "#", "a".repeat(65)])("builders refuse the id %j", (id) => {
    expect(() => locationTopic(id)).toThrow(/invalid vehicle id/);
    expect(() => statusTopic(id)).toThrow(/invalid vehicle id/);
  });

  it.each([
    ["locus/vehicles/truck-01/location", "truck-01"],
    ["locus/vehicles/a.b_c/location", "a.b_c"],
    ["locus/vehicles//location", null],
    ["locus/vehicles/a/b/location", null],
    ["locus/vehicles/+/location", null],
    ["locus/vehicles/truck-01/location/", null],
    ["/locus/vehicles/truck-01/location", null],
    ["locus/vehicles/truck-01/status", null],
    ["Locus/vehicles/truck-01/location", null],
    ["locus/vehicles/location", null],
    ["locus/vehicles/truck 01/location", null],
    [`locus/vehicles/${"a".repeat(65)}/location`, null],
    ["", null],
  ])("parseLocationTopic(%j) is %j", (topic, id) => {
    expect(parseLocationTopic(topic)).toBe(id);
  });

  it.each([
    ["locus/vehicles/truck-01/status", "truck-01"],
    ["locus/vehicles/truck-01/location", null],
    ["locus/vehicles//status", null],
    ["locus/vehicles/a/b/status", null],
  ])("parseStatusTopic(%j) is %j", (topic, id) => {
    expect(parseStatusTopic(topic)).toBe(id);
  });

  it("round-trips every valid id", () => {
    for (const id of ["truck-01", "0", "a.b-c_d", "Z".repeat(64)]) {
      expect(parseLocationTopic(locationTopic(id))).toBe(id);
      expect(parseStatusTopic(statusTopic(id))).toBe(id);
    }
  });
});

describe("status payload", () => {
  it.each([
    ["online", "online"],
    ["offline", "offline"],
    [new TextEncoder().encode("online"), "online"],
    ["", null],
    ["Online", null],
    ["online\n", null],
  ] as const)("parseVehicleStatus(%j) is %j", (payload, status) => {
    expect(parseVehicleStatus(payload)).toBe(status);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJsonFix } from "./json-lines.ts";

describe("parseJsonFix", () => {
  it.each([
    [
      "the seed payload",
      '{"vehicle_id":"truck-01","latitude":34.05,"longitude":-118.24}',
      { latitude: 34.05, longitude: -118.24 },
    ],
    [
      "every field, ts as RFC 3339",
      '{"latitude":-33.86,"longitude":151.21,"ts":"2026-11-24T20:00:01+01:00","speed":12.5,"heading":360,"accuracy":4,"altitude":-10}',
      {
        latitude: -33.86,
        longitude: 151.21,
        ts: Date.parse("2026-11-24T19:00:01Z"),
        speed: 12.5,
        heading: 360,
        accuracy: 4,
        altitude: -10,
      },
    ],
    [
      "ts as epoch ms",
      '{"latitude":0,"longitude":0,"ts":1795550401000}',
      { latitude: 0, longitude: 0, ts: 1795550401000 },
    ],
    [
      "seq and another vehicle's id are ignored",
      '{"latitude":1,"longitude":2,"seq":-5,"vehicle_id":7}',
      { latitude: 1, longitude: 2 },
    ],
    [
      "null means absent",
      '{"latitude":1,"longitude":2,"ts":null,"speed":null}',
      { latitude: 1, longitude: 2 },
    ],
    [
      "unknown fields are dropped",
      '{"latitude":1,"longitude":2,"satellites":9}',
      { latitude: 1, longitude: 2 },
    ],
  ])("reads %s", (_name, line, want) => {
    expect(parseJsonFix(line)).toEqual(want);
  });

  it.each([
    ["not JSON", "latitude=1", "invalid_json"],
    ["truncated JSON", '{"latitude":1,', "invalid_json"],
    ["an array", '[{"latitude":1,"longitude":2}]', "not_object"],
    ["a number", "42", "not_object"],
    ["null", "null", "not_object"],
    ["no latitude", '{"longitude":2}', "invalid_latitude"],
    ["latitude as a string", '{"latitude":"1","longitude":2}', "invalid_latitude"],
    ["latitude beyond 90", '{"latitude":90.5,"longitude":2}', "invalid_latitude"],
    ["longitude beyond 180", '{"latitude":1,"longitude":-180.01}', "invalid_longitude"],
    ["ts without a zone", '{"latitude":1,"longitude":2,"ts":"2026-11-24T20:00:01"}', "invalid_ts"],
    ["fractional epoch ms", '{"latitude":1,"longitude":2,"ts":1.5}', "invalid_ts"],
    ["negative speed", '{"latitude":1,"longitude":2,"speed":-1}', "invalid_speed"],
    ["heading 361", '{"latitude":1,"longitude":2,"heading":361}', "invalid_heading"],
    ["negative accuracy", '{"latitude":1,"longitude":2,"accuracy":-0.1}', "invalid_accuracy"],
    ["altitude as a string", '{"latitude":1,"longitude":2,"altitude":"high"}', "invalid_altitude"],
  ])("rejects %s", (_name, line, reason) => {
    expect(parseJsonFix(line)).toBe(reason);
  });

  it("never throws, and whatever it accepts is in range", () => {
    const value = fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null), fc.boolean());
    const fixLike = fc.record(
      {
        latitude: value,
        longitude: value,
        ts: fc.oneof(
          value,
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        speed: value,
        heading: value,
        seq: value,
      },
      { requiredKeys: [] },
    );
    const line = fc.oneof(
      fixLike.map((o) => JSON.stringify(o)),
      fc.string(),
      fc.json(),
    );
    fc.assert(
      fc.property(line, (l) => {
        const fix = parseJsonFix(l);
        if (typeof fix === "string") return;
        expect(Math.abs(fix.latitude)).toBeLessThanOrEqual(90);
        expect(Math.abs(fix.longitude)).toBeLessThanOrEqual(180);
        if (fix.ts !== undefined) expect(Number.isSafeInteger(fix.ts)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

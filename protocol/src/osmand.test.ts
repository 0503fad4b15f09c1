import { describe, expect, it } from "vitest";
import { KNOT_MS, parseDeviceTime } from "./device-fields.ts";
import { decodeOsmAndJson, decodeOsmAndParams } from "./osmand.ts";

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const OPTIONS = { receivedAt: NOW, notAfter: NOW + 600_000 };

/** Decodes a query string as a tracker sends it (the part after `?`). */
function query(qs: string) {
  const params = new URLSearchParams(qs);
  return decodeOsmAndParams((name) => params.get(name) ?? undefined, OPTIONS);
}

describe("OsmAnd query and form", () => {
  it("reads Traccar Client's query with speed in knots", () => {
    const m = query(
      "id=van-2&timestamp=1765022340&lat=52.516275&lon=13.377704&speed=10&bearing=90.5&altitude=34.2&accuracy=4.8&batt=87&charge=false",
    );
    expect(m.deviceId).toBe("van-2");
    expect(m.rejects).toEqual([]);
    expect(m.fixes).toEqual([
      {
        vehicle_id: "van-2",
        latitude: 52.516275,
        longitude: 13.377704,
        ts: 1_765_022_340_000,
        ts_given: true,
        seq: undefined,
        speed: 10 * KNOT_MS,
        heading: 90.5,
        accuracy: 4.8,
        altitude: 34.2,
      },
    ]);
  });

  it.each([
    ["deviceid=123456&lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0", "123456"],
    ["id=123456&timestamp=1377177267&location=60.0,30.0", "123456"],
    [
      "id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
      "861001000719969",
    ],
  ])("reads %s", (qs, id) => {
    const m = query(qs);
    expect(m.deviceId).toBe(id);
    expect(m.fixes).toHaveLength(1);
    expect(m.rejects).toEqual([]);
  });

  it("location=lat,lon sets both", () => {
    expect(query("id=a&location=60.5,30.25").fixes[0]).toMatchObject({
      latitude: 60.5,
      longitude: 30.25,
    });
  });

  it("a fix without a timestamp gets the receive time", () => {
    expect(query("id=a&lat=1&lon=2").fixes[0]).toMatchObject({ ts: NOW, ts_given: false });
  });

  it.each([
    ["speed=-1", "speed"],
    ["bearing=-1", "heading"],
    ["accuracy=-1", "accuracy"],
  ] as const)("%s is absent", (extra, field) => {
    expect(query(`id=a&lat=1&lon=2&${extra}`).fixes[0]?.[field]).toBeUndefined();
  });

  it("valid=false is not a fix and not an error", () => {
    const m = query("id=a&lat=0&lon=0&valid=false");
    expect(m).toMatchObject({ deviceId: "a", fixes: [], rejects: [], invalid: 1 });
  });

  it.each([
    ["lat=1&lon=2", "missing_device_id"],
    ["id=&lat=1&lon=2", "missing_device_id"],
    ["id=has space&lat=1&lon=2", "invalid_vehicle_id"],
    [`id=${"x".repeat(65)}&lat=1&lon=2`, "invalid_vehicle_id"],
  ])("%s: the device is refused (%s)", (qs, problem) => {
    const m = query(qs);
    expect(m.deviceId).toBeNull();
    expect(m.deviceProblem).toBe(problem);
    expect(m.fixes).toEqual([]);
  });

  it.each([
    ["id=a&lon=2", "invalid_latitude"],
    ["id=a&lat=north&lon=2", "invalid_latitude"],
    ["id=a&lat=1&lon=200", "invalid_longitude"],
    ["id=a&location=1", "invalid_latitude"],
    ["id=a&location=1,2,3", "invalid_latitude"],
    ["id=a&lat=1&lon=2&timestamp=soon", "invalid_ts"],
    ["id=a&lat=1&lon=2&timestamp=2026-12-06T13:00:00Z", "future_ts"],
    ["id=a&lat=1&lon=2&speed=0x10", "invalid_speed"],
    ["id=a&lat=1&lon=2&bearing=361", "invalid_heading"],
    ["id=a&lat=1&lon=2&altitude=high", "invalid_altitude"],
    ["id=a&lat=1&lon=2&accuracy=Infinity", "invalid_accuracy"],
  ])("%s is rejected as %s", (qs, reason) => {
    expect(query(qs).rejects).toEqual([{ index: 0, reason }]);
  });
});

describe("OsmAnd timestamps", () => {
  it.each([
    ["1377177267", Date.UTC(2013, 7, 22, 13, 14, 27)],
    ["1442068686579", 1_442_068_686_579],
    ["1377177267.25", Date.UTC(2013, 7, 22, 13, 14, 27, 250)],
    ["2016-01-27T18:55:47Z", Date.UTC(2016, 0, 27, 18, 55, 47)],
    ["2016-01-27T18:55:47.123Z", Date.UTC(2016, 0, 27, 18, 55, 47, 123)],
    ["2016-01-27T18:55:47+02:00", Date.UTC(2016, 0, 27, 16, 55, 47)],
    ["2016-01-27T18:55:47+0200", Date.UTC(2016, 0, 27, 16, 55, 47)],
    ["2016-01-27T18:55:47", Date.UTC(2016, 0, 27, 18, 55, 47)],
    ["2014-06-04 09:10:11", Date.UTC(2014, 5, 4, 9, 10, 11)],
  ])("%s", (text, ms) => {
    expect(parseDeviceTime(text)).toBe(ms);
  });

  it.each(["", "yesterday", "2016-02-30 10:00:00", "2016-01-27T25:00:00Z", "-5", "1e400"])(
    "%j is not a time",
    (text) => {
      expect(parseDeviceTime(text)).toBeNull();
    },
  );

  it("the form with a space arrives as + in a query and is read", () => {
    expect(query("id=a&lat=1&lon=2&timestamp=2014-06-04+09%3A10%3A11").fixes[0]?.ts).toBe(
      Date.UTC(2014, 5, 4, 9, 10, 11),
    );
  });
});

describe("OsmAnd JSON (Traccar Client)", () => {
  // The body Traccar Client sends (fields and their nesting as the app writes them).
  const BODY = {
    location: {
      timestamp: "2026-12-06T11:59:30.862Z",
      coords: {
        latitude: 37.4219983,
        longitude: -122.084,
        accuracy: 5,
        speed: 12.5,
        heading: 63,
        altitude: 5,
        speed_accuracy: 0.26,
        heading_accuracy: 0.28,
        altitude_accuracy: 3.8,
      },
      is_moving: true,
      odometer: 1520.4,
      event: "motionchange",
      battery: { level: 0.79, is_charging: false },
      activity: { type: "in_vehicle" },
      extras: {},
    },
    device_id: "48241179",
  };

  it("reads it with speed in m/s", () => {
    const m = decodeOsmAndJson(BODY, OPTIONS);
    expect(m.deviceId).toBe("48241179");
    expect(m.fixes).toEqual([
      {
        vehicle_id: "48241179",
        latitude: 37.4219983,
        longitude: -122.084,
        ts: Date.parse("2026-12-06T11:59:30.862Z"),
        ts_given: true,
        seq: undefined,
        speed: 12.5,
        heading: 63,
        accuracy: 5,
        altitude: 5,
      },
    ]);
  });

  it("−1 readings (iOS: unknown) are absent", () => {
    const body = structuredClone(BODY);
    Object.assign(body.location.coords, { speed: -1, heading: -1, accuracy: -1 });
    const fix = decodeOsmAndJson(body, OPTIONS).fixes[0];
    expect(fix?.speed).toBeUndefined();
    expect(fix?.heading).toBeUndefined();
    expect(fix?.accuracy).toBeUndefined();
  });

  it("takes an array of locations, keeping the good ones", () => {
    const good = BODY.location;
    const bad = { ...good, coords: { ...good.coords, latitude: 123 } };
    const m = decodeOsmAndJson({ device_id: "d1", location: [good, bad, 7] }, OPTIONS);
    expect(m.fixes).toHaveLength(1);
    expect(m.rejects).toEqual([
      { index: 1, reason: "invalid_latitude" },
      { index: 2, reason: "not_object" },
    ]);
  });

  it("takes the device id from the query when the body has none", () => {
    expect(decodeOsmAndJson({ location: BODY.location }, OPTIONS, "van-3").deviceId).toBe("van-3");
  });

  it.each([
    [[], "not_object"],
    [{ device_id: "d1" }, "not_object"],
    [{ device_id: "d1", location: { coords: "x" } }, "invalid_latitude"],
    [{ device_id: "d1", location: [] }, "empty_batch"],
  ])("%j is rejected as %s", (body, reason) => {
    const m = decodeOsmAndJson(body, OPTIONS);
    expect(m.fixes).toEqual([]);
    expect(m.rejects.map((r) => r.reason)).toEqual([reason]);
  });

  it("refuses a device id that is not a vehicle id", () => {
    expect(decodeOsmAndJson({ device_id: { x: 1 }, location: BODY.location }).deviceProblem).toBe(
      "invalid_vehicle_id",
    );
    expect(decodeOsmAndJson({ device_id: 42, location: BODY.location }).deviceId).toBe("42");
  });
});

import fc from "fast-check";
import Value from "typebox/value";
import { describe, expect, it } from "vitest";
import {
  buildCrossingEvent,
  buildEvent,
  decodeEvent,
  encodeEvent,
  eventId,
  GeofenceEventSchema,
  type TransitionKey,
} from "./event.ts";
import { MAX_TS_MS } from "./time.ts";

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const T0 = Date.UTC(2026, 10, 24, 20, 0, 1);
const key: TransitionKey = {
  vehicle_id: "truck-01",
  geofence_id: "g1",
  type: "enter",
  ts: T0,
  seq: 3,
};

const transitionKey = fc.record(
  {
    vehicle_id: fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
    geofence_id: fc.string({ maxLength: 40 }),
    type: fc.constantFrom("enter", "exit", "dwell"),
    ts: fc.integer({ min: 0, max: MAX_TS_MS }),
    seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  },
  { requiredKeys: ["vehicle_id", "geofence_id", "type", "ts"] },
);

describe("eventId", () => {
  it("is a version 8 UUID-shaped string", () => {
    expect(eventId(key)).toMatch(UUID_V8);
    fc.assert(fc.property(transitionKey, (k) => UUID_V8.test(eventId(k))));
  });

  it("is stable: the same transition gives the same id", () => {
    expect(eventId(key)).toBe(eventId({ ...key }));
    expect(
      eventId({ seq: 3, ts: T0, type: "enter", geofence_id: "g1", vehicle_id: "truck-01" }),
    ).toBe(eventId(key));
    // Pinned: a change of encoding would give stored and redelivered events new ids.
    expect(eventId(key)).toBe("2512b194-03bd-8d99-9952-02cc4d6f59d5");
    fc.assert(fc.property(transitionKey, (k) => eventId(k) === eventId(structuredClone(k))));
  });

  it.each([
    ["vehicle", { vehicle_id: "truck-02" }],
    ["fence", { geofence_id: "g2" }],
    ["type", { type: "exit" }],
    ["ts", { ts: T0 + 1 }],
    ["seq", { seq: 4 }],
    ["no seq", { seq: undefined }],
  ])("changes with the %s", (_name, change) => {
    expect(eventId({ ...key, ...change })).not.toBe(eventId(key));
  });

  it("does not let fields run into each other", () => {
    const a = eventId({ ...key, vehicle_id: "ab", geofence_id: "c" });
    const b = eventId({ ...key, vehicle_id: "a", geofence_id: "bc" });
    expect(a).not.toBe(b);
    expect(eventId({ ...key, geofence_id: 'x","y' })).not.toBe(
      eventId({ ...key, geofence_id: "x" }),
    );
  });

  it("differs for different transitions", () => {
    fc.assert(
      fc.property(transitionKey, transitionKey, (a, b) => {
        const same =
          a.vehicle_id === b.vehicle_id &&
          a.geofence_id === b.geofence_id &&
          a.type === b.type &&
          a.ts === b.ts &&
          a.seq === b.seq;
        expect(eventId(a) === eventId(b)).toBe(same);
      }),
      { numRuns: 500 },
    );
  });
});

describe("buildEvent and encodeEvent", () => {
  const fix = { vehicle_id: "truck-01", ts: T0, seq: 3, latitude: 34.05, longitude: -118.24 };
  const event = buildEvent({ type: "enter", geofence_id: "g1" }, fix, "downtown-la", T0 + 4);

  it("give exactly the §3 payload", () => {
    expect(JSON.parse(encodeEvent(event))).toStrictEqual({
      id: eventId(key),
      type: "enter",
      vehicle_id: "truck-01",
      geofence_id: "g1",
      geofence_name: "downtown-la",
      ts: "2026-11-24T20:00:01.000Z",
      latitude: 34.05,
      longitude: -118.24,
      detected_at: "2026-11-24T20:00:01.004Z",
    });
    expect(Object.keys(JSON.parse(encodeEvent(event)))).toEqual([
      "id",
      "type",
      "vehicle_id",
      "geofence_id",
      "geofence_name",
      "ts",
      "latitude",
      "longitude",
      "detected_at",
    ]);
  });

  it("match the schema", () => {
    expect(Value.Check(GeofenceEventSchema, event)).toBe(true);
  });

  it("keep the id when detected again later", () => {
    const again = buildEvent({ type: "enter", geofence_id: "g1" }, fix, "renamed", T0 + 60_000);
    expect(again.id).toBe(event.id);
  });

  it("drop fields the event does not have", () => {
    const extra = { ...event, internal: 1 } as typeof event;
    expect(JSON.parse(encodeEvent(extra))).not.toHaveProperty("internal");
  });
});

describe("decodeEvent", () => {
  const event = buildEvent(
    { type: "exit", geofence_id: "g1" },
    { vehicle_id: "truck-01", ts: T0, latitude: 1, longitude: 2 },
    "yard",
    T0 + 10,
  );

  it("reads back what encodeEvent writes", () => {
    expect(decodeEvent(encodeEvent(event))).toStrictEqual(event);
    expect(decodeEvent(new TextEncoder().encode(encodeEvent(event)))).toStrictEqual(event);
  });

  it.each([
    ["not JSON", "{"],
    ["an array", "[]"],
    ["unknown type", encodeEvent({ ...event, type: "linger" as "enter" })],
    ["bad ts", encodeEvent({ ...event, ts: "yesterday" })],
    ["missing id", JSON.stringify({ ...event, id: undefined })],
  ])("gives null for %s", (_name, text) => {
    expect(decodeEvent(text)).toBeNull();
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => void decodeEvent(JSON.stringify(v) ?? "")));
  });
});

describe("buildCrossingEvent", () => {
  const fix = { vehicle_id: "truck-01", ts: T0 + 10_000, seq: 3 };
  const crossing = { ts: T0 + 2_000, latitude: 34.051, longitude: -118.241, ordinal: 0 };
  const enter = buildCrossingEvent({ type: "enter", geofence_id: "g1" }, fix, crossing, "yard", T0);

  it("carries the crossing's time and place and interpolated: true, on the wire too", () => {
    expect(enter).toMatchObject({
      type: "enter",
      ts: "2026-11-24T20:00:03.000Z",
      latitude: 34.051,
      longitude: -118.241,
      interpolated: true,
    });
    expect(Object.keys(JSON.parse(encodeEvent(enter))).at(-1)).toBe("interpolated");
    expect(Value.Check(GeofenceEventSchema, enter)).toBe(true);
    expect(decodeEvent(encodeEvent(enter))).toStrictEqual(enter);
  });

  it("has an id that is the same when recomputed and that no fix's own transition has", () => {
    const again = buildCrossingEvent({ type: "enter", geofence_id: "g1" }, fix, crossing, "x", T0);
    expect(again.id).toBe(enter.id);
    // A real fix at exactly the interpolated time, with the same seq: a different transition.
    const real = { vehicle_id: "truck-01", ts: crossing.ts, seq: 3, latitude: 0, longitude: 0 };
    expect(buildEvent({ type: "enter", geofence_id: "g1" }, real, "yard", T0).id).not.toBe(
      enter.id,
    );
    // The second pass through the fence along the same segment, at the same rounded ms.
    const second = buildCrossingEvent(
      { type: "enter", geofence_id: "g1" },
      fix,
      { ...crossing, ordinal: 1 },
      "yard",
      T0,
    );
    expect(second.id).not.toBe(enter.id);
    const exit = buildCrossingEvent({ type: "exit", geofence_id: "g1" }, fix, crossing, "yard", T0);
    expect(exit.id).not.toBe(enter.id);
  });

  it("is refused by decodeEvent with an interpolated other than true", () => {
    const text = JSON.stringify({ ...enter, interpolated: "yes" });
    expect(decodeEvent(text)).toBeNull();
    expect(decodeEvent(JSON.stringify({ ...enter, interpolated: undefined }))).not.toHaveProperty(
      "interpolated",
    );
  });
});

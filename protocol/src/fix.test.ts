// The schemas and the hand-written decoder must agree on what a valid fix is.
import fc from "fast-check";
import Value from "typebox/value";
import { describe, expect, it } from "vitest";
import { decodeLocationMessage } from "./decode.ts";
import { type Fix, FixBatchSchema, FixPayloadSchema, FixSchema, toWireFix } from "./fix.ts";
import { MAX_TS_MS } from "./time.ts";

const TOPIC = "locus/vehicles/truck-01/location";
const T0 = Date.UTC(2026, 10, 24, 20, 0, 1);

describe("toWireFix", () => {
  it("gives the §3 shape with a UTC time and no absent fields", () => {
    const fix: Fix = {
      vehicle_id: "truck-01",
      latitude: 34.05,
      longitude: -118.24,
      ts: T0,
      ts_given: true,
      seq: 1,
      speed: undefined,
      heading: 90,
    };
    expect(toWireFix(fix)).toStrictEqual({
      vehicle_id: "truck-01",
      ts: "2026-11-24T20:00:01.000Z",
      latitude: 34.05,
      longitude: -118.24,
      seq: 1,
      heading: 90,
    });
    expect(Value.Check(FixSchema, toWireFix(fix))).toBe(true);
    expect(Value.Check(FixPayloadSchema, toWireFix(fix))).toBe(true);
  });
});

describe("schemas", () => {
  it("accept the seed payload and a batch of it", () => {
    const seed = { vehicle_id: "truck-01", latitude: 34.05, longitude: -118.24 };
    expect(Value.Check(FixPayloadSchema, seed)).toBe(true);
    expect(Value.Check(FixBatchSchema, [seed])).toBe(true);
    expect(Value.Check(FixBatchSchema, [])).toBe(false);
    expect(Value.Check(FixBatchSchema, Array(1001).fill(seed))).toBe(false);
  });

  it("have no $id and describe every property", () => {
    for (const schema of [FixPayloadSchema, FixSchema]) {
      expect(schema).not.toHaveProperty("$id");
      for (const prop of Object.values(schema.properties)) {
        expect(JSON.stringify(prop)).toContain("description");
      }
    }
  });

  // Each field is valid more often than not, so whole valid payloads come up often. Nulls and a
  // foreign vehicle_id are left out: the schema has no say on them (the decoder reads null as
  // absent and compares vehicle_id with the topic).
  const wrong = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer({ min: -1, max: MAX_TS_MS + 1 }),
    fc.constantFrom(-91, 91, -181, 181, 361, -0.5, 1.5, 2 ** 53, "1", "", true, [], {}),
    fc.constantFrom("2026-11-24", "2026-11-24T20:00:01", "Nov 24 2026"),
  );
  const field = <T>(valid: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: wrong, weight: 1 });
  const payload = fc.record(
    {
      latitude: field(fc.double({ min: -90, max: 90, noNaN: true })),
      longitude: field(fc.double({ min: -180, max: 180, noNaN: true })),
      ts: field(
        fc.oneof(
          fc.integer({ min: 0, max: MAX_TS_MS }),
          fc.constantFrom("2026-11-24T20:00:01Z", "2026-11-24T21:00:01.5+01:00"),
        ),
      ),
      seq: field(fc.nat({ max: Number.MAX_SAFE_INTEGER })),
      vehicle_id: fc.oneof(
        { arbitrary: fc.constant("truck-01"), weight: 4 },
        { arbitrary: wrong.filter((v) => typeof v !== "string"), weight: 1 },
      ),
      speed: field(fc.double({ min: 0, max: 1e9, noNaN: true })),
      heading: field(fc.double({ min: 0, max: 360, noNaN: true })),
      accuracy: field(fc.double({ min: 0, max: 1e9, noNaN: true })),
      altitude: field(fc.double({ min: -1e9, max: 1e9, noNaN: true })),
    },
    { requiredKeys: [] },
  );

  it("agree with the decoder on which payloads are valid", () => {
    let accepted = 0;
    fc.assert(
      fc.property(payload, (p) => {
        const r = decodeLocationMessage(TOPIC, JSON.stringify(p));
        // JSON has no NaN or Infinity: compare against what the decoder actually received.
        const sent = JSON.parse(JSON.stringify(p));
        const valid = Value.Check(FixPayloadSchema, sent);
        expect(r.fixes.length === 1).toBe(valid);
        if (valid) accepted++;
      }),
      { numRuns: 1000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });
});

// The TypeBox schemas are the spec of the wire format; the decoders are hand-written for speed.
// These properties hold each decoder to its schema both ways: what the schema accepts the decoder
// accepts, what it refuses the decoder refuses, and for the same reason.
import fc from "fast-check";
import type { TSchema } from "typebox";
import { Settings } from "typebox/system";
import Value from "typebox/value";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeLocationMessage, type Reject, type RejectReason } from "./decode.ts";
import { decodeEvent, GeofenceEventSchema, toWireEvent } from "./event.ts";
import { FixBatchSchema, FixPayloadSchema, LocationMessageSchema, MAX_BATCH } from "./fix.ts";
import { mutated, toJsonText, validValue, wrongValue } from "./schema-arbitrary.ts";
import { parseVehicleStatus, VehicleStatusSchema } from "./topics.ts";

const ID = "truck-01";
const TOPIC = `locus/vehicles/${ID}/location`;
const NOW = Date.UTC(2026, 10, 24, 20, 0, 0);
const RUNS = { numRuns: 300 };

// TypeBox stops listing errors at eight by default; the reason a decoder gives is only known from
// all of them.
const defaultMaxErrors = Settings.Get().maxErrors;
beforeAll(() => Settings.Set({ maxErrors: Number.MAX_SAFE_INTEGER }));
afterAll(() => Settings.Set({ maxErrors: defaultMaxErrors }));

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

function errorsOf(schema: TSchema, value: unknown): SchemaError[] {
  return [...Value.Errors(schema, value)] as unknown as SchemaError[];
}

// The reason the decoder gives for a problem with each field of a fix.
const FIELD_REASONS: Record<string, RejectReason> = {
  vehicle_id: "invalid_vehicle_id",
  latitude: "invalid_latitude",
  longitude: "invalid_longitude",
  ts: "invalid_ts",
  seq: "invalid_seq",
  speed: "invalid_speed",
  heading: "invalid_heading",
  accuracy: "invalid_accuracy",
  altitude: "invalid_altitude",
};

// The decoder reports a fix's first problem in this order (protocol/README.md).
const FIX_ORDER: readonly RejectReason[] = [
  "not_object",
  "invalid_vehicle_id",
  "vehicle_id_mismatch",
  "invalid_latitude",
  "invalid_longitude",
  "invalid_ts",
  "invalid_seq",
  "invalid_speed",
  "invalid_heading",
  "invalid_accuracy",
  "invalid_altitude",
];

function fieldReason(field: string | undefined): RejectReason {
  const reason = FIELD_REASONS[field ?? ""];
  if (!reason) throw new Error(`schema error on a field with no reject reason: ${field}`);
  return reason;
}

/** The reasons one schema error of a fix stands for; throws on one the decoder has no name for. */
function reasonsOf(e: SchemaError): RejectReason[] {
  const [field] = e.instancePath.split("/").slice(1);
  if (field !== undefined) return [fieldReason(field)];
  if (e.keyword === "required") {
    return (e.params.requiredProperties as string[]).map((name) => fieldReason(name));
  }
  if (e.keyword === "type") return ["not_object"];
  throw new Error(`schema error with no reject reason: ${JSON.stringify(e)}`);
}

/** What the spec says of one fix: null when accepted, else the reason the decoder must give. */
function specFixReason(fix: unknown): RejectReason | null {
  const reasons = new Set(errorsOf(FixPayloadSchema, fix).flatMap(reasonsOf));
  // The one rule relative to the topic, which no schema of the payload alone can state.
  const vid = (fix as { vehicle_id?: unknown } | null)?.vehicle_id;
  if (typeof vid === "string" && !reasons.has("invalid_vehicle_id") && vid !== ID) {
    reasons.add("vehicle_id_mismatch");
  }
  return FIX_ORDER.find((r) => reasons.has(r)) ?? null;
}

/** The rejects the spec calls for in a whole message, in the decoder's order. */
function specRejects(message: unknown): Reject[] {
  if (!Array.isArray(message)) {
    const reason = specFixReason(message);
    if (reason === null) return [];
    return [{ index: reason === "not_object" ? -1 : 0, reason }];
  }
  const whole = errorsOf(FixBatchSchema, message).filter((e) => e.instancePath === "");
  if (whole.some((e) => e.keyword === "minItems")) return [{ index: -1, reason: "empty_batch" }];
  if (whole.some((e) => e.keyword === "maxItems"))
    return [{ index: -1, reason: "batch_too_large" }];
  return message.flatMap((fix, index) => {
    const reason = specFixReason(fix);
    return reason === null ? [] : [{ index, reason }];
  });
}

/** Decodes `message` sent as JSON text and checks the answer against the spec. */
function holdsToSpec(message: unknown): void {
  const text = toJsonText(message);
  const parsed: unknown = JSON.parse(text); // what both sides see: 1e999 is Infinity, -0 is 0
  const got = decodeLocationMessage(TOPIC, text, { receivedAt: NOW });
  const want = specRejects(parsed);
  expect(got.rejects).toEqual(want);
  const mismatched = want.some((r) => r.reason === "vehicle_id_mismatch");
  if (!mismatched)
    expect(got.rejects.length === 0).toBe(Value.Check(LocationMessageSchema, parsed));
  const elements = Array.isArray(parsed) ? parsed.length : 1;
  if (!want.some((r) => r.index === -1)) expect(got.fixes.length + want.length).toBe(elements);
}

// Mostly the topic's own id, sometimes another valid one (a mismatch the schema cannot see).
const vehicleIdField = fc.oneof(
  { weight: 6, arbitrary: fc.constant(ID) },
  fc.constant(null),
  fc.constantFrom("truck-02", "TRUCK-01"),
);
const validFix = validValue(FixPayloadSchema, { vehicle_id: vehicleIdField });
const FIX_FIELDS = Object.keys(FIELD_REASONS);
const wrongFix = mutated(validFix, FIX_FIELDS);
const anyFix = fc.oneof(validFix, wrongFix, wrongFix, wrongValue);

describe("decodeLocationMessage holds to LocationMessageSchema", () => {
  it("accepts every message the schema accepts", () => {
    const message = validValue(LocationMessageSchema, { vehicle_id: fc.constant(ID) });
    fc.assert(
      fc.property(message, (m) => {
        expect(Value.Check(LocationMessageSchema, m)).toBe(true);
        const r = decodeLocationMessage(TOPIC, toJsonText(m), { receivedAt: NOW });
        expect(r.rejects).toEqual([]);
        expect(r.fixes).toHaveLength(Array.isArray(m) ? m.length : 1);
      }),
      RUNS,
    );
  });

  it("refuses a single fix exactly when the schema does, for the same reason", () => {
    fc.assert(fc.property(anyFix, holdsToSpec), RUNS);
  });

  it("refuses each fix of a batch exactly when the schema does, for the same reason", () => {
    fc.assert(fc.property(fc.array(anyFix, { minLength: 1, maxLength: 12 }), holdsToSpec), RUNS);
  });

  it("agrees with the schema on whatever JSON a message holds", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), holdsToSpec), RUNS);
  });

  it("agrees with the schema on batch sizes at and past the bounds", () => {
    const fix = { latitude: 1, longitude: 2 };
    for (const n of [0, 1, MAX_BATCH, MAX_BATCH + 1]) holdsToSpec(Array(n).fill(fix));
  });

  it("agrees with the schema on hand-picked near misses", () => {
    const base = { latitude: 1, longitude: 2 };
    for (const [field, value] of [
      ["ts", "2026-11-24T20:00:01Z[Europe/Paris]"],
      ["ts", "1970-01-01T00:30:00+01:00"],
      ["ts", "9999-12-31T23:59:59-00:01"],
      ["ts", "2016-12-31T22:59:60Z"],
      ["ts", null],
      ["speed", null],
      ["vehicle_id", ""],
      ["vehicle_id", "truck 01"],
      ["vehicle_id", "truck-02"],
    ] as const) {
      holdsToSpec({ ...base, [field]: value });
    }
  });
});

const EVENT_FIELDS = Object.keys(GeofenceEventSchema.properties);
const validEvent = validValue(GeofenceEventSchema);

describe("decodeEvent holds to GeofenceEventSchema", () => {
  it("reads every event the schema accepts, as its §3 fields", () => {
    fc.assert(
      fc.property(validEvent, (e) => {
        const parsed = JSON.parse(toJsonText(e));
        expect(decodeEvent(toJsonText(e))).toStrictEqual(toWireEvent(parsed));
      }),
      RUNS,
    );
  });

  it("refuses an event exactly when the schema does", () => {
    const anyEvent = fc.oneof(validEvent, mutated(validEvent, EVENT_FIELDS), wrongValue);
    fc.assert(
      fc.property(anyEvent, (e) => {
        const text = toJsonText(e);
        const accepted = Value.Check(GeofenceEventSchema, JSON.parse(text));
        expect(decodeEvent(text) !== null).toBe(accepted);
        expect(decodeEvent(new TextEncoder().encode(text)) !== null).toBe(accepted);
      }),
      RUNS,
    );
  });
});

describe("parseVehicleStatus holds to VehicleStatusSchema", () => {
  it("takes a status payload exactly when the schema does", () => {
    const text = fc.oneof(
      fc.constantFrom(
        "online",
        "offline",
        "Online",
        " online",
        "online\n",
        "offline\0",
        '"online"',
      ),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(
      fc.property(text, (s) => {
        const accepted = Value.Check(VehicleStatusSchema, s);
        expect(parseVehicleStatus(s)).toBe(accepted ? s : null);
        expect(parseVehicleStatus(new TextEncoder().encode(s))).toBe(accepted ? s : null);
      }),
      RUNS,
    );
  });
});

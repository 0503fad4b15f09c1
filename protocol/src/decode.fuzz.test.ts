// The location decoder under hostile input: arbitrary bytes and JSON on valid and invalid topics,
// deep nesting, huge numbers, prototype keys, batches at and past the limit. It never throws, each
// fix it keeps is a valid stored fix (FixSchema) and a valid payload, each drop has a known reason,
// and the fixes and drops of a batch account for every element exactly once.
// fast-check prints the seed of a failure; FC_SEED=<seed> replays it, FC_RUNS_SCALE=n runs longer.

import fc from "fast-check";
import Value from "typebox/value";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_BYTES,
  type DecodeResult,
  decodeLocationMessage,
  REJECT_REASONS,
} from "./decode.ts";
import { FixPayloadSchema, FixSchema, MAX_BATCH, toWireFix } from "./fix.ts";
import { formatTs, MAX_TS_MS } from "./time.ts";

const NOW = Date.UTC(2026, 10, 24, 20, 0, 0);
// Seeded, so that a CI run draws what the check of reasons below was seen to reach: unseeded, a
// run under load once drew no empty batch. FC_SEED=random draws afresh (for a longer hunt).
const SEED = process.env.FC_SEED === "random" ? undefined : Number(process.env.FC_SEED ?? 20261206);
/** FC_RUNS_SCALE=10 runs each property ten times as often, for a longer hunt. */
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);
function runs(numRuns: number): fc.Parameters<unknown> {
  const n = Math.max(1, Math.round(numRuns * SCALE));
  return SEED === undefined ? { numRuns: n } : { numRuns: n, seed: SEED };
}
const known = new Set<string>(REJECT_REASONS);

/** Every reason seen over the whole file, with how often: the generators must reach them. */
const reasonCounts = new Map<string, number>();

// ---- topics ----------------------------------------------------------------------------------

const vehicleId = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const validTopic = vehicleId.map((id) => ({ topic: `locus/vehicles/${id}/location`, id }));
const invalidTopic = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "",
    "locus/vehicles//location",
    "locus/vehicles/+/location",
    "locus/vehicles/#",
    "locus/vehicles/a/b/location",
    "locus/vehicles/truck-01/status",
    "locus/vehicles/truck-01/location/",
    "/locus/vehicles/truck-01/location",
    "LOCUS/vehicles/truck-01/location",
    "locus/vehicles/truck 01/location",
    "locus/vehicles/trück/location",
    "locus/vehicles/truck-01\u0000/location",
    "owntracks/truck-01/phone",
    `locus/vehicles/${"a".repeat(65)}/location`,
  ),
);

// ---- payloads --------------------------------------------------------------------------------

/** Stands for a number JSON.stringify cannot write; `text` writes it as one that parses to ±Infinity or 0. */
const RAW = { inf: "\u0000inf", ninf: "\u0000ninf", tiny: "\u0000tiny", long: "\u0000long" };
function text(value: unknown): string {
  return (JSON.stringify(value) ?? "null")
    .replaceAll(JSON.stringify(RAW.inf), "1e400")
    .replaceAll(JSON.stringify(RAW.ninf), "-1e400")
    .replaceAll(JSON.stringify(RAW.tiny), "1e-400")
    .replaceAll(JSON.stringify(RAW.long), "12345678901234567890123456789012345678901234567890");
}

const nastyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom<unknown>(
    -0,
    5e-324,
    Number.MAX_VALUE,
    Number.MAX_SAFE_INTEGER + 1,
    MAX_TS_MS,
    MAX_TS_MS + 1,
    RAW.inf,
    RAW.ninf,
    RAW.tiny,
    RAW.long,
  ),
);
const nastyValue = fc.oneof(
  nastyNumber,
  fc.constantFrom<unknown>(null, true, false, "", "NaN", "Infinity", "1e400", "__proto__", [], {}),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("2026-11-24T20:00:01Z", "2026-11-24T20:00:01+01:00", "2026-13-01T00:00:00Z"),
  fc.jsonValue({ maxDepth: 2 }),
);
const FIELDS = [
  "latitude",
  "longitude",
  "ts",
  "seq",
  "vehicle_id",
  "speed",
  "heading",
  "accuracy",
  "altitude",
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
];
const validFix = fc.record(
  {
    latitude: fc.double({ min: -90, max: 90, noNaN: true }),
    longitude: fc.double({ min: -180, max: 180, noNaN: true }),
    ts: fc.oneof(
      fc.integer({ min: 0, max: MAX_TS_MS }),
      fc.integer({ min: 0, max: MAX_TS_MS }).map(formatTs),
    ),
    seq: fc.nat(),
    speed: fc.double({ min: 0, max: 1e4, noNaN: true }),
    heading: fc.double({ min: 0, max: 360, noNaN: true }),
  },
  { requiredKeys: ["latitude", "longitude"] },
);
/** A fix with some of its fields, or made-up ones, given arbitrary values. */
const hostileFix = fc
  .tuple(
    validFix,
    fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 6 })), nastyValue, {
      maxKeys: 4,
    }),
  )
  .map(([fix, over]) => ({ ...fix, ...over }));
const element = fc.oneof(
  { weight: 4, arbitrary: validFix },
  { weight: 4, arbitrary: hostileFix },
  { weight: 1, arbitrary: nastyValue },
);

/** Payload text, and how many elements it holds when it is a batch the decoder must go through. */
interface Payload {
  text: string;
  elements: number | null;
}
const batch = fc.array(element, { minLength: 1, maxLength: 30 });
const payload: fc.Arbitrary<Payload> = fc.oneof(
  { weight: 3, arbitrary: batch.map((b) => ({ text: text(b), elements: b.length })) },
  { weight: 2, arbitrary: element.map((e) => ({ text: text(e), elements: null })) },
  {
    weight: 1,
    arbitrary: fc.jsonValue().map((v) => ({ text: JSON.stringify(v), elements: null })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.integer({ min: 1, max: 50_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
        fc.integer({ min: 1, max: 50_000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`),
        fc.constantFrom(
          '{"__proto__":{"latitude":1,"longitude":2}}',
          '{"constructor":{"prototype":{"latitude":1}},"latitude":1,"longitude":2}',
          '{"latitude":1,"longitude":2,"latitude":91}',
          '{"latitude":91,"longitude":2,"latitude":1}',
          '{"latitude":1e400,"longitude":0}',
          '{"latitude":-0.0,"longitude":-0e0}',
          '\ufeff{"latitude":1,"longitude":2}',
          '{"latitude":1,"longitude":2}garbage',
          "",
          " ",
          "[]",
          "[[]]",
          "null",
        ),
      )
      .map((t) => ({ text: t, elements: null })),
  },
);

// ---- the invariants --------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** How many fixes the body holds when it is JSON: a batch's length, else 1. */
function elementsOf(body: unknown): number {
  try {
    const t = typeof body === "string" ? body : utf8.decode(body as Uint8Array);
    const value: unknown = JSON.parse(t);
    return Array.isArray(value) ? value.length : 1;
  } catch {
    return 1;
  }
}

/** The decoder's answer for a message is well formed and accounts for every element. */
function check(result: DecodeResult, id: string | null, body: unknown): void {
  expect(result.vehicle_id).toBe(id);
  for (const r of result.rejects) {
    expect(known.has(r.reason), r.reason).toBe(true);
    reasonCounts.set(r.reason, (reasonCounts.get(r.reason) ?? 0) + 1);
  }
  if (id === null) {
    expect(result).toEqual({
      vehicle_id: null,
      fixes: [],
      rejects: [{ index: -1, reason: "bad_topic" }],
    });
    return;
  }
  const whole = result.rejects.filter((r) => r.index === -1);
  if (whole.length > 0) {
    expect(result.rejects).toHaveLength(1);
    expect(result.fixes).toEqual([]);
  } else {
    const total = elementsOf(body);
    expect(result.fixes.length + result.rejects.length).toBe(total);
    const indexes = result.rejects.map((r) => r.index);
    expect(new Set(indexes).size).toBe(indexes.length);
    for (const i of indexes) expect(Number.isInteger(i) && i >= 0 && i < total).toBe(true);
  }
  for (const fix of result.fixes) {
    expect(fix.vehicle_id).toBe(id);
    const wire = toWireFix(fix);
    // A kept fix is what the REST API will show and what a device could publish again.
    expect(Value.Check(FixSchema, wire), JSON.stringify(wire)).toBe(true);
    expect(Value.Check(FixPayloadSchema, wire), JSON.stringify(wire)).toBe(true);
    if (!fix.ts_given) expect(fix.ts).toBe(NOW);
  }
}

function decode(topic: string, body: Uint8Array | string): DecodeResult {
  return decodeLocationMessage(topic, body, { receivedAt: NOW });
}

describe("decodeLocationMessage under hostile input", () => {
  afterAll(() => {
    // Counts by reason over the file: a reason never produced means a generator never reached it.
    for (const reason of [
      "bad_topic",
      "invalid_utf8",
      "invalid_json",
      "not_object",
      "empty_batch",
      "batch_too_large",
      "payload_too_large",
      "invalid_latitude",
      "invalid_longitude",
      "invalid_ts",
      "invalid_seq",
      "invalid_vehicle_id",
    ]) {
      expect(reasonCounts.get(reason) ?? 0, reason).toBeGreaterThan(0);
    }
  });

  it("arbitrary bytes on valid and invalid topics: no throw, whole-message reasons only", () => {
    const topic = fc.oneof(
      validTopic,
      invalidTopic.map((t) => ({ topic: t, id: null as string | null })),
    );
    fc.assert(
      fc.property(topic, fc.uint8Array({ maxLength: 600 }), ({ topic: t, id }, bytes) => {
        const valid = id !== null && /^[A-Za-z0-9_.-]{1,64}$/.test(id);
        check(decode(t, bytes), valid ? id : null, bytes);
        check(decode(t, Buffer.from(bytes)), valid ? id : null, bytes);
      }),
      runs(400),
    );
  });

  it("arbitrary JSON, single fixes and batches: every element accounted for", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          validTopic,
          invalidTopic.map((t) => ({ topic: t, id: null })),
        ),
        payload,
        (tp, p) => {
          const id = tp.id !== null && /^[A-Za-z0-9_.-]{1,64}$/.test(tp.id) ? tp.id : null;
          const bytes = new TextEncoder().encode(p.text);
          const asText = decode(tp.topic, p.text);
          check(asText, id, p.text);
          check(decode(tp.topic, bytes), id, bytes);
          if (id !== null && p.elements !== null && p.elements <= MAX_BATCH) {
            expect(asText.fixes.length + asText.rejects.length).toBe(p.elements);
          }
        },
      ),
      runs(500),
    );
  });

  it("batches at and past the limit, and payloads at and past the byte limit", () => {
    fc.assert(
      fc.property(
        vehicleId,
        fc.constantFrom(MAX_BATCH - 1, MAX_BATCH, MAX_BATCH + 1, 5000),
        element,
        (id, n, e) => {
          const body = text(Array.from({ length: n }, () => e));
          const result = decode(`locus/vehicles/${id}/location`, body);
          check(result, id, body);
          if (n > MAX_BATCH) {
            const reason =
              Buffer.byteLength(body) > DEFAULT_MAX_BYTES ? "payload_too_large" : "batch_too_large";
            expect(result.rejects).toEqual([{ index: -1, reason }]);
          }
          const tight = decodeLocationMessage(`locus/vehicles/${id}/location`, body, {
            receivedAt: NOW,
            maxBytes: body.length - 1,
          });
          expect(tight.rejects).toEqual([{ index: -1, reason: "payload_too_large" }]);
        },
      ),
      runs(40),
    );
  });

  it("payloads that are neither a string nor bytes are refused, not thrown on", () => {
    for (const odd of [
      null,
      undefined,
      42,
      {},
      [],
      new ArrayBuffer(4),
      new DataView(new ArrayBuffer(2)),
    ]) {
      const result = decode("locus/vehicles/truck-01/location", odd as unknown as string);
      check(result, "truck-01", odd);
      expect(result.rejects).toHaveLength(1);
    }
  });
});

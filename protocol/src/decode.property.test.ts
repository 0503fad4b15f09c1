// Properties of the decoder over generated input: it never throws, its answer is always well
// formed, and every fix it accepts is within the §3 ranges.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DecodeResult, decodeLocationMessage, REJECT_REASONS } from "./decode.ts";
import { type Fix, toWireFix } from "./fix.ts";
import { formatTs, MAX_TS_MS } from "./time.ts";

const TOPIC = "locus/vehicles/truck-01/location";
const NOW = Date.UTC(2026, 10, 24, 20, 0, 0);
const reasons = new Set<string>(REJECT_REASONS);
const RUNS = { numRuns: 200 };

function checkFixInvariants(f: Fix): void {
  expect(f.vehicle_id).toBe("truck-01");
  expect(Number.isFinite(f.latitude) && f.latitude >= -90 && f.latitude <= 90).toBe(true);
  expect(Number.isFinite(f.longitude) && f.longitude >= -180 && f.longitude <= 180).toBe(true);
  expect(Number.isInteger(f.ts) && f.ts >= 0 && f.ts <= MAX_TS_MS).toBe(true);
  expect(typeof f.ts_given).toBe("boolean");
  if (!f.ts_given) expect(f.ts).toBe(NOW);
  if (f.seq !== undefined) expect(Number.isSafeInteger(f.seq) && f.seq >= 0).toBe(true);
  if (f.speed !== undefined) expect(Number.isFinite(f.speed) && f.speed >= 0).toBe(true);
  if (f.heading !== undefined) expect(f.heading >= 0 && f.heading <= 360).toBe(true);
  if (f.accuracy !== undefined) expect(Number.isFinite(f.accuracy) && f.accuracy >= 0).toBe(true);
  if (f.altitude !== undefined) expect(Number.isFinite(f.altitude)).toBe(true);
}

/** Well formed: every element accounted for once, reasons known, fixes within range. */
function checkResult(r: DecodeResult, elements: number | null): void {
  expect(r.vehicle_id).toBe("truck-01");
  for (const rej of r.rejects) {
    expect(reasons.has(rej.reason)).toBe(true);
    expect(Number.isInteger(rej.index) && rej.index >= -1).toBe(true);
  }
  const whole = r.rejects.some((rej) => rej.index === -1);
  if (whole) {
    expect(r.rejects).toHaveLength(1);
    expect(r.fixes).toHaveLength(0);
  } else {
    expect(r.fixes.length + r.rejects.length).toBeGreaterThan(0);
    if (elements !== null) expect(r.fixes.length + r.rejects.length).toBe(elements);
  }
  for (const f of r.fixes) checkFixInvariants(f);
}

function decode(payload: Uint8Array | string): DecodeResult {
  return decodeLocationMessage(TOPIC, payload, { receivedAt: NOW });
}

// Values each fix field might take: right, wrong type, out of range, null, absent.
const anyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 90, -90, 180, -180, 360, 1e308, -1e308, 2 ** 53, Number.MAX_VALUE),
);
const fieldValue = fc.oneof(
  anyNumber,
  fc.constantFrom(null, true, false, "", "1", "2026-11-24T20:00:01Z", "2026-11-24", [], {}),
  fc.string(),
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
];
const fuzzedFix = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })),
  fieldValue,
  { maxKeys: 12 },
);

// Valid fixes: every optional field may be left out.
const validTs = fc.oneof(
  fc.integer({ min: 0, max: MAX_TS_MS }),
  fc.integer({ min: 0, max: MAX_TS_MS }).map(formatTs),
);
const validFix = fc.record(
  {
    latitude: fc.double({ min: -90, max: 90, noNaN: true }),
    longitude: fc.double({ min: -180, max: 180, noNaN: true }),
    ts: validTs,
    seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    vehicle_id: fc.constant("truck-01"),
    speed: fc.double({ min: 0, max: 1e6, noNaN: true }),
    heading: fc.double({ min: 0, max: 360, noNaN: true }),
    accuracy: fc.double({ min: 0, max: 1e6, noNaN: true }),
    altitude: fc.double({ min: -1e4, max: 1e5, noNaN: true }),
  },
  { requiredKeys: ["latitude", "longitude"] },
);

describe("decodeLocationMessage over generated input", () => {
  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => checkResult(decode(bytes), null)),
      RUNS,
    );
  });

  it("never throws on arbitrary strings or topics", () => {
    // Any UTF-16 code units, lone surrogates included (fc's "binary" strings generate slowly).
    const utf16Text = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 300 })
      .map((units) => String.fromCharCode(...units));
    const topic = fc.oneof(fc.constant(TOPIC), fc.string());
    fc.assert(
      fc.property(topic, utf16Text, (t, text) => {
        const r = decodeLocationMessage(t, text, { receivedAt: NOW });
        if (t === TOPIC) checkResult(r, null);
        else expect(r.rejects).toEqual([{ index: -1, reason: "bad_topic" }]);
      }),
      RUNS,
    );
  });

  it("never throws on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const n = Array.isArray(value) ? value.length : null;
        checkResult(decode(text), n);
        checkResult(decode(new TextEncoder().encode(text)), n);
      }),
      RUNS,
    );
  });

  it("never throws on anything JSON.stringify can write", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        let text: string | undefined;
        try {
          text = JSON.stringify(value);
        } catch {
          return; // bigint and the like: not a payload anyone can send
        }
        if (text !== undefined) checkResult(decode(text), null);
      }),
      RUNS,
    );
  });

  it("never throws on objects built from fix fields with arbitrary values", () => {
    fc.assert(
      fc.property(
        fc.array(fuzzedFix, { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (fixes, batch) => {
          const payload = batch ? fixes : fixes[0];
          checkResult(decode(JSON.stringify(payload)), batch ? fixes.length : 1);
        },
      ),
      RUNS,
    );
  });

  it("accepts every valid fix and round-trips its values", () => {
    fc.assert(
      fc.property(fc.array(validFix, { minLength: 1, maxLength: 15 }), (fixes) => {
        const r = decode(JSON.stringify(fixes));
        expect(r.rejects).toEqual([]);
        expect(r.fixes).toHaveLength(fixes.length);
        r.fixes.forEach((got, i) => {
          const sent = fixes[i] as (typeof fixes)[number];
          checkFixInvariants(got);
          // JSON has no -0; it comes back as 0.
          expect(got.latitude).toBe(sent.latitude + 0);
          expect(got.longitude).toBe(sent.longitude + 0);
          expect(got.ts_given).toBe(sent.ts !== undefined);
          const ms = typeof sent.ts === "string" ? Date.parse(sent.ts) : sent.ts;
          expect(got.ts).toBe(ms ?? NOW);
          expect(got.seq).toBe(sent.seq);
          expect(got.speed).toBe(sent.speed === undefined ? undefined : sent.speed + 0);
          expect(got.heading).toBe(sent.heading === undefined ? undefined : sent.heading + 0);
          expect(got.accuracy).toBe(sent.accuracy === undefined ? undefined : sent.accuracy + 0);
          expect(got.altitude).toBe(sent.altitude === undefined ? undefined : sent.altitude + 0);
        });
      }),
      RUNS,
    );
  });

  it("decodes a decoded fix's wire form to the same fix", () => {
    fc.assert(
      fc.property(validFix, (sent) => {
        const [fix] = decode(JSON.stringify(sent)).fixes;
        if (!fix) throw new Error("valid fix rejected");
        const [again] = decode(JSON.stringify(toWireFix(fix))).fixes;
        expect(again).toEqual({ ...fix, ts_given: true });
      }),
      RUNS,
    );
  });
});

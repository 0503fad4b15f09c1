import { DEFAULT_MAX_BYTES, decodeLocationMessage, locationTopic } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import type { BufferedFix } from "../buffer/buffer.ts";
import { encodeFix, encodeMessage } from "./payload.ts";

const T0 = Date.parse("2026-11-24T20:00:00.000Z");
const fix = (seq: number, extra: Partial<BufferedFix> = {}): BufferedFix => ({
  seq,
  ts: T0 + seq * 1000,
  latitude: 34.05,
  longitude: -118.24,
  ...extra,
});

describe("encodeFix", () => {
  it("writes the §3 fields with ts in RFC 3339 and seq", () => {
    expect(JSON.parse(encodeFix("truck-01", fix(7, { speed: 3.5 })))).toEqual({
      vehicle_id: "truck-01",
      ts: "2026-11-24T20:00:07.000Z",
      latitude: 34.05,
      longitude: -118.24,
      seq: 7,
      speed: 3.5,
    });
  });
});

describe("encodeMessage", () => {
  it("sends a lone fix as an object", () => {
    const m = encodeMessage("truck-01", [fix(0)]);
    expect(m.count).toBe(1);
    expect(JSON.parse(m.payload)).toMatchObject({ seq: 0 });
  });

  it("sends a backlog as an array of at most 1000, oldest first, that the hub decodes", () => {
    const fixes = Array.from({ length: 1500 }, (_, i) => fix(i));
    const m = encodeMessage("truck-01", fixes);
    expect(m.count).toBe(1000);
    const decoded = decodeLocationMessage(locationTopic("truck-01"), m.payload);
    expect(decoded.rejects).toEqual([]);
    expect(decoded.fixes.map((f) => f.seq)).toEqual(fixes.slice(0, 1000).map((f) => f.seq));
    expect(decoded.fixes[999]?.ts).toBe(T0 + 999_000);
  });

  it("keeps a batch of long fixes within the payload limit", () => {
    const id = "v".repeat(64);
    const fixes = Array.from({ length: 1000 }, (_, i) =>
      fix(9_007_199_254_740_000 + i, {
        ts: T0 + i,
        // Seventeen significant digits each: the longest numbers JSON.stringify writes.
        latitude: -34 - 1 / 7,
        longitude: -118 - 1 / 7,
        speed: 12 + 1 / 7,
        heading: 359 + 1 / 7,
        accuracy: 12 + 1 / 7,
        altitude: -1234 - 1 / 7,
      }),
    );
    const m = encodeMessage(id, fixes);
    expect(m.count).toBeGreaterThan(500);
    expect(m.count).toBeLessThan(1000);
    expect(Buffer.byteLength(m.payload)).toBeLessThanOrEqual(DEFAULT_MAX_BYTES);
    const decoded = decodeLocationMessage(locationTopic(id), m.payload);
    expect(decoded.rejects).toEqual([]);
    expect(decoded.fixes).toHaveLength(m.count);
  });

  it("refuses an empty list", () => {
    expect(() => encodeMessage("a", [])).toThrow(RangeError);
  });
});

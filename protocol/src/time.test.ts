import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatTs, MAX_TS_MS, MIN_TS_MS, parseTs } from "./time.ts";

const T0 = Date.UTC(2026, 10, 24, 20, 0, 1); // 2026-11-24T20:00:01Z

describe("parseTs accepts", () => {
  it.each([
    ["2026-11-24T20:00:01Z", T0],
    ["2026-11-24T20:00:01.000Z", T0],
    ["2026-11-24t20:00:01z", T0],
    ["2026-11-24T20:00:01.5Z", T0 + 500],
    ["2026-11-24T20:00:01.12Z", T0 + 120],
    ["2026-11-24T20:00:01.123Z", T0 + 123],
    ["2026-11-24T20:00:01.1239999Z", T0 + 123],
    [`2026-11-24T20:00:01.${"9".repeat(40)}Z`, T0 + 999],
    ["2026-11-24T21:00:01+01:00", T0],
    ["2026-11-24T15:30:01-04:30", T0],
    ["2026-11-25T05:59:01+09:59", T0],
    ["2026-11-24T20:00:01+00:00", T0],
    ["2026-11-24T20:00:01-00:00", T0],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
    ["2000-02-29T00:00:00Z", Date.UTC(2000, 1, 29)],
    ["1970-01-01T00:00:00Z", 0],
    ["9999-12-31T23:59:59.999Z", MAX_TS_MS],
    ["2016-12-31T23:59:60Z", Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    ["2016-12-31T23:59:60.5Z", Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    ["2017-01-01T00:59:60+01:00", Date.UTC(2016, 11, 31, 23, 59, 59, 999)],
    [0, 0],
    [T0, T0],
    [MAX_TS_MS, MAX_TS_MS],
  ])("%j", (input, expected) => {
    expect(parseTs(input)).toBe(expected);
  });
});

describe("parseTs rejects", () => {
  it.each([
    "2026-11-24",
    "Nov 24 2026",
    "2026-11-24T20:00Z",
    "2026-11-24T20:00:01",
    "2026-11-24 20:00:01Z",
    "2026-11-24T20:00:01.Z",
    "2026-11-24T20:00:01.123",
    "2026-11-24T20:00:01+0100",
    "2026-11-24T20:00:01+01",
    "2026-11-24T20:00:01+24:00",
    "2026-11-24T20:00:01+01:60",
    "2026-11-24T20:00:01Z ",
    " 2026-11-24T20:00:01Z",
    "2026-11-24T20:00:01ZZ",
    "2026-11-24T24:00:00Z",
    "2026-11-24T20:60:00Z",
    "2026-11-24T20:00:61Z",
    "2026-11-24T20:00:60Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-11-31T00:00:00Z",
    "2026-11-00T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "+02026-11-24T20:00:01Z",
    "26-11-24T20:00:01Z",
    "2026/11/24T20:00:01Z",
    "2026-11-24T20:00:01.000+01:00x",
    "1969-12-31T23:59:59.999Z",
    "0099-01-01T00:00:00Z",
    "1970-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59-00:01",
    "２０２６-11-24T20:00:01Z",
    "",
    -1,
    1.5,
    MAX_TS_MS + 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    8.64e15,
    null,
    undefined,
    true,
    {},
    [],
    "1732478401000",
  ])("%j", (input) => {
    expect(parseTs(input)).toBeNull();
  });
});

describe("formatTs", () => {
  it("writes RFC 3339 UTC with milliseconds", () => {
    expect(formatTs(T0)).toBe("2026-11-24T20:00:01.000Z");
    expect(formatTs(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(formatTs(MAX_TS_MS)).toBe("9999-12-31T23:59:59.999Z");
  });

  it("round-trips every accepted time", () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_TS_MS, max: MAX_TS_MS }), (ms) => {
        expect(parseTs(formatTs(ms))).toBe(ms);
      }),
    );
  });

  it("reads any offset back to the same UTC instant, as Date.parse does", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(9998, 0, 1) }),
        fc.constantFrom(1, -1),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        (ms, sign, h, m) => {
          const offsetMinutes = sign * (h * 60 + m);
          const local = formatTs(ms + offsetMinutes * 60_000).slice(0, -1);
          const pad = (n: number) => String(n).padStart(2, "0");
          const text = `${local}${sign > 0 ? "+" : "-"}${pad(h)}:${pad(m)}`;
          expect(parseTs(text)).toBe(ms);
          expect(Date.parse(text)).toBe(ms);
        },
      ),
    );
  });
});

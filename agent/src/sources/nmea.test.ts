import fs from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DRIVE_FILE,
  DRIVE_SECONDS,
  driveEpochs,
  driveLog,
} from "../../../tests/fixtures/nmea-drive.ts";
import type { SourceFix } from "./fix.ts";
import { HDOP_METRES, NmeaDecoder, parseNmeaSentence } from "./nmea.ts";

/** Appends the `*hh` checksum to a sentence body given without `$`. */
function nmea(body: string): string {
  let sum = 0;
  for (const ch of body) sum ^= ch.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, "0")}`;
}

function decode(lines: string[], now?: number) {
  const invalid: string[] = [];
  const decoder = new NmeaDecoder({
    onInvalid: (r) => invalid.push(r),
    ...(now === undefined ? {} : { now: () => now }),
  });
  const fixes: SourceFix[] = [];
  for (const line of lines) fixes.push(...decoder.push(line));
  fixes.push(...decoder.end());
  return { fixes, invalid };
}

const KNOT = 1852 / 3600;

describe("parseNmeaSentence", () => {
  it.each([
    {
      name: "RMC (classic example)",
      line: "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
      want: {
        type: "RMC",
        msOfDay: (12 * 3600 + 35 * 60 + 19) * 1000,
        latitude: 48.1173,
        longitude: 11.516666667,
        day: Date.UTC(1994, 2, 23) / 86_400_000,
        speed: 22.4 * KNOT,
        heading: 84.4,
      },
    },
    {
      name: "GGA (classic example)",
      line: "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
      want: {
        type: "GGA",
        msOfDay: (12 * 3600 + 35 * 60 + 19) * 1000,
        latitude: 48.1173,
        longitude: 11.516666667,
        accuracy: 0.9 * HDOP_METRES,
        altitude: 545.4,
      },
    },
    {
      name: "RMC west, with NMEA 2.3 mode and fractional seconds",
      line: "$GPRMC,092750.000,A,5321.6802,N,00630.3372,W,0.02,31.66,280511,,,A*43",
      want: {
        type: "RMC",
        msOfDay: (9 * 3600 + 27 * 60 + 50) * 1000,
        latitude: 53.361336667,
        longitude: -6.50562,
        day: Date.UTC(2011, 4, 28) / 86_400_000,
        speed: 0.02 * KNOT,
        heading: 31.66,
      },
    },
    {
      name: "GGA with DGPS quality and a reference station id",
      line: nmea("GPGGA,092750.000,5321.6802,N,00630.3372,W,2,8,1.03,61.7,M,55.2,M,0.8,0120"),
      want: {
        type: "GGA",
        latitude: 53.361336667,
        longitude: -6.50562,
        accuracy: 1.03 * HDOP_METRES,
        altitude: 61.7,
      },
    },
    {
      name: "GNSS talker GN, southern and eastern hemispheres",
      line: nmea("GNRMC,000000.50,A,3351.5520,S,15112.6830,E,0.000,,010126,,,D"),
      want: {
        type: "RMC",
        msOfDay: 500,
        latitude: -(33 + 51.552 / 60),
        longitude: 151 + 12.683 / 60,
        day: Date.UTC(2026, 0, 1) / 86_400_000,
        speed: 0,
      },
    },
    {
      name: "BeiDou talker BD, no altitude",
      line: nmea("BDGGA,101010,0000.0000,N,00000.0000,E,1,05,2.0,,,,,,"),
      want: { type: "GGA", latitude: 0, longitude: 0, accuracy: 2 * HDOP_METRES },
    },
    {
      name: "a lower-case checksum",
      line: "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6a",
      want: { type: "RMC", latitude: 48.1173 },
    },
  ])("reads $name", ({ line, want }) => {
    const got = parseNmeaSentence(line);
    expect(got).toMatchObject(
      Object.fromEntries(
        Object.entries(want).map(([k, v]) => [
          k,
          typeof v === "number" && !Number.isInteger(v) ? expect.closeTo(v, 9) : v,
        ]),
      ),
    );
  });

  it.each([
    ["blank line", "", null],
    ["other sentence type", nmea("GPGSV,3,1,09,04,62,042,40"), null],
    ["proprietary sentence", nmea("PUBX,00,123519"), null],
    [
      "RMC with a wrong checksum",
      "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6B",
      "RMC bad checksum",
    ],
    [
      "GGA with a changed digit",
      "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.5,M,46.9,M,,*47",
      "GGA bad checksum",
    ],
    [
      "RMC without checksum",
      "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",
      "RMC without checksum",
    ],
    [
      "malformed checksum",
      "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6",
      "RMC malformed checksum",
    ],
    ["RMC status V", nmea("GPRMC,235947.000,V,,,,,,,041299,,,N"), "RMC status V (no fix)"],
    [
      "RMC status A but mode N",
      nmea("GNRMC,120000,A,4807.038,N,01131.000,E,0.0,,241126,,,N"),
      "RMC mode N (no fix)",
    ],
    ["GGA quality 0", nmea("GPGGA,123519,,,,,0,00,99.99,,,,,,"), "GGA fix quality 0 (no fix)"],
    [
      "GGA quality not a digit",
      nmea("GPGGA,123519,4807.038,N,01131.000,E,X,08,0.9,545.4,M,,,,"),
      "GGA bad fix quality",
    ],
    ["bad time", nmea("GPRMC,256000,A,4807.038,N,01131.000,E,0.0,0.0,230394,,"), "RMC bad time"],
    ["bad date", nmea("GPRMC,123519,A,4807.038,N,01131.000,E,0.0,0.0,310494,,"), "RMC bad date"],
    [
      "minutes of 60",
      nmea("GPRMC,123519,A,4860.000,N,01131.000,E,0.0,0.0,230394,,"),
      "RMC bad position",
    ],
    [
      "latitude beyond 90",
      nmea("GPGGA,123519,9100.000,N,01131.000,E,1,08,0.9,545.4,M,,,,"),
      "GGA bad position",
    ],
    [
      "missing hemisphere",
      nmea("GPGGA,123519,4807.038,,01131.000,E,1,08,0.9,545.4,M,,,,"),
      "GGA bad position",
    ],
    [
      "negative speed",
      nmea("GPRMC,123519,A,4807.038,N,01131.000,E,-1.0,0.0,230394,,"),
      "RMC bad speed",
    ],
    [
      "course beyond 360",
      nmea("GPRMC,123519,A,4807.038,N,01131.000,E,1.0,361.0,230394,,"),
      "RMC bad course",
    ],
    ["too few fields", nmea("GPRMC,123519,A,4807.038,N"), "RMC too few fields"],
    [
      "altitude in feet",
      nmea("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,F,,,,"),
      "GGA altitude not in metres",
    ],
  ])("rejects %s", (_name, line, reason) => {
    const got = parseNmeaSentence(line);
    if (reason === null) expect(got).toBeNull();
    else expect(got).toMatchObject({ invalid: reason });
  });

  it("says when a line is not a sentence at all", () => {
    expect(parseNmeaSentence("hello")).toBe("not an NMEA sentence");
  });
});

describe("NmeaDecoder", () => {
  const rmc = (time: string, date = "241126", lat = "3403.0000") =>
    nmea(`GPRMC,${time},A,${lat},N,11814.0000,W,10.0,90.0,${date},,,A`);
  const gga = (time: string, lat = "3403.0000") =>
    nmea(`GPGGA,${time},${lat},N,11814.0000,W,1,09,1.0,100.0,M,-34.2,M,,`);

  it("merges RMC and GGA of one epoch into one fix", () => {
    const { fixes, invalid } = decode([rmc("200000.00"), gga("200000.00")]);
    expect(invalid).toEqual([]);
    expect(fixes).toEqual([
      {
        latitude: 34.05,
        longitude: -118.233333333,
        ts: Date.parse("2026-11-24T20:00:00Z"),
        speed: expect.closeTo(10 * KNOT, 9),
        heading: 90,
        accuracy: HDOP_METRES,
        altitude: 100,
      },
    ]);
  });

  it("emits an epoch as soon as it is complete, once the receiver's sentences are known", () => {
    const decoder = new NmeaDecoder();
    expect(decoder.push(rmc("200000"))).toEqual([]);
    expect(decoder.push(gga("200000"))).toEqual([]); // first epoch: sentence set not known yet
    expect(decoder.push(rmc("200001"))).toHaveLength(1); // ... until the next epoch begins
    expect(decoder.push(gga("200001"))).toHaveLength(1); // from now on: at once
    expect(decoder.push(nmea("GPGSA,A,3,04,05,,,,,,,,,,,1.8,1.0,1.5"))).toEqual([]);
    expect(decoder.push(rmc("200002"))).toEqual([]);
    expect(decoder.push(gga("200002"))).toHaveLength(1);
    expect(decoder.end()).toEqual([]);
  });

  it("works for GGA before RMC, and for a receiver sending RMC only", () => {
    const ggaFirst = decode([gga("200000"), rmc("200000"), gga("200001"), rmc("200001")]);
    expect(ggaFirst.fixes.map((f) => [f.ts, f.speed !== undefined, f.altitude])).toEqual([
      [Date.parse("2026-11-24T20:00:00Z"), true, 100],
      [Date.parse("2026-11-24T20:00:01Z"), true, 100],
    ]);
    const decoder = new NmeaDecoder();
    expect(decoder.push(rmc("200000"))).toEqual([]);
    // The second epoch shows RMC is all there is: both epochs come out.
    expect(decoder.push(rmc("200001"))).toHaveLength(2);
    expect(decoder.push(rmc("200002"))).toHaveLength(1);
  });

  it("keeps the valid half of an epoch whose other sentence is invalid", () => {
    const badGga = "$GPGGA,200001,3403.0000,N,11814.0000,W,1,09,1.0,100.0,M,-34.2,M,,*00";
    const { fixes, invalid } = decode([
      rmc("200000"),
      gga("200000"),
      rmc("200001"),
      badGga,
      rmc("200002"),
      nmea("GPGGA,200002,,,,,0,00,99.9,,,,,,"),
    ]);
    expect(fixes.map((f) => [f.ts, f.altitude])).toEqual([
      [Date.parse("2026-11-24T20:00:00Z"), 100],
      [Date.parse("2026-11-24T20:00:01Z"), undefined],
      [Date.parse("2026-11-24T20:00:02Z"), undefined],
    ]);
    expect(invalid).toEqual(["GGA bad checksum", "GGA fix quality 0 (no fix)"]);
  });

  it("moves GGA-only epochs to the next day after midnight", () => {
    const { fixes } = decode([
      rmc("235958", "311226"),
      gga("235958"),
      gga("235959"),
      gga("000000"),
      gga("000001"),
      rmc("000002", "010127"),
      gga("000002"),
    ]);
    expect(fixes.map((f) => new Date(f.ts ?? 0).toISOString())).toEqual([
      "2026-12-31T23:59:58.000Z",
      "2026-12-31T23:59:59.000Z",
      "2027-01-01T00:00:00.000Z",
      "2027-01-01T00:00:01.000Z",
      "2027-01-01T00:00:02.000Z",
    ]);
  });

  it("never dates GGA by the agent's clock: without any RMC, no fix comes out", () => {
    const { fixes, invalid } = decode(
      [gga("115959"), gga("120000")],
      Date.parse("2026-11-24T12:00:01Z"),
    );
    expect(fixes).toEqual([]);
    expect(invalid).toEqual([
      "GGA fix dropped: the input ended before the receiver sent its date (RMC)",
      "GGA fix dropped: the input ended before the receiver sent its date (RMC)",
    ]);
  });

  it("reads a leap second as the last millisecond before it", () => {
    const { fixes } = decode([rmc("235960", "311216")]);
    expect(fixes[0]?.ts).toBe(Date.parse("2016-12-31T23:59:59.999Z"));
  });

  it("decodes the drive log fixture: one fix per second, cold start counted as invalid", () => {
    const text = fs.readFileSync(DRIVE_FILE, "utf8");
    expect(text).toBe(driveLog()); // the committed log is the generator's output
    const { fixes, invalid } = decode(text.split("\n"));
    const epochs = driveEpochs();
    expect(fixes).toHaveLength(DRIVE_SECONDS);
    fixes.forEach((fix, i) => {
      const e = epochs[i];
      expect(e).toBeDefined();
      if (!e) return;
      expect(fix.ts).toBe(e.ts);
      expect(fix.latitude).toBeCloseTo(e.latitude, 8);
      expect(fix.longitude).toBeCloseTo(e.longitude, 8);
      expect(fix.speed).toBeCloseTo(e.speed, 9);
      expect(fix.heading).toBe(e.heading);
      expect(fix.altitude).toBe(e.altitude);
      expect(fix.accuracy).toBeCloseTo(e.hdop * HDOP_METRES, 9);
    });
    expect(invalid).toHaveLength(20);
    expect(new Set(invalid)).toEqual(
      new Set(["RMC status V (no fix)", "GGA fix quality 0 (no fix)"]),
    );
  });
});

describe("NmeaDecoder properties", () => {
  const field = fc.oneof(
    fc.constantFrom("", "A", "V", "N", "S", "E", "W", "M", "0", "1", "6", "-1", "360.1"),
    fc.stringMatching(/^[0-9]{1,10}(\.[0-9]{0,6})?$/),
    fc.string({ maxLength: 8 }),
  );
  // Sentences that pass the checksum, so the field checks are exercised, not only the checksum.
  const sentenceLike = fc
    .tuple(
      fc.constantFrom("GP", "GN", "GL", "GA", "BD", "P", ""),
      fc.constantFrom("RMC", "GGA", "GSV", "RM"),
      fc.array(field, { maxLength: 16 }),
    )
    .map(([talker, type, fields]) => nmea([`${talker}${type}`, ...fields].join(",")));
  const line = fc.oneof(sentenceLike, fc.string(), fc.string({ unit: "binary" }));

  it("never throws and only emits fixes within range", () => {
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 30 }),
        fc.integer({ min: 0, max: 4e12 }),
        (lines, now) => {
          const { fixes } = decode(lines, now);
          for (const f of fixes) {
            expect(f.latitude).toBeGreaterThanOrEqual(-90);
            expect(f.latitude).toBeLessThanOrEqual(90);
            expect(f.longitude).toBeGreaterThanOrEqual(-180);
            expect(f.longitude).toBeLessThanOrEqual(180);
            expect(Number.isSafeInteger(f.ts)).toBe(true);
            if (f.speed !== undefined) expect(f.speed).toBeGreaterThanOrEqual(0);
            if (f.heading !== undefined) expect(f.heading >= 0 && f.heading <= 360).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

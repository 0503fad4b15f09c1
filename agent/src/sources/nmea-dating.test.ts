// How the NMEA decoder dates and merges epochs: never by the agent's clock, GGA held for the
// receiver's first date (within bounds), midnight, time going back, GPS week rollover, fix lost
// and regained, every talker, 1 to 10 Hz. Synthetic sentences; expected times worked out by hand.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HOLD_EPOCHS, HOLD_MS, NmeaDecoder, ROLLOVER_DAYS } from "./nmea.ts";

/** A sentence with its checksum, from its body without `$`. */
function nmea(body: string): string {
  let sum = 0;
  for (const ch of body) sum ^= ch.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, "0")}`;
}

const rmc = (time: string, date: string, talker = "GP", status = "A") =>
  nmea(`${talker}RMC,${time},${status},4807.0380,N,01131.0000,E,10.0,90.0,${date},,,A`);
const gga = (time: string, talker = "GP", quality = "1") =>
  nmea(`${talker}GGA,${time},4807.0380,N,01131.0000,E,${quality},08,0.9,545.4,M,46.9,M,,`);

/** The agent's clock in these tests: far from every date below, unless a test says otherwise. */
const NOW = Date.parse("2026-12-06T18:00:00Z");

function decode(lines: string[], now = NOW) {
  const invalid: string[] = [];
  const decoder = new NmeaDecoder({ onInvalid: (r) => invalid.push(r), now: () => now });
  const fixes = lines.flatMap((l) => decoder.push(l)).concat(decoder.end());
  return { times: fixes.map((f) => new Date(f.ts ?? 0).toISOString()), fixes, invalid };
}

/** hhmmss.ss for a second count after midnight. */
function hms(seconds: number): string {
  const s = Math.round(seconds * 100) / 100;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = (s % 60).toFixed(2).padStart(5, "0");
  return `${String(h).padStart(2, "0")}${String(m).padStart(2, "0")}${sec}`;
}

describe("GGA before the receiver's first date", () => {
  it("is held and dated by the RMC that follows, not by the clock (a replayed 2015 log)", () => {
    const { times, fixes, invalid } = decode([
      gga("120000.00"),
      gga("120001.00"),
      rmc("120001.00", "250215"),
      gga("120002.00"),
      rmc("120002.00", "250215"),
    ]);
    expect(times).toEqual([
      "2015-02-25T12:00:00.000Z",
      "2015-02-25T12:00:01.000Z",
      "2015-02-25T12:00:02.000Z",
    ]);
    expect(fixes[0]?.speed).toBeUndefined(); // the held epoch had no RMC
    expect(fixes[1]?.speed).toBeCloseTo((10 * 1852) / 3600, 9);
    expect(invalid).toEqual([]);
  });

  it("takes the day before when the first RMC comes after midnight", () => {
    const { times } = decode([gga("235959.50"), rmc("000000.50", "010127"), gga("000000.50")]);
    expect(times).toEqual(["2026-12-31T23:59:59.500Z", "2027-01-01T00:00:00.500Z"]);
  });

  it(`keeps at most ${HOLD_MS / 1000} s of receiver time; older epochs are dropped and reported`, () => {
    const lines = [];
    for (let s = 0; s < 12; s++) lines.push(gga(hms(43_200 + s)));
    lines.push(rmc(hms(43_212), "061226"), gga(hms(43_212)));
    const { times, invalid } = decode(lines);
    // 12:00:00 is 11 s before 12:00:11, the newest held epoch: dropped. 12:00:01 is 10 s: kept.
    expect(times[0]).toBe("2026-12-06T12:00:01.000Z");
    expect(times).toHaveLength(12);
    expect(invalid).toEqual([
      "GGA fix dropped: no date from the receiver (RMC) within 10 s; make sure it sends RMC",
    ]);
  });

  it(`keeps at most ${HOLD_EPOCHS} epochs (10 Hz)`, () => {
    const lines = [];
    for (let i = 0; i < 120; i++) lines.push(gga(hms(43_200 + i / 10)));
    lines.push(rmc(hms(43_212), "061226"), gga(hms(43_212)));
    const { times, invalid } = decode(lines);
    expect(times).toHaveLength(HOLD_EPOCHS + 1);
    expect(times[0]).toBe("2026-12-06T12:00:02.000Z");
    expect(invalid).toHaveLength(20);
  });

  it("a GGA-only receiver gives no fixes, each one reported", () => {
    const { times, invalid } = decode([gga("120000"), gga("120001"), gga("120002")]);
    expect(times).toEqual([]);
    expect(invalid).toEqual(
      Array(3).fill("GGA fix dropped: the input ended before the receiver sent its date (RMC)"),
    );
  });
});

describe("dates once known", () => {
  it("a GGA at 00:00:01 after an RMC of yesterday 23:59:59 is today", () => {
    const { times } = decode([
      rmc("235959", "311226"),
      gga("235959"),
      gga("000000"), // the RMC of these epochs was lost
      gga("000001"),
    ]);
    expect(times).toEqual([
      "2026-12-31T23:59:59.000Z",
      "2027-01-01T00:00:00.000Z",
      "2027-01-01T00:00:01.000Z",
    ]);
  });

  it("time jumping back is reported as the receiver says, RMC or GGA", () => {
    const { times } = decode([
      rmc("120005", "061226"),
      gga("120005"),
      rmc("120002", "061226"),
      gga("120002"),
      gga("120001"),
      rmc("120006", "061226"),
      gga("120006"),
    ]);
    expect(times).toEqual([
      "2026-12-06T12:00:05.000Z",
      "2026-12-06T12:00:02.000Z",
      "2026-12-06T12:00:01.000Z",
      "2026-12-06T12:00:06.000Z",
    ]);
  });

  it("fix lost (status V, quality 0) and regained: only fixes come out, the rest is counted", () => {
    const lines = [rmc("120000", "061226"), gga("120000")];
    for (const t of ["120001", "120002", "120003"]) {
      lines.push(rmc(t, "061226", "GP", "V"), gga(t, "GP", "0"));
    }
    lines.push(rmc("120004", "061226"), gga("120004"));
    const { times, invalid } = decode(lines);
    expect(times).toEqual(["2026-12-06T12:00:00.000Z", "2026-12-06T12:00:04.000Z"]);
    expect(invalid).toEqual(
      Array(3).fill(["RMC status V (no fix)", "GGA fix quality 0 (no fix)"]).flat(),
    );
  });
});

describe("GPS week rollover", () => {
  const at = (date: Date) => {
    const dd = String(date.getUTCDate()).padStart(2, "0");
    const mm = String(date.getUTCMonth() + 1).padStart(2, "0");
    return `${dd}${mm}${String(date.getUTCFullYear() % 100).padStart(2, "0")}`;
  };
  const behind = (days: number) => new Date(NOW - days * 86_400_000);

  it("a date 1024 or 2048 weeks behind the clock is moved on to it", () => {
    for (const weeks of [1, 2]) {
      const { times } = decode([rmc("180000", at(behind(weeks * ROLLOVER_DAYS)))]);
      expect(times).toEqual(["2026-12-06T18:00:00.000Z"]);
    }
  });

  it("GGA-only epochs after it follow the corrected date", () => {
    const { times } = decode([
      rmc("175959", at(behind(ROLLOVER_DAYS))),
      gga("175959"),
      gga("180000"),
    ]);
    expect(times).toEqual(["2026-12-06T17:59:59.000Z", "2026-12-06T18:00:00.000Z"]);
  });

  it("a date 1024 weeks and some days behind is an old log: kept as sent", () => {
    const old = behind(ROLLOVER_DAYS + 5);
    const { times } = decode([rmc("180000", at(old))]);
    expect(times).toEqual([`${old.toISOString().slice(0, 10)}T18:00:00.000Z`]);
  });
});

describe("talkers and rates", () => {
  it.each(["GP", "GN", "GL", "GA", "BD", "GB", "IN", "QZ"])("reads talker %s", (talker) => {
    const { times, fixes } = decode([rmc("120000", "061226", talker), gga("120000", talker)]);
    expect(times).toEqual(["2026-12-06T12:00:00.000Z"]);
    expect(fixes[0]).toMatchObject({ altitude: 545.4, heading: 90 });
  });

  it("merges an epoch whose sentences come from different talkers (GPGGA with GNRMC)", () => {
    const { fixes } = decode([gga("120000", "GP"), rmc("120000", "061226", "GN")]);
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({ altitude: 545.4, heading: 90 });
  });

  it.each([1, 2, 5, 10])("%i Hz: one fix per epoch, each with its own time", (hz) => {
    const lines = [];
    for (let i = 0; i < 2 * hz; i++) {
      const t = hms(43_200 + i / hz);
      lines.push(rmc(t, "061226"), gga(t));
    }
    const { times, fixes } = decode(lines);
    expect(times).toEqual(
      Array.from({ length: 2 * hz }, (_, i) =>
        new Date(Date.UTC(2026, 11, 6, 12) + (i * 1000) / hz).toISOString(),
      ),
    );
    expect(fixes.every((f) => f.altitude === 545.4 && f.heading === 90)).toBe(true);
  });

  it("GGA at 5 Hz with RMC at 1 Hz: the GGA-only epochs take the RMC's date", () => {
    const lines = [];
    for (let i = 0; i < 10; i++) {
      const t = hms(43_200 + i / 5);
      if (i % 5 === 0) lines.push(rmc(t, "061226"));
      lines.push(gga(t));
    }
    const { times, fixes } = decode(lines);
    expect(times).toHaveLength(10);
    expect(times[9]).toBe("2026-12-06T12:00:01.800Z");
    expect(fixes.map((f) => f.speed !== undefined)).toEqual([
      ...[true, false, false, false, false],
      ...[true, false, false, false, false],
    ]);
  });
});

describe("the clock never dates a fix", () => {
  it("the same sentences give the same fixes whatever the clock says", () => {
    const time = fc.integer({ min: 0, max: 86_399 }).map((s) => hms(s));
    const date = fc
      .date({ min: new Date("1980-01-01"), max: new Date("2079-12-31"), noInvalidDate: true })
      .map((d) => {
        const dd = String(d.getUTCDate()).padStart(2, "0");
        const mm = String(d.getUTCMonth() + 1).padStart(2, "0");
        return `${dd}${mm}${String(d.getUTCFullYear() % 100).padStart(2, "0")}`;
      });
    const sentence = fc.oneof(
      fc.tuple(time, date, fc.constantFrom("A", "V")).map(([t, d, st]) => rmc(t, d, "GN", st)),
      fc.tuple(time, fc.constantFrom("0", "1", "2")).map(([t, q]) => gga(t, "GP", q)),
    );
    // Clocks no RMC date (1980-2079, + 1024 or 2048 weeks: up to 2139) can match as a rollover.
    const clock = fc.oneof(
      fc.integer({ min: 0, max: Date.UTC(1979, 0) }),
      fc.integer({ min: Date.UTC(2141, 0), max: Date.UTC(2200, 0) }),
    );
    fc.assert(
      fc.property(fc.array(sentence, { maxLength: 40 }), clock, clock, (lines, a, b) => {
        const first = decode(lines, a);
        expect(decode(lines, b).fixes).toEqual(first.fixes);
        if (!lines.some((l) => l.includes("RMC") && l.includes(",A,"))) {
          expect(first.fixes).toEqual([]);
        }
      }),
      { numRuns: 500 },
    );
  });
});

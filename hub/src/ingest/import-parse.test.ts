import { describe, expect, it } from "vitest";
import { ImportError, parseImport } from "./import-parse.ts";

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const OPTIONS = { receivedAt: NOW, notAfter: NOW + 600_000, maxBytes: 16 * 1024 * 1024 };
const iso = (s: number) => new Date(Date.UTC(2026, 11, 1, 8, 0, s)).toISOString();

function gpxFile(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="GPSLogger" xmlns="http://www.topografix.com/GPX/1/1">
${body}
</gpx>`;
}

function thrown(fn: () => unknown): ImportError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ImportError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("GPX imports", () => {
  it("reads track points (two segments), waypoints and elevation", () => {
    const r = parseImport(
      "gpx",
      gpxFile(`<wpt lat="52.5" lon="13.4"><time>${iso(100)}</time><name>depot</name></wpt>
<trk><name>morning</name>
<trkseg><trkpt lat="52.51" lon="13.41"><ele>40.5</ele><time>${iso(0)}</time></trkpt>
<trkpt lat="52.52" lon="13.42"><ele>41</ele><time>${iso(10)}</time></trkpt></trkseg>
<trkseg><trkpt lat="52.53" lon="13.43"><time>${iso(20)}</time></trkpt>
<trkpt lat="52.54" lon="13.44"></trkpt></trkseg></trk>`),
      "van-1",
      OPTIONS,
    );
    expect(r.fixes.map((f) => [f.latitude, f.longitude, f.ts, f.altitude])).toEqual([
      [52.51, 13.41, Date.parse(iso(0)), 40.5],
      [52.52, 13.42, Date.parse(iso(10)), 41],
      [52.53, 13.43, Date.parse(iso(20)), undefined],
      [52.5, 13.4, Date.parse(iso(100)), undefined],
    ]);
    // The point without a time is refused by its place among the points.
    expect(r.rejected).toEqual([{ index: 3, reason: "missing_ts" }]);
    expect(r.fixes.every((f) => f.vehicle_id === "van-1" && f.ts_given)).toBe(true);
  });

  it.each([
    ["not XML at all", "hello"],
    ["unclosed", "<gpx><trk>"],
    ["another root", "<kml><Placemark/></kml>"],
    ["no points", gpxFile("<metadata><name>x</name></metadata>")],
  ])("refuses %s with 400", (_what, text) => {
    expect(thrown(() => parseImport("gpx", text, "v", OPTIONS)).status).toBe(400);
  });

  it("does not expand entities (a billion laughs stays small)", () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><gpx><wpt lat="1" lon="2"><name>&c;</name><time>${iso(0)}</time></wpt></gpx>`;
    let result: unknown;
    try {
      result = parseImport("gpx", bomb, "v", OPTIONS);
    } catch (err) {
      result = err;
    }
    expect(
      result instanceof ImportError || (result as { fixes: unknown[] }).fixes.length === 1,
    ).toBe(true);
  });
});

describe("GeoJSON imports", () => {
  it("reads Points with properties.ts and a LineString with coordinateProperties.times", () => {
    const r = parseImport(
      "geojson",
      JSON.stringify({
        type: "FeatureCollection",
        features: [
          {
            type: "Feature",
            properties: { ts: iso(0), speed: 3, heading: 90 },
            geometry: { type: "Point", coordinates: [13.4, 52.5, 30] },
          },
          {
            type: "Feature",
            properties: { ts: Date.parse(iso(5)) },
            geometry: { type: "Point", coordinates: [13.41, 52.51] },
          },
          {
            type: "Feature",
            properties: { coordinateProperties: { times: [iso(10), iso(20), "garbage"] } },
            geometry: {
              type: "LineString",
              coordinates: [
                [13.42, 52.52],
                [13.43, 52.53],
                [13.44, 52.54],
              ],
            },
          },
          {
            type: "Feature",
            properties: { times: [iso(30), iso(40)] },
            geometry: {
              type: "LineString",
              coordinates: [
                [13.45, 52.55],
                [200, 1],
              ],
            },
          },
          { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [] } },
          { type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [1, 2] } },
        ],
      }),
      "van-1",
      OPTIONS,
    );
    expect(r.fixes.map((f) => f.ts)).toEqual(
      [iso(0), iso(5), iso(10), iso(20), iso(30)].map(Date.parse),
    );
    expect(r.fixes[0]).toMatchObject({ speed: 3, heading: 90, altitude: 30 });
    expect(r.rejected).toEqual([
      { index: 4, reason: "invalid_ts" },
      { index: 6, reason: "invalid_longitude" },
      { index: 7, reason: "unsupported_geometry" },
      { index: 8, reason: "missing_ts" },
    ]);
  });

  it("refuses a time beyond LOCUS_MAX_FUTURE_S as future_ts", () => {
    const r = parseImport(
      "geojson",
      JSON.stringify({
        type: "Feature",
        properties: { ts: new Date(NOW + 3_600_000).toISOString() },
        geometry: { type: "Point", coordinates: [1, 2] },
      }),
      "v",
      OPTIONS,
    );
    expect(r.rejected).toEqual([{ index: 0, reason: "future_ts" }]);
  });

  it.each([
    ["{", 400],
    ["[]", 400],
    ['{"type":"Polygon","coordinates":[]}', 400],
    ['{"type":"FeatureCollection"}', 400],
    ['{"type":"FeatureCollection","features":[]}', 400],
  ])("refuses %s", (text, status) => {
    expect(thrown(() => parseImport("geojson", text, "v", OPTIONS)).status).toBe(status);
  });

  it("refuses more points than the limit with 413", () => {
    const features = Array.from({ length: 11 }, (_, i) => ({
      type: "Feature",
      properties: { ts: iso(i) },
      geometry: { type: "Point", coordinates: [1, 2] },
    }));
    const text = JSON.stringify({ type: "FeatureCollection", features });
    expect(
      thrown(() => parseImport("geojson", text, "v", { ...OPTIONS, maxPoints: 10 })).status,
    ).toBe(413);
  });
});

describe("JSON array imports", () => {
  it("reads §3 fixes and reports the bad ones by index", () => {
    const r = parseImport(
      "json",
      JSON.stringify([
        { latitude: 1, longitude: 2, ts: iso(0), seq: 7 },
        { latitude: 100, longitude: 2, ts: iso(1) },
        { latitude: 1, longitude: 2, ts: iso(2), vehicle_id: "other" },
      ]),
      "van-1",
      OPTIONS,
    );
    expect(r.fixes).toHaveLength(1);
    expect(r.fixes[0]).toMatchObject({ vehicle_id: "van-1", seq: 7 });
    expect(r.rejected).toEqual([
      { index: 1, reason: "invalid_latitude" },
      { index: 2, reason: "vehicle_id_mismatch" },
    ]);
  });

  it.each(['{"latitude":1}', "[", "[]", "5"])("refuses %s with 400", (text) => {
    expect(thrown(() => parseImport("json", text, "v", OPTIONS)).status).toBe(400);
  });

  it("refuses more fixes than the limit with 413", () => {
    const text = JSON.stringify(Array.from({ length: 11 }, () => ({ latitude: 1, longitude: 2 })));
    expect(thrown(() => parseImport("json", text, "v", { ...OPTIONS, maxPoints: 10 })).status).toBe(
      413,
    );
  });

  it("never throws anything but ImportError on mangled input", () => {
    const samples = [
      JSON.stringify([{ latitude: 1, longitude: 2, ts: iso(0) }]),
      JSON.stringify({
        type: "Feature",
        properties: { ts: iso(0) },
        geometry: { type: "Point", coordinates: [1, 2] },
      }),
    ];
    let seed = 11;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 1000; i++) {
      const chars = [...(samples[i % 2] as string)];
      for (let k = 0; k < 1 + (next() % 3); k++)
        chars[next() % chars.length] = String.fromCharCode(next() % 128);
      try {
        parseImport(i % 2 === 0 ? "json" : "geojson", chars.join(""), "v", OPTIONS);
      } catch (err) {
        expect(err).toBeInstanceOf(ImportError);
      }
    }
  });
});

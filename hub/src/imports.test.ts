// Imports against a real embedded hub (CONTRACT §5 POST /api/v1/vehicles/{id}/locations): GPX,
// GeoJSON and JSON arrays, judged by §4 (a history older than the vehicle's newest fix is stored
// without events; a newer one gives events), an admin token required, clear 4xx answers, and live
// MQTT fixes acknowledged while a large import is still being written.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../tests/support/hub-process.ts";
import { loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";

const TOKEN = "test-token-0123456789abcdef";
const BASE = Date.now() - 86_400_000;
const iso = (s: number) => new Date(BASE + s * 1000).toISOString();
const FENCE = {
  type: "Feature",
  properties: { name: "yard" },
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [10, 50],
        [10.1, 50],
        [10.1, 50.1],
        [10, 50.1],
        [10, 50],
      ],
    ],
  },
};
const INSIDE = [10.05, 50.05];
const OUTSIDE = [11, 51];

let dir: string;
let hub: Hub;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-imports-"));
  hub = await startHub(
    loadConfig({
      LOCUS_DATA_DIR: dir,
      LOCUS_HTTP_PORT: "0",
      LOCUS_MQTT_PORT: "0",
      LOCUS_API_TOKEN: TOKEN,
      LOCUS_OUTBOX_GRACE_MS: "0",
    }),
    pino({ level: "silent" }),
  );
  expect((await api(hub, "POST", "/api/v1/geofences", FENCE)).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await hub?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function importBody(id: string, type: string, body: string, token = TOKEN) {
  const res = await fetch(`${hub.httpUrl}/api/v1/vehicles/${id}/locations`, {
    method: "POST",
    headers: { "content-type": type, authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function history(id: string): Promise<{ ts: string }[]> {
  return (await api(hub, "GET", `/api/v1/vehicles/${id}/locations?limit=10000`)).body.locations;
}

async function eventTypes(id: string): Promise<string[]> {
  const r = await api(hub, "GET", `/api/v1/events?vehicle_id=${id}&limit=1000`);
  return r.body.events.map((e: { type: string }) => e.type);
}

function gpx(points: { at: number[]; s: number }[]): string {
  const pts = points
    .map(
      (p) =>
        `<trkpt lat="${p.at[1]}" lon="${p.at[0]}"><ele>120</ele><time>${iso(p.s)}</time></trkpt>`,
    )
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="OsmAnd" xmlns="http://www.topografix.com/GPX/1/1">
<trk><name>trip</name><trkseg>
${pts}
</trkseg></trk></gpx>`;
}

describe("imports", () => {
  it("a GPX trip of a new vehicle is stored and evented in order; the same file again changes nothing", async () => {
    const trip = gpx([
      { at: OUTSIDE, s: 0 },
      { at: INSIDE, s: 10 },
      { at: OUTSIDE, s: 20 },
    ]);
    const first = await importBody("gpx-1", "application/gpx+xml", trip);
    expect(first).toEqual({ status: 200, body: { accepted: 3, rejected: [] } });
    expect((await history("gpx-1")).map((f) => f.ts)).toEqual([iso(0), iso(10), iso(20)]);
    expect(await eventTypes("gpx-1")).toEqual(["enter", "exit"]);
    expect((await importBody("gpx-1", "application/gpx+xml", trip)).status).toBe(200);
    expect(await history("gpx-1")).toHaveLength(3);
    expect(await eventTypes("gpx-1")).toEqual(["enter", "exit"]);
  });

  it("a history older than the vehicle's newest fix is stored without events (§4)", async () => {
    const live = await mqtt.connectAsync(hub.mqttUrl, { clientId: "old-1", reconnectPeriod: 0 });
    await live.publishAsync(
      "locus/vehicles/old-1/location",
      JSON.stringify({ latitude: OUTSIDE[1], longitude: OUTSIDE[0], ts: iso(1000), seq: 1 }),
      { qos: 1 },
    );
    await live.endAsync();
    const points = {
      type: "FeatureCollection",
      features: [
        {
          type: "Feature",
          properties: { ts: iso(100) },
          geometry: { type: "Point", coordinates: INSIDE },
        },
        {
          type: "Feature",
          properties: { ts: iso(200) },
          geometry: { type: "Point", coordinates: OUTSIDE },
        },
        { type: "Feature", properties: {}, geometry: { type: "Point", coordinates: INSIDE } },
      ],
    };
    const r = await importBody("old-1", "application/geo+json", JSON.stringify(points));
    expect(r).toEqual({
      status: 200,
      body: { accepted: 2, rejected: [{ index: 2, reason: "missing_ts" }] },
    });
    expect((await history("old-1")).map((f) => f.ts)).toEqual([iso(100), iso(200), iso(1000)]);
    expect(await eventTypes("old-1")).toEqual([]);
  });

  it("a JSON array of fixes and a GeoJSON LineString with times", async () => {
    const fixes = [
      { latitude: INSIDE[1], longitude: INSIDE[0], ts: iso(0), speed: 3 },
      { latitude: 95, longitude: 0, ts: iso(1) },
    ];
    expect(await importBody("json-1", "application/json", JSON.stringify(fixes))).toEqual({
      status: 200,
      body: { accepted: 1, rejected: [{ index: 1, reason: "invalid_latitude" }] },
    });
    const line = {
      type: "Feature",
      properties: { coordinateProperties: { times: [iso(10), iso(20)] } },
      geometry: { type: "LineString", coordinates: [OUTSIDE, INSIDE] },
    };
    expect((await importBody("json-1", "application/geo+json", JSON.stringify(line))).body).toEqual(
      {
        accepted: 2,
        rejected: [],
      },
    );
    expect(await eventTypes("json-1")).toEqual(["enter", "exit", "enter"]);
  });

  it("needs an admin token, and answers bad imports with clear 4xx", async () => {
    const read = await api(hub, "POST", "/api/v1/tokens", { name: "viewer", role: "read" });
    const gpxTrip = gpx([{ at: INSIDE, s: 0 }]);
    expect(
      (await importBody("bad-1", "application/gpx+xml", gpxTrip, "wrong-token-0123456789")).status,
    ).toBe(401);
    expect(
      (await importBody("bad-1", "application/gpx+xml", gpxTrip, read.body.token)).status,
    ).toBe(403);
    const cases: [string, string, string, number, RegExp][] = [
      ["bad-1", "text/csv", "lat,lon", 415, /application\/gpx\+xml/],
      ["bad-1", "application/json", "", 400, /empty/],
      ["bad-1", "application/gpx+xml", "<gpx><trk>", 400, /GPX/],
      ["bad-1", "application/gpx+xml", "\u0000\u0001\u0002", 400, /GPX/],
      ["bad-1", "application/geo+json", '{"type":"Polygon"}', 400, /FeatureCollection/],
      ["bad-1", "application/json", '{"latitude":1', 400, /JSON/],
      ["bad%20id", "application/json", "[]", 400, /vehicle id/],
      ["bad-1", "application/json", "x".repeat(17 * 1024 * 1024), 413, /limit/],
    ];
    for (const [id, type, body, status, message] of cases) {
      const r = await importBody(id, type, body);
      expect(r.status, `${type} ${body.slice(0, 30)}`).toBe(status);
      expect(r.body.message).toMatch(message);
    }
    expect((await api(hub, "GET", "/api/v1/vehicles/bad-1")).status).toBe(404);
  });

  it("live MQTT fixes are acknowledged while a large import is still being written", async () => {
    const n = 60_000;
    const fixes = Array.from({ length: n }, (_, i) => ({
      latitude: 40 + (i % 1000) * 1e-4,
      longitude: 20,
      ts: BASE + i * 1000,
    }));
    let importDone = false;
    const pending = importBody("bulk-1", "application/json", JSON.stringify(fixes)).then((r) => {
      importDone = true;
      return r;
    });
    // Once the import's first chunk is committed, a device publishes a live fix.
    for (;;) {
      const newest = await hub.store.newestFixTs(["bulk-1"]);
      if (newest.has("bulk-1") || importDone) break;
      await new Promise((r) => setImmediate(r));
    }
    const live = await mqtt.connectAsync(hub.mqttUrl, { clientId: "live-1", reconnectPeriod: 0 });
    await live.publishAsync(
      "locus/vehicles/live-1/location",
      JSON.stringify({ latitude: 1, longitude: 1, ts: Date.now() - 1000, seq: 1 }),
      { qos: 1 },
    );
    // The PUBACK came while the import was still going: the live fix did not wait for it.
    const ackedDuringImport = !importDone;
    await live.endAsync();
    const r = await pending;
    expect(r).toEqual({ status: 200, body: { accepted: n, rejected: [] } });
    expect(ackedDuringImport).toBe(true);
    const stored = await api(hub, "GET", "/api/v1/vehicles/bulk-1/locations?limit=10000");
    expect(stored.body.locations).toHaveLength(10000);
  }, 120_000);
});

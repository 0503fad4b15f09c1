// Crossings between sparse fixes through the real hub (embedded broker, SQLite, HTTP API): a
// vehicle whose fixes are 100 m apart passes a 60 m geofence with detect_crossing, and the hub
// publishes and stores an interpolated enter and exit with deterministic ids; a redelivered fix
// adds nothing; after a restart the stored last position still gives the next crossing.

import fs from "node:fs";
import { decodeEvent, EVENTS_TOPIC, eventId, type GeofenceEvent } from "@locus/protocol";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "./support/hub-process.ts";
import { type LiveHub, startLiveHub } from "./support/live-hub.ts";

const LAT = 52.5;
const LON = 13.4;
const M_PER_DEG_LAT = (6_371_008.8 * Math.PI) / 180;
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((LAT * Math.PI) / 180);
// Whole seconds an hour ago: within the hub's future limit, and exact in ms.
const T = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

function at(east: number, north: number): [number, number] {
  return [LON + east / M_PER_DEG_LON, LAT + north / M_PER_DEG_LAT];
}

/** A GeoJSON Feature for the square [x0, x1] × [y0, y1] metres from the origin. */
function square(name: string, x0: number, y0: number, x1: number, y1: number, extra = {}) {
  const ring = [at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1), at(x0, y0)];
  return {
    type: "Feature",
    geometry: { type: "Polygon", coordinates: [ring] },
    properties: { name, ...extra },
  };
}

/** The §3 payload of a fix `east` metres from the origin, `s` seconds after T. */
function fix(east: number, s: number, seq: number) {
  const [longitude, latitude] = at(east, 0);
  return { latitude, longitude, ts: new Date(T + s * 1000).toISOString(), seq };
}

interface Watcher {
  client: mqtt.MqttClient;
  events: GeofenceEvent[];
  /** Resolves once `n` events have arrived in all. */
  count(n: number): Promise<GeofenceEvent[]>;
}

async function watchEvents(mqttUrl: string): Promise<Watcher> {
  const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, connectTimeout: 10_000 });
  const events: GeofenceEvent[] = [];
  const waiting: { n: number; resolve: (e: GeofenceEvent[]) => void }[] = [];
  client.on("message", (_topic, payload) => {
    const event = decodeEvent(payload);
    if (event === null) throw new Error(`not an event: ${payload}`);
    events.push(event);
    for (const w of waiting.filter((w) => events.length >= w.n)) w.resolve(events.slice(0, w.n));
  });
  await client.subscribeAsync(EVENTS_TOPIC, { qos: 1 });
  return {
    client,
    events,
    count: (n) =>
      events.length >= n
        ? Promise.resolve(events.slice(0, n))
        : new Promise((resolve) => waiting.push({ n, resolve })),
  };
}

/** A device connection publishing raw fixes at QoS 1 (resolves once the hub acknowledged). */
async function device(mqttUrl: string) {
  const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, connectTimeout: 10_000 });
  return {
    client,
    publish: (vehicleId: string, payload: object) =>
      client.publishAsync(`locus/vehicles/${vehicleId}/location`, JSON.stringify(payload), {
        qos: 1,
      }),
  };
}

const open: { end(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.end();
});

async function hubOn(dataDir: string): Promise<LiveHub> {
  const live = await startLiveHub({ LOCUS_DATA_DIR: dataDir, LOCUS_CROSSING_MAX_GAP_S: "600" });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= live.close();
    return closing;
  };
  open.push({ end: close });
  return { ...live, close };
}

describe("crossings between sparse fixes, through the hub", { timeout: 60_000 }, () => {
  it("publishes and stores an interpolated enter and exit, once, and again after a restart", async () => {
    const dataDir = tempDir("locus-crossing-");
    open.push({ end: async () => fs.rmSync(dataDir, { recursive: true, force: true }) });
    let live = await hubOn(dataDir);

    const bad = await live.api(
      "POST",
      "/api/v1/geofences",
      square("bad", 20, -30, 80, 30, { detect_crossing: "yes" }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/detect_crossing/);

    const created = await live.api(
      "POST",
      "/api/v1/geofences",
      square("gate", 20, -30, 80, 30, { detect_crossing: true }),
    );
    expect(created.status).toBe(201);
    expect(created.body.properties.detect_crossing).toBe(true);
    const fenceId = created.body.id as string;
    // A fence without the setting is passed through too, and must stay silent.
    const plain = await live.api("POST", "/api/v1/geofences", square("plain", 20, 40, 80, 100));
    expect(plain.status).toBe(201);

    let watcher = await watchEvents(live.hub.mqttUrl);
    open.push({ end: () => watcher.client.endAsync() });
    let truck = await device(live.hub.mqttUrl);
    open.push({ end: () => truck.client.endAsync() });
    await truck.publish("truck-7", fix(0, 0, 1));
    await truck.publish("truck-7", fix(100, 10, 2));
    const [enter, exit] = (await watcher.count(2)) as [GeofenceEvent, GeofenceEvent];

    // 20 m and 80 m along a 100 m, 10 s segment: 2 s and 8 s after the first fix.
    const expectedId = (type: string, ts: number) =>
      eventId({
        vehicle_id: "truck-7",
        geofence_id: fenceId,
        type,
        ts,
        seq: 2,
        crossing: { fix_ts: T + 10_000, ordinal: 0 },
      });
    expect(enter).toMatchObject({
      id: expectedId("enter", T + 2000),
      type: "enter",
      geofence_id: fenceId,
      geofence_name: "gate",
      ts: new Date(T + 2000).toISOString(),
      interpolated: true,
    });
    expect(exit).toMatchObject({
      id: expectedId("exit", T + 8000),
      type: "exit",
      ts: new Date(T + 8000).toISOString(),
      interpolated: true,
    });
    expect(enter.longitude).toBeCloseTo(at(20, 0)[0], 9);
    expect(exit.longitude).toBeCloseTo(at(80, 0)[0], 9);

    const stored = await live.api("GET", "/api/v1/events?vehicle_id=truck-7");
    expect(stored.status).toBe(200);
    expect(stored.body.events.map((e: GeofenceEvent) => [e.id, e.type, e.interpolated])).toEqual([
      [enter.id, "enter", true],
      [exit.id, "exit", true],
    ]);

    // The same fix again (a redelivery), then one more fix nowhere near: nothing new but its
    // own absence of events, so the count stays at two.
    await truck.publish("truck-7", fix(100, 10, 2));
    await truck.publish("truck-7", fix(200, 20, 3));
    const after = await live.api("GET", "/api/v1/events?vehicle_id=truck-7");
    expect(after.body.events).toHaveLength(2);

    // Restart on the same data: the last position (200 m, T + 20 s) was stored with the state.
    await truck.client.endAsync();
    await watcher.client.endAsync();
    await live.close();
    live = await hubOn(dataDir);
    watcher = await watchEvents(live.hub.mqttUrl);
    open.push({ end: () => watcher.client.endAsync() });
    truck = await device(live.hub.mqttUrl);
    open.push({ end: () => truck.client.endAsync() });
    await truck.publish("truck-7", fix(-100, 50, 4));
    const back = await watcher.count(2);
    // 120 m of 300 m in 30 s: 12 s after T + 20 s; out at 180 m: 18 s.
    expect(back.map((e) => [e.type, e.ts, e.interpolated])).toEqual([
      ["enter", new Date(T + 32_000).toISOString(), true],
      ["exit", new Date(T + 38_000).toISOString(), true],
    ]);
    const all = await live.api("GET", "/api/v1/events?vehicle_id=truck-7");
    expect(all.body.events).toHaveLength(4);
  });
});

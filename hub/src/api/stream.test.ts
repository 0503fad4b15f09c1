// GET /api/v1/stream against a real hub: authentication by the first message, the snapshot, and
// live fixes, events, geofence changes and status as they happen, fed over real MQTT and REST.

import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Message,
  openStream,
  rest,
  STREAM_TOKEN,
  startTestHub,
  type TestHub,
} from "./stream-test-support.ts";

const SQUARE = {
  type: "Feature",
  properties: { name: "square" },
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [10, 10],
        [11, 10],
        [11, 11],
        [10, 11],
        [10, 10],
      ],
    ],
  },
};

const AUTH_TIMEOUT_MS = 300;

let t: TestHub;
let device: mqtt.MqttClient;

beforeAll(async () => {
  t = await startTestHub({ LOCUS_STREAM_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS) });
  device = await mqtt.connectAsync(t.hub.mqttUrl, { reconnectPeriod: 0 });
});
afterAll(async () => {
  await device?.endAsync();
  await t?.close();
});

function publishFix(vehicle: string, fix: object) {
  return device.publishAsync(`locus/vehicles/${vehicle}/location`, JSON.stringify(fix), { qos: 1 });
}

describe("authentication", () => {
  it("closes with 4401 on a wrong token, saying so", async () => {
    const client = await openStream(t.hub, { token: "not-the-token-0123456789" });
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/wrong token/);
    expect(client.messages).toEqual([]);
  });

  it.each([
    ["not JSON", "hello", /not JSON/],
    ["no token", '{"type":"auth"}', /must be \{"type":"auth","token"/],
    ["another type", `{"type":"hello","token":"${STREAM_TOKEN}"}`, /must be/],
  ])("closes with 4401 when the first message has %s", async (_, raw, reason) => {
    const client = await openStream(t.hub, { raw });
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(reason);
  });

  it("closes with 1009 on a message over 4 KiB, and goes on serving", async () => {
    const client = await openStream(t.hub, {
      raw: JSON.stringify({ type: "auth", token: "x".repeat(5000) }),
    });
    expect((await client.closed).code).toBe(1009);
    const next = await openStream(t.hub, { token: STREAM_TOKEN });
    expect((await next.next((m) => m.type === "snapshot")).role).toBe("admin");
    next.ws.close();
  });

  it("closes with 4401 on a binary first message", async () => {
    const client = await openStream(t.hub, null);
    client.ws.send(Buffer.from(JSON.stringify({ type: "auth", token: STREAM_TOKEN })));
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/must be/);
  });

  it("closes with 4401 when no auth message comes in time", async () => {
    const client = await openStream(t.hub, null);
    const closed = await client.closed;
    expect(closed).toEqual({
      code: 4401,
      reason: `no auth message within ${AUTH_TIMEOUT_MS / 1000} s: send {"type":"auth","token":"…"} first`,
    });
  });

  it("accepts a read token, with role read", async () => {
    const issued = await rest(t.hub, "POST", "/api/v1/tokens", { name: "viewer", role: "read" });
    expect(issued.status).toBe(201);
    const client = await openStream(t.hub, { token: issued.body.token });
    const snapshot = await client.next((m) => m.type === "snapshot");
    expect(snapshot.role).toBe("read");
    client.ws.close();
  });

  it("closes a client that sends anything after its auth message with 1008", async () => {
    const client = await openStream(t.hub, { token: STREAM_TOKEN });
    await client.next((m) => m.type === "snapshot");
    client.ws.send("{}");
    expect((await client.closed).code).toBe(1008);
  });

  it("answers a plain GET with 426", async () => {
    const res = await fetch(`${t.hub.httpUrl}/api/v1/stream`);
    expect(res.status).toBe(426);
    expect(((await res.json()) as { message: string }).message).toMatch(/WebSocket/);
  });
});

describe("snapshot and live updates", () => {
  it("starts with every vehicle and geofence as REST shows them", async () => {
    const created = await rest(t.hub, "POST", "/api/v1/geofences", SQUARE);
    expect(created.status).toBe(201);
    await publishFix("snap-1", { latitude: 10.5, longitude: 10.5, ts: Date.now(), seq: 1 });
    const vehicles = await rest(t.hub, "GET", "/api/v1/vehicles");
    const geofence = await rest(t.hub, "GET", `/api/v1/geofences/${created.body.id}`);

    const client = await openStream(t.hub, { token: STREAM_TOKEN });
    const snapshot = await client.next((m) => m.type === "snapshot");
    expect(snapshot.role).toBe("admin");
    expect(snapshot.stale_after_s).toBe(300);
    expect(snapshot.vehicles).toEqual(vehicles.body.vehicles);
    const vehicle = snapshot.vehicles.find((v: Message) => v.id === "snap-1");
    expect(vehicle.last_fix).toMatchObject({ latitude: 10.5, longitude: 10.5, seq: 1 });
    expect(vehicle.geofences).toEqual([created.body.id]);
    expect(snapshot.geofences.type).toBe("FeatureCollection");
    expect(snapshot.geofences.features).toContainEqual(geofence.body);
    client.ws.close();
  });

  it("sends fixes and the events they cause, after the snapshot", async () => {
    const client = await openStream(t.hub, { token: STREAM_TOKEN });
    await client.next((m) => m.type === "snapshot");
    const ts = Date.now();
    await publishFix("live-1", { latitude: 1, longitude: 2, ts, seq: 7, speed: 3 });
    const fixes = await client.next(
      (m) => m.type === "fixes" && m.fixes.some((f: Message) => f.vehicle_id === "live-1"),
    );
    expect(fixes.fixes.find((f: Message) => f.vehicle_id === "live-1")).toEqual({
      vehicle_id: "live-1",
      ts: new Date(ts).toISOString(),
      latitude: 1,
      longitude: 2,
      seq: 7,
      speed: 3,
    });
    // Into the square geofence of the snapshot test, or one made now.
    const fence = await rest(t.hub, "POST", "/api/v1/geofences", {
      ...SQUARE,
      properties: { name: "enter-here" },
    });
    await publishFix("live-1", { latitude: 10.5, longitude: 10.5, ts: ts + 1000, seq: 8 });
    const event = await client.next(
      (m) => m.type === "event" && m.event.geofence_id === fence.body.id,
    );
    expect(event.event).toMatchObject({
      type: "enter",
      vehicle_id: "live-1",
      geofence_name: "enter-here",
      ts: new Date(ts + 1000).toISOString(),
    });
    expect(typeof event.event.id).toBe("string");
    const stored = await rest(t.hub, "GET", `/api/v1/events?geofence_id=${fence.body.id}`);
    expect(stored.body.events).toEqual([event.event]);
    client.ws.close();
  });

  it("sends geofence upserts and deletes made through REST", async () => {
    const client = await openStream(t.hub, { token: STREAM_TOKEN });
    await client.next((m) => m.type === "snapshot");
    const created = await rest(t.hub, "POST", "/api/v1/geofences", {
      ...SQUARE,
      properties: { name: "made-live" },
    });
    const upsert = await client.next(
      (m) => m.type === "geofence" && m.op === "upsert" && m.geofence.id === created.body.id,
    );
    expect(upsert.geofence).toEqual(created.body);
    const renamed = await rest(t.hub, "PUT", `/api/v1/geofences/${created.body.id}`, {
      ...SQUARE,
      properties: { name: "renamed" },
    });
    const replaced = await client.next(
      (m) => m.type === "geofence" && m.op === "upsert" && m.geofence.properties.name === "renamed",
    );
    expect(replaced.geofence).toEqual(renamed.body);
    expect((await rest(t.hub, "DELETE", `/api/v1/geofences/${created.body.id}`)).status).toBe(204);
    const deleted = await client.next((m) => m.type === "geofence" && m.op === "delete");
    expect(deleted).toEqual({ type: "geofence", op: "delete", id: created.body.id });
    client.ws.close();
  });

  it("sends vehicle status", async () => {
    const client = await openStream(t.hub, { token: STREAM_TOKEN });
    await client.next((m) => m.type === "snapshot");
    await device.publishAsync("locus/vehicles/status-1/status", "offline", { qos: 1 });
    const status = await client.next((m) => m.type === "status");
    expect(status).toEqual({ type: "status", vehicle_id: "status-1", status: "offline" });
    client.ws.close();
  });

  it("counts its clients and the messages sent in the metrics", async () => {
    const client = await openStream(t.hub, { token: STREAM_TOKEN });
    await client.next((m) => m.type === "snapshot");
    const res = await fetch(`${t.hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${t.hub.token}` },
    });
    const text = await res.text();
    expect(text).toMatch(/^locus_stream_clients [1-9]/m);
    expect(text).toMatch(/^locus_stream_messages_sent_total [1-9]/m);
    client.ws.close();
  });
});

describe("limits and stopping", () => {
  it("refuses a client over LOCUS_STREAM_MAX_CLIENTS with 1013, and tells clients 1001 when the hub stops", async () => {
    const small = await startTestHub({ LOCUS_STREAM_MAX_CLIENTS: "2" });
    try {
      const first = await openStream(small.hub, { token: STREAM_TOKEN });
      // An unauthenticated connection holds a slot too.
      const second = await openStream(small.hub, null);
      await first.next((m) => m.type === "snapshot");
      const third = await openStream(small.hub, { token: STREAM_TOKEN });
      const refused = await third.closed;
      expect(refused.code).toBe(1013);
      expect(refused.reason).toMatch(/LOCUS_STREAM_MAX_CLIENTS/);
      expect(third.messages).toEqual([]);
      second.ws.close();
      await second.closed;
      const fourth = await openStream(small.hub, { token: STREAM_TOKEN });
      await fourth.next((m) => m.type === "snapshot");
      await small.hub.close();
      expect(await first.closed).toEqual({ code: 1001, reason: "the hub is stopping" });
      expect((await fourth.closed).code).toBe(1001);
    } finally {
      await small.close();
    }
  });
});

// Bad input never hurts the hub: garbage payloads, wrong topics, oversized batches, invalid
// polygons and wrong tokens each get their answer, and the hub stays healthy. In every
// deployment: embedded, production (Mosquitto with the repo config, PostgreSQL), and two hubs
// sharing the fleet through the engine (devices on one, the API on the other).

import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubEnvironment, type HubMode, openHubEnvironment } from "./support/broker.ts";
import { api, type HubProcess, waitFor } from "./support/hub-process.ts";

/** A metric of the hub; of several hubs seen as one, their sum (each counts what it did). */
async function metric(hub: HubProcess, line: string): Promise<number> {
  let sum = 0;
  let seen = false;
  for (const member of hub.members ?? [hub]) {
    const res = await fetch(`${member.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${member.token}` },
    });
    const text = await res.text();
    const found = text.split("\n").find((l) => l.startsWith(`${line} `));
    if (found) {
      sum += Number(found.slice(line.length + 1));
      seen = true;
    }
  }
  return seen ? sum : Number.NaN;
}

describe.each<HubMode>(["embedded", "production", "cluster"])("%s hub under bad input", (mode) => {
  let environment: HubEnvironment | null = null;
  let hub: HubProcess;
  let device: mqtt.MqttClient;

  beforeAll(async () => {
    environment = await openHubEnvironment(mode, { vehicles: ["bad-1", "rogue"] });
    if (environment === null) return;
    hub = await environment.startHub();
    device = await mqtt.connectAsync(hub.mqttUrl, {
      ...environment.device("bad-1"),
      clientId: "bad-device",
      reconnectPeriod: 0,
    });
  });

  afterAll(async () => {
    await device?.endAsync();
    if (hub) expect(await hub.stop("SIGTERM")).toBe(0);
    await environment?.close();
  });

  it("acknowledges and drops malformed location messages, counting each reason", async (ctx) => {
    if (environment === null) return ctx.skip();
    const topic = "locus/vehicles/bad-1/location";
    const bad: (string | Buffer)[] = [
      "not json",
      Buffer.from([0xff, 0xfe, 0xfd]),
      '{"latitude": 91, "longitude": 0}',
      '{"latitude": "north", "longitude": 0}',
      '{"latitude": 10, "longitude": 10, "vehicle_id": "someone-else"}',
      "[]",
      JSON.stringify(Array.from({ length: 1001 }, () => ({ latitude: 1, longitude: 1 }))),
      // Over the hub's 256 KiB cap, under the production broker's 300,000-byte packet limit.
      "x".repeat(270 * 1024),
    ];
    for (const payload of bad) await device.publishAsync(topic, payload, { qos: 1 });
    // A valid batch with one bad element keeps the good ones.
    await device.publishAsync(
      topic,
      JSON.stringify([
        { latitude: 1, longitude: 1, ts: "2026-11-24T10:00:00Z", seq: 1 },
        { latitude: 1, longitude: 999, ts: "2026-11-24T10:00:01Z", seq: 2 },
        { latitude: 1.1, longitude: 1, ts: "2026-11-24T10:00:02Z", seq: 3 },
      ]),
      { qos: 1 },
    );
    // Embedded, the PUBACK means committed; through Mosquitto it only means the broker has it.
    // Messages are taken in order, so once the last one is stored every reject is counted.
    const track = await waitFor(async () => {
      const r = await api(hub, "GET", "/api/v1/vehicles/bad-1/locations");
      return r.body?.locations?.length >= 2 ? r : undefined;
    });
    expect(track.body.locations.map((f: any) => f.seq)).toEqual([1, 3]);
    const reasons: Record<string, number> = {
      invalid_json: 1,
      invalid_utf8: 1,
      invalid_latitude: 2,
      vehicle_id_mismatch: 1,
      empty_batch: 1,
      batch_too_large: 1,
      payload_too_large: 1,
      invalid_longitude: 1,
    };
    for (const [reason, count] of Object.entries(reasons)) {
      expect(await metric(hub, `locus_fixes_rejected_total{reason="${reason}"}`), reason).toBe(
        count,
      );
    }
    expect(await metric(hub, "locus_fixes_accepted_total")).toBe(2);
  });

  it("refuses a device's publication on the events topic, and ignores other topics", async (ctx) => {
    if (environment === null) return ctx.skip();
    await device.publishAsync("some/other/topic", "hello", { qos: 1 });
    if (mode !== "production") {
      // MQTT 3.1.1 cannot refuse a publish: the embedded broker acknowledges it, drops it and
      // counts it (CONTRACT §3), and the client stays connected.
      const forbidden = 'locus_mqtt_refused_total{reason="forbidden_publish"}';
      const before = await metric(hub, forbidden);
      const rogue = await mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0 });
      await rogue.publishAsync("locus/geofence/events", '{"type":"enter"}', { qos: 1 });
      expect(rogue.connected).toBe(true);
      expect(await metric(hub, forbidden)).toBe(before + 1);
      await rogue.endAsync(true);
    } else {
      // Mosquitto's ACL refuses it (an MQTT 5 client is told so in its PUBACK).
      const rogue = await mqtt.connectAsync(hub.mqttUrl, {
        ...environment.device("rogue"),
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await expect(
        rogue.publishAsync("locus/geofence/events", '{"type":"enter"}', { qos: 1 }),
      ).rejects.toThrow(/not authori[sz]ed/i);
      await rogue.endAsync();
    }
    const health = await api(hub, "GET", "/api/v1/health");
    expect(health.status).toBe(200);
  });

  // Only Mosquitto has a packet limit of its own: registered for production alone, so the
  // embedded run has no skipped test.
  if (mode === "production") {
    it("leaves a packet over the broker's limit to Mosquitto, which disconnects its sender", async (ctx) => {
      if (environment === null) return ctx.skip();
      const big = await mqtt.connectAsync(hub.mqttUrl, {
        ...environment.device("bad-1"),
        clientId: "bad-device-big",
        reconnectPeriod: 0,
      });
      const closed = new Promise<void>((resolve) => big.once("close", () => resolve()));
      big.publish("locus/vehicles/bad-1/location", "x".repeat(400 * 1024), { qos: 1 });
      await closed;
      big.end(true);
      const health = await api(hub, "GET", "/api/v1/health");
      expect(health.status).toBe(200);
      expect(await metric(hub, 'locus_fixes_rejected_total{reason="payload_too_large"}')).toBe(1);
    });
  }

  it("answers bad tokens with 401 and bad polygons with 400, and stays healthy", async (ctx) => {
    if (environment === null) return ctx.skip();
    const noToken = await fetch(`${hub.httpUrl}/api/v1/geofences`);
    expect(noToken.status).toBe(401);
    const wrong = await api(
      { ...hub, token: "wrong-token-wrong-token" },
      "GET",
      "/api/v1/geofences",
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ statusCode: 401 });
    const bowtie = await api(hub, "POST", "/api/v1/geofences", {
      type: "Feature",
      properties: { name: "bowtie" },
      geometry: {
        type: "Polygon",
        coordinates: [
          [
            [0, 0],
            [1, 1],
            [1, 0],
            [0, 1],
            [0, 0],
          ],
        ],
      },
    });
    expect(bowtie.status).toBe(400);
    expect(bowtie.body.message).toMatch(/cross|intersect/i);
    const health = await waitFor(async () => {
      const r = await api(hub, "GET", "/api/v1/health");
      return r.status === 200 ? r.body : undefined;
    });
    expect(health.status).toBe("ok");
  });
});

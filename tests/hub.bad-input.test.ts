// Bad input never hurts the hub: garbage payloads, wrong topics, oversized batches, invalid
// polygons and wrong tokens each get their answer, and the hub stays healthy.

import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type HubProcess, startHubProcess, waitFor } from "./support/hub-process.ts";

async function metric(hub: HubProcess, line: string): Promise<number> {
  const res = await fetch(`${hub.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${hub.token}` },
  });
  const text = await res.text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : Number.NaN;
}

describe("embedded hub under bad input", () => {
  let hub: HubProcess;
  let device: mqtt.MqttClient;

  beforeAll(async () => {
    hub = await startHubProcess();
    device = await mqtt.connectAsync(hub.mqttUrl, { clientId: "bad-device", reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await device?.endAsync();
    if (hub) expect(await hub.stop("SIGTERM")).toBe(0);
  });

  it("acknowledges and drops malformed location messages, counting each reason", async () => {
    const topic = "locus/vehicles/bad-1/location";
    const bad: (string | Buffer)[] = [
      "not json",
      Buffer.from([0xff, 0xfe, 0xfd]),
      '{"latitude": 91, "longitude": 0}',
      '{"latitude": "north", "longitude": 0}',
      '{"latitude": 10, "longitude": 10, "vehicle_id": "someone-else"}',
      "[]",
      JSON.stringify(Array.from({ length: 1001 }, () => ({ latitude: 1, longitude: 1 }))),
      "x".repeat(300 * 1024),
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
    const track = await api(hub, "GET", "/api/v1/vehicles/bad-1/locations");
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

  it("disconnects a client that publishes on the events topic, and ignores other topics", async () => {
    await device.publishAsync("some/other/topic", "hello", { qos: 1 });
    const rogue = await mqtt.connectAsync(hub.mqttUrl, { reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => rogue.once("close", () => resolve()));
    rogue.publish("locus/geofence/events", '{"type":"enter"}', { qos: 1 });
    await closed;
    rogue.end(true);
    const health = await api(hub, "GET", "/api/v1/health");
    expect(health.status).toBe(200);
  });

  it("answers bad tokens with 401 and bad polygons with 400, and stays healthy", async () => {
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

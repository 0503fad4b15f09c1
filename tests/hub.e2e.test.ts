// The hub end to end over real MQTT: REST geofence, fixes in, events out, reads back. Run in
// every deployment: embedded (aedes, SQLite), production (the repo's Mosquitto config with
// per-vehicle passwords, PostgreSQL/PostGIS, with either geofence lookup), and two hubs sharing
// the fleet through the engine (devices and event consumers on one, the API on the other).

import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import mqtt, { type IClientOptions } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "./support/binaries.ts";
import {
  EVENTS_USER,
  type HubEnvironment,
  type HubEnvironmentOptions,
  type HubMode,
  openHubEnvironment,
} from "./support/broker.ts";
import { api, type HubProcess, waitFor } from "./support/hub-process.ts";

const run = promisify(execFile);

/**
 * mosquitto_sub for one message; with -d it reports the SUBACK, so the caller can wait for the
 * subscription instead of guessing how long it takes (stdbuf comes with coreutils).
 */
function subscribeOnce(args: string[]): { subscribed: Promise<void>; message: Promise<string> } {
  // Line-buffered, or the SUBACK line waits in the pipe's buffer until the program ends.
  const child = spawn("stdbuf", ["-oL", "mosquitto_sub", ...args, "-C", "1", "-d"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let onSubscribed = () => {};
  const subscribed = new Promise<void>((resolve) => {
    onSubscribed = resolve;
  });
  child.stdout.on("data", (d) => {
    out += d;
    if (out.includes("received SUBACK")) onSubscribed();
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const message = new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => {
      clearTimeout(timer);
      const payload = out.split("\n").find((l) => l.startsWith("{"));
      if (code === 0 && payload !== undefined) resolve(payload);
      else reject(new Error(`mosquitto_sub ended with ${code}:\n${out}`));
    });
  });
  // A mosquitto_sub that ends before its SUBACK fails the wait for it, with its output.
  message.catch(() => {});
  return { subscribed: Promise.race([subscribed, message.then(() => {})]), message };
}
const hasMosquittoClients = requireBinary("mosquitto_pub", "mosquitto-clients");

/** A square around downtown Los Angeles, clockwise on purpose (the hub normalises it). */
const DOWNTOWN = {
  type: "Feature",
  properties: { name: "downtown-la" },
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [-118.25, 34.04],
        [-118.25, 34.06],
        [-118.23, 34.06],
        [-118.23, 34.04],
        [-118.25, 34.04],
      ],
    ],
  },
};

function collectEvents(
  url: string,
  options: IClientOptions,
): Promise<{ events: any[]; client: mqtt.MqttClient }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { ...options, reconnectPeriod: 0 });
    const events: any[] = [];
    client.on("message", (_topic, payload) => events.push(JSON.parse(payload.toString())));
    client.on("error", reject);
    client.on("connect", () => {
      client.subscribe("locus/geofence/events", { qos: 1 }, (err) =>
        err ? reject(err) : resolve({ events, client }),
      );
    });
  });
}

const CONFIGURATIONS: [string, HubMode, HubEnvironmentOptions["geofenceEval"]][] = [
  ["embedded (aedes, SQLite)", "embedded", undefined],
  ["production (Mosquitto, PostgreSQL, in-memory lookup)", "production", "memory"],
  ["production (Mosquitto, PostgreSQL, PostGIS lookup)", "production", "postgis"],
  [
    "two hubs through the engine (NATS JetStream, PostgreSQL): devices on one, API on the other",
    "cluster",
    "memory",
  ],
];

describe.each(CONFIGURATIONS)("hub end to end: %s", (_name, mode, geofenceEval) => {
  let environment: HubEnvironment | null = null;
  let hub: HubProcess;
  const devices: mqtt.MqttClient[] = [];

  /** A connection publishing as `vehicleId` (its own account on the production broker). */
  async function device(vehicleId: string): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(hub.mqttUrl, {
      ...environment?.device(vehicleId),
      clientId: `device-${vehicleId}`,
      reconnectPeriod: 0,
    });
    devices.push(client);
    return client;
  }

  const consumer = () => environment?.consumer() ?? {};

  beforeAll(async () => {
    environment = await openHubEnvironment(mode, {
      vehicles: ["truck-e2e", "batcher", "truck-01"],
      geofenceEval,
    });
    if (environment === null) return;
    hub = await environment.startHub();
  });

  afterAll(async () => {
    for (const d of devices) await d.endAsync();
    if (hub) expect(await hub.stop("SIGTERM")).toBe(0);
    await environment?.close();
  });

  it("detects enter then exit from fixes published over MQTT, and serves them over REST", async (ctx) => {
    if (environment === null) return ctx.skip();
    // The hub announces the broker devices use: its own, or the production Mosquitto.
    if (environment.mosquitto) expect(hub.mqttUrl).toBe(environment.mosquitto.url);
    const created = await api(hub, "POST", "/api/v1/geofences", DOWNTOWN);
    expect(created.status).toBe(201);
    const fenceId: string = created.body.id;
    const sub = await collectEvents(hub.mqttUrl, consumer());
    const truck = await device("truck-e2e");
    const base = Date.parse("2026-11-24T20:00:00Z");
    const path = [
      [-118.27, 34.05],
      [-118.24, 34.05],
      [-118.21, 34.05],
    ];
    for (const [i, [lon, lat]] of path.entries()) {
      await truck.publishAsync(
        "locus/vehicles/truck-e2e/location",
        JSON.stringify({ latitude: lat, longitude: lon, ts: base + i * 1000, seq: i }),
        { qos: 1 },
      );
    }
    await waitFor(() => (sub.events.length >= 2 ? true : undefined), 30_000, "two events");
    await sub.client.endAsync();
    expect(sub.events.map((e) => e.type)).toEqual(["enter", "exit"]);
    expect(sub.events[0]).toMatchObject({
      vehicle_id: "truck-e2e",
      geofence_id: fenceId,
      geofence_name: "downtown-la",
      ts: "2026-11-24T20:00:01.000Z",
      latitude: 34.05,
      longitude: -118.24,
    });
    expect(Object.keys(sub.events[0]).sort()).toEqual(
      [
        "detected_at",
        "geofence_id",
        "geofence_name",
        "id",
        "latitude",
        "longitude",
        "ts",
        "type",
        "vehicle_id",
      ].sort(),
    );

    const stored = await api(hub, "GET", "/api/v1/events?vehicle_id=truck-e2e");
    expect(stored.status).toBe(200);
    expect(stored.body.events).toEqual(sub.events);

    const track = await api(hub, "GET", "/api/v1/vehicles/truck-e2e/locations");
    expect(track.status).toBe(200);
    expect(track.body.locations.map((f: any) => [f.longitude, f.latitude, f.seq])).toEqual(
      path.map(([lon, lat], i) => [lon, lat, i]),
    );
    expect(track.body.locations[0].ts).toBe("2026-11-24T20:00:00.000Z");

    const vehicle = await api(hub, "GET", "/api/v1/vehicles/truck-e2e");
    expect(vehicle.body.geofences).toEqual([]);
    expect(vehicle.body.last_fix.seq).toBe(2);
  });

  it("stores a batch once, however often it is delivered, and raises each event once", async (ctx) => {
    if (environment === null) return ctx.skip();
    const sub = await collectEvents(hub.mqttUrl, consumer());
    const batcher = await device("batcher");
    const base = Date.parse("2026-11-24T21:00:00Z");
    const batch = [
      [-118.27, 34.05],
      [-118.24, 34.05],
      [-118.245, 34.05],
    ].map(([lon, lat], i) => ({
      latitude: lat,
      longitude: lon,
      ts: base + i * 1000,
      seq: 100 + i,
    }));
    for (let i = 0; i < 3; i++) {
      await batcher.publishAsync("locus/vehicles/batcher/location", JSON.stringify(batch), {
        qos: 1,
      });
    }
    const track = await waitFor(async () => {
      const r = await api(hub, "GET", "/api/v1/vehicles/batcher/locations");
      return r.body?.locations?.length === 3 ? r.body.locations : undefined;
    });
    expect(track.map((f: any) => f.seq)).toEqual([100, 101, 102]);
    // One more fix, outside: its exit event goes out after every event the batch raised, so
    // once it is here a second enter (which must not come) would have been seen.
    await batcher.publishAsync(
      "locus/vehicles/batcher/location",
      JSON.stringify({ latitude: 34.05, longitude: -118.27, ts: base + 3000, seq: 103 }),
      { qos: 1 },
    );
    const mine = () => sub.events.filter((e) => e.vehicle_id === "batcher").map((e) => e.type);
    await waitFor(() => (mine().includes("exit") ? true : undefined), 20_000, "the exit event");
    await sub.client.endAsync();
    expect(mine()).toEqual(["enter", "exit"]);
    const stored = await api(hub, "GET", "/api/v1/events?vehicle_id=batcher");
    expect(stored.body.events.map((e: any) => e.type)).toEqual(["enter", "exit"]);
  });

  it.runIf(hasMosquittoClients)(
    "accepts the seed payload from mosquitto_pub and shows events to mosquitto_sub",
    async (ctx) => {
      if (environment === null) return ctx.skip();
      const sub = subscribeOnce([
        ...environment.cliArgs(hub, EVENTS_USER),
        ...["-t", "locus/geofence/events", "-q", "1"],
      ]);
      // The event is published only once mosquitto_sub holds its subscription.
      await sub.subscribed;
      await run(
        "mosquitto_pub",
        [
          ...environment.cliArgs(hub, "truck-01"),
          ...["-q", "1", "-t", "locus/vehicles/truck-01/location"],
          ...["-m", '{"vehicle_id":"truck-01","latitude":34.05,"longitude":-118.24}'],
        ],
        { timeout: 10_000 },
      );
      const event = JSON.parse(await sub.message);
      expect(event).toMatchObject({ type: "enter", vehicle_id: "truck-01", latitude: 34.05 });
      const vehicle = await api(hub, "GET", "/api/v1/vehicles/truck-01");
      expect(vehicle.status).toBe(200);
      expect(vehicle.body.last_fix).toMatchObject({ latitude: 34.05, longitude: -118.24 });
    },
  );
});

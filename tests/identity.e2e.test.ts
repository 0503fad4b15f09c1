// Device identity end to end (CONTRACT §3, §5), in every deployment: a vehicle registered over
// REST logs in with the password it was issued and publishes only as itself; a wrong password is
// refused; rotation and deletion cut its live session at once; an observer account reads every
// vehicle's fixes; a read token only reads. Embedded: the hub's own broker checks the logins;
// production: the hub keeps the accounts in Mosquitto's dynamic security plugin; two hubs
// through the engine: accounts changed through the API of one cut sessions on the other.

import mqtt, { type IClientOptions } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubEnvironment, type HubMode, openHubEnvironment } from "./support/broker.ts";
import { api, type HubProcess, waitFor } from "./support/hub-process.ts";

const BASE_TS = Date.parse("2026-12-01T08:00:00Z");

/** Connects, or rejects with the broker's refusal (CONNACK return code in `code`). */
function connect(url: string, options: IClientOptions): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
}

/** Resolves when the broker closes this client's connection. */
function closed(client: mqtt.MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) resolve();
    client.once("close", () => resolve());
  });
}

function fix(seq: number): string {
  return JSON.stringify({ latitude: 34.05, longitude: -118.24, ts: BASE_TS + seq * 1000, seq });
}

describe.each<HubMode>(["embedded", "production", "cluster"])("device identity: %s", (mode) => {
  let environment: HubEnvironment | null = null;
  let hub: HubProcess;
  const clients: mqtt.MqttClient[] = [];

  async function login(options: IClientOptions): Promise<mqtt.MqttClient> {
    const client = await connect(hub.mqttUrl, options);
    clients.push(client);
    return client;
  }

  /** The newest stored fix's seq of a vehicle, or null. */
  async function lastSeq(vehicleId: string): Promise<number | null> {
    const res = await api(hub, "GET", `/api/v1/vehicles/${vehicleId}`);
    return res.status === 200 ? (res.body.last_fix?.seq ?? null) : null;
  }

  beforeAll(async () => {
    environment = await openHubEnvironment(mode, { vehicles: [] });
    if (environment === null) return;
    hub = await environment.startHub();
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true);
    if (hub) expect(await hub.stop("SIGTERM")).toBe(0);
    await environment?.close();
  });

  it("issues a vehicle's credentials once; the vehicle publishes as itself and no one else", async (ctx) => {
    if (environment === null) return ctx.skip();
    const issued = await api(hub, "POST", "/api/v1/vehicles", { id: "van-7", name: "Van 7" });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    const { username, password } = issued.body.mqtt;
    expect(username).toBe("van-7");
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect((await api(hub, "POST", "/api/v1/vehicles", { id: "van-7" })).status).toBe(409);
    expect(JSON.stringify((await api(hub, "GET", "/api/v1/vehicles/van-7")).body)).not.toContain(
      password,
    );

    const van = await login({ username, password, clientId: "van-7-a" });
    await van.publishAsync("locus/vehicles/van-7/location", fix(1), { qos: 1 });
    await waitFor(async () => ((await lastSeq("van-7")) === 1 ? true : undefined), 30_000, "fix");

    // Publishing as another vehicle is dropped (or the connection closed), never stored.
    await van
      .publishAsync("locus/vehicles/van-8/location", fix(1), { qos: 1 })
      .catch(() => undefined);
    if (van.connected) {
      await van.publishAsync("locus/vehicles/van-7/location", fix(2), { qos: 1 });
      await waitFor(async () => ((await lastSeq("van-7")) === 2 ? true : undefined), 30_000, "2");
    }
    expect((await api(hub, "GET", "/api/v1/vehicles/van-8")).status).toBe(404);

    await expect(
      login({ username, password: `${password}x`, clientId: "van-7-b" }),
    ).rejects.toThrow(/not authori[sz]ed|bad user name or password/i);
  });

  it("rotation cuts the live session and the old password; deletion cuts the new one", async (ctx) => {
    if (environment === null) return ctx.skip();
    const issued = await api(hub, "POST", "/api/v1/vehicles", { id: "van-9" });
    expect(issued.status).toBe(201);
    const old = issued.body.mqtt;
    const session = await login({ ...old, clientId: "van-9-a" });
    const cut = closed(session);

    const rotated = await api(hub, "POST", "/api/v1/vehicles/van-9/credentials");
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
    expect(rotated.body.mqtt.password).not.toBe(old.password);
    await cut;
    await expect(login({ ...old, clientId: "van-9-b" })).rejects.toThrow();

    const renewed = await login({ ...rotated.body.mqtt, clientId: "van-9-c" });
    await renewed.publishAsync("locus/vehicles/van-9/location", fix(1), { qos: 1 });
    await waitFor(async () => ((await lastSeq("van-9")) === 1 ? true : undefined), 30_000, "fix");

    const gone = closed(renewed);
    expect((await api(hub, "DELETE", "/api/v1/vehicles/van-9")).status).toBe(204);
    await gone;
    await expect(login({ ...rotated.body.mqtt, clientId: "van-9-d" })).rejects.toThrow();
  });

  it("an observer reads every vehicle's fixes but publishes nothing; an events client only events", async (ctx) => {
    if (environment === null) return ctx.skip();
    const observer = await api(hub, "POST", "/api/v1/clients", {
      name: "ops-map",
      role: "observer",
    });
    expect(observer.status, JSON.stringify(observer.body)).toBe(201);
    const events = await api(hub, "POST", "/api/v1/clients", { name: "billing", role: "events" });
    expect(events.status).toBe(201);
    const vehicle = await api(hub, "POST", "/api/v1/vehicles", { id: "van-11" });

    const watcher = await login({ ...observer.body.mqtt, clientId: "ops-map-1" });
    const heard = new Promise<string>((resolve) =>
      watcher.on("message", (topic) => {
        if (topic === "locus/vehicles/van-11/location") resolve(topic);
      }),
    );
    const granted = await watcher.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    const consumer = await login({ ...events.body.mqtt, clientId: "billing-1" });
    // A refused subscription: SUBACK's failure code, which MQTT.js turns into an error.
    await expect(consumer.subscribeAsync("locus/vehicles/+/location", { qos: 1 })).rejects.toThrow(
      /subscribe error/i,
    );
    const allowed = await consumer.subscribeAsync("locus/geofence/events", { qos: 1 });
    expect(allowed[0]?.qos).toBe(1);

    const van = await login({ ...vehicle.body.mqtt, clientId: "van-11-a" });
    await van.publishAsync("locus/vehicles/van-11/location", fix(1), { qos: 1 });
    expect(await heard).toBe("locus/vehicles/van-11/location");

    // An observer's publish on a vehicle's topic is not a fix.
    await watcher
      .publishAsync("locus/vehicles/van-11/location", fix(5), { qos: 1 })
      .catch(() => undefined);
    await van.publishAsync("locus/vehicles/van-11/location", fix(2), { qos: 1 });
    await waitFor(async () => ((await lastSeq("van-11")) === 2 ? true : undefined), 30_000, "2");
    const history = await api(hub, "GET", "/api/v1/vehicles/van-11/locations");
    expect(history.body.locations.map((l: { seq: number }) => l.seq)).toEqual([1, 2]);
  });

  it("a read token reads and may change nothing; a deleted token stops at once", async (ctx) => {
    if (environment === null) return ctx.skip();
    const issued = await api(hub, "POST", "/api/v1/tokens", { name: "dashboard", role: "read" });
    expect(issued.status).toBe(201);
    const reader = { httpUrl: hub.httpUrl, token: issued.body.token as string };
    expect((await api(reader, "GET", "/api/v1/vehicles")).status).toBe(200);
    const refused = await api(reader, "POST", "/api/v1/vehicles", { id: "van-12" });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBeTruthy();
    expect((await api(hub, "DELETE", "/api/v1/tokens/dashboard")).status).toBe(204);
    expect((await api(reader, "GET", "/api/v1/vehicles")).status).toBe(401);
  });
});

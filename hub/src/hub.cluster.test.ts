// Several hubs sharing one fleet through the engine (docs/scaling.md): a throwaway three-node NATS
// JetStream cluster, a throwaway PostgreSQL, and hubs in this process. Vehicles whose fixes go to
// either hub at random are judged as one hub alone judges them (the events computed offline by
// the geofence engine from the same fixes), every fix is stored once, every hub's MQTT
// subscribers get every event once, and a hub that leaves hands its partitions to the others.

import type { Fix } from "@locus/protocol";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { requireBinary } from "../../tests/support/binaries.ts";
import { NatsCluster } from "../../tests/support/nats-cluster.ts";
import { startPostgres, type TestSchema } from "../../tests/support/postgres.ts";
import {
  metrics,
  openStream,
  rest,
  startTestHub,
  type TestHub,
} from "./api/stream-test-support.ts";
import { polygonFeature, square } from "./api/test-support.ts";
import { GeofenceEngine } from "./geofence/engine.ts";
import { MemoryFenceIndex } from "./geofence/memory-index.ts";

const hasNats = requireBinary("nats-server", "nats-server");
const server = await startPostgres();
afterAll(async () => {
  await server?.stop();
});

const T0 = Date.parse("2026-12-01T08:00:00.000Z");
const DEPOT: [number, number] = [-118.24, 34.05];
const YARD: [number, number] = [-118.1, 34.2];
const PATH: [number, number][] = [YARD, DEPOT, DEPOT, YARD, DEPOT, YARD, YARD, DEPOT, YARD, DEPOT];
const PARTITIONS = 16;
/** Generous bounds for a loaded machine; the test waits for events, never for time. */
const SETTLE_MS = 60_000;

async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = SETTLE_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

if (server === null || !hasNats) {
  // Only without PostgreSQL or nats-server binaries (a line above says what to install); under
  // CI=true both helpers throw instead, so this suite never skips there.
  describe.skip("hubs sharing the fleet through the engine (PostgreSQL or nats-server not installed)", () => {
    it("needs PostgreSQL and nats-server", () => {});
  });
} else {
  const pgServer = server;

  describe("hubs sharing the fleet through the engine", () => {
    let nats: NatsCluster;
    let schema: TestSchema;
    const hubs: TestHub[] = [];
    const clients: mqtt.MqttClient[] = [];

    beforeAll(async () => {
      nats = await NatsCluster.start();
    }, 60_000);
    afterAll(async () => {
      await nats?.stop();
    });
    beforeEach(async () => {
      schema = await pgServer.freshSchema();
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.endAsync();
      for (const h of hubs.splice(0)) await h.close();
      await schema.drop();
    });

    async function clusterHub(name: string, env: Record<string, string> = {}): Promise<TestHub> {
      const hub = await startTestHub({
        LOCUS_DATABASE_URL: schema.url,
        LOCUS_ENGINE_URL: nats.urls.join(","),
        LOCUS_ENGINE_PARTITIONS: String(PARTITIONS),
        LOCUS_ENGINE_LEASE_MS: "2000",
        LOCUS_MQTT_CLIENT_ID: name,
        ...env,
      });
      hubs.push(hub);
      return hub;
    }

    async function connect(hub: TestHub, clientId: string): Promise<mqtt.MqttClient> {
      const client = await mqtt.connectAsync(hub.hub.mqttUrl, { clientId, reconnectPeriod: 0 });
      clients.push(client);
      return client;
    }

    /** Every event payload an MQTT subscriber of this hub receives. */
    async function subscriber(hub: TestHub, clientId: string): Promise<string[]> {
      const client = await connect(hub, clientId);
      const ids: string[] = [];
      client.on("message", (_topic, payload) => ids.push(JSON.parse(payload.toString()).id));
      await client.subscribeAsync("locus/geofence/events", { qos: 1 });
      return ids;
    }

    async function partitionsHeld(hub: TestHub): Promise<number> {
      return (await metrics(hub.hub)).get("locus_engine_partitions_held") ?? 0;
    }

    it("judges vehicles whose fixes go to either hub as one hub does, and every hub publishes every event once", async () => {
      const [a, b] = [await clusterHub("hub-a"), await clusterHub("hub-b")];
      // The fleet is shared: each hub holds some partitions, together all of them.
      await until("the partitions shared out", async () => {
        const [ha, hb] = [await partitionsHeld(a), await partitionsHeld(b)];
        return ha > 0 && hb > 0 && ha + hb === PARTITIONS ? true : null;
      });
      const created = await rest(
        a.hub,
        "POST",
        "/api/v1/geofences",
        polygonFeature("depot", square(...DEPOT)),
      );
      expect(created.status).toBe(201);
      const heardA = await subscriber(a, "watcher-a");
      const heardB = await subscriber(b, "watcher-b");

      // 24 vehicles, each fix to one hub or the other at random, each after the previous PUBACK.
      const vehicles = Array.from({ length: 24 }, (_, i) => `van-${i}`);
      const sent: Fix[] = [];
      const devices = [await connect(a, "fleet-a"), await connect(b, "fleet-b")];
      await Promise.all(
        vehicles.map(async (id) => {
          for (let s = 0; s < PATH.length; s++) {
            const [longitude, latitude] = PATH[s] as [number, number];
            const fix = { longitude, latitude, ts: T0 + s * 1000, seq: s };
            const via = devices[Math.random() < 0.5 ? 0 : 1] as mqtt.MqttClient;
            await via.publishAsync(`locus/vehicles/${id}/location`, JSON.stringify(fix), {
              qos: 1,
            });
            // Sent twice now and then, as a device does after a lost PUBACK: stored once.
            if (s % 4 === 0) {
              await via.publishAsync(`locus/vehicles/${id}/location`, JSON.stringify(fix), {
                qos: 1,
              });
            }
            sent.push({ vehicle_id: id, longitude, latitude, ts: fix.ts, seq: s, ts_given: true });
          }
        }),
      );

      // The events one hub alone gives for these fixes, computed offline by the geofence engine.
      const offline = new GeofenceEngine(new MemoryFenceIndex(), {
        defaultMaxAccuracyM: Number.POSITIVE_INFINITY,
      });
      await offline.load(await a.hub.store.allGeofences(), new Map());
      const expected = new Set<string>();
      for (const id of vehicles) {
        for (const fix of sent.filter((f) => f.vehicle_id === id)) {
          const decision = await offline.judge([fix], fix.ts);
          offline.apply(decision);
          for (const e of decision.events)
            expected.add(`${e.id} ${e.type} ${e.vehicle_id} ${e.ts}`);
        }
      }
      expect(expected.size).toBe(vehicles.length * 7);

      // Stored: every fix once, and exactly the expected events.
      const stored = await until("every fix committed", async () => {
        let n = 0;
        for (const id of vehicles) n += (await a.hub.store.locations(id, { limit: 100 })).length;
        return n === sent.length ? n : null;
      });
      expect(stored).toBe(vehicles.length * PATH.length);
      const events = await until("every event committed", async () => {
        const all = await b.hub.store.events({ limit: 10_000 });
        return all.length >= expected.size ? all : null;
      });
      expect(new Set(events.map((e) => `${e.id} ${e.type} ${e.vehicle_id} ${e.ts}`))).toEqual(
        expected,
      );
      expect(events).toHaveLength(expected.size);

      // Each hub's subscribers got every event, once, whichever hub judged it.
      await until("both hubs' subscribers to hear every event", async () =>
        heardA.length >= expected.size && heardB.length >= expected.size ? true : null,
      );
      const ids = new Set(events.map((e) => e.id));
      for (const heard of [heardA, heardB]) {
        expect(new Set(heard)).toEqual(ids);
        expect(heard).toHaveLength(ids.size);
      }
      // Either hub answers who is inside, as one hub alone would.
      const inside = offline.vehiclesInside(created.body.id);
      expect(inside.length).toBeGreaterThan(0);
      for (const h of [a, b]) {
        const answer = await rest(h.hub, "GET", `/api/v1/geofences/${created.body.id}/vehicles`);
        expect(answer.body.vehicles).toEqual(inside);
      }
      // Both hubs judged: fixes went through the engine to their partitions' owners.
      const judged = async (h: TestHub) =>
        (await metrics(h.hub)).get("locus_fixes_accepted_total") ?? 0;
      expect(await judged(a)).toBeGreaterThan(0);
      expect(await judged(b)).toBeGreaterThan(0);
      expect((await judged(a)) + (await judged(b))).toBe(sent.length);
    }, 180_000);

    it("hands a leaving hub's partitions to the others, which go on with its vehicles", async () => {
      const [a, b] = [await clusterHub("hub-a"), await clusterHub("hub-b")];
      await until("the partitions shared out", async () =>
        (await partitionsHeld(a)) > 0 && (await partitionsHeld(b)) > 0 ? true : null,
      );
      // Health says the engine is reached.
      const health = await rest(a.hub, "GET", "/api/v1/health");
      expect(health.body).toMatchObject({ status: "ok", checks: { engine: "ok" } });
      const device = await connect(a, "fleet");
      const send = async (id: string, s: number) => {
        const [longitude, latitude] = PATH[s] as [number, number];
        const fix = { longitude, latitude, ts: T0 + s * 1000, seq: s };
        await device.publishAsync(`locus/vehicles/${id}/location`, JSON.stringify(fix), { qos: 1 });
      };
      const vehicles = Array.from({ length: 12 }, (_, i) => `truck-${i}`);
      for (const id of vehicles) await send(id, 0);
      await b.close();
      hubs.splice(hubs.indexOf(b), 1);
      await until("hub A to hold every partition", async () =>
        (await partitionsHeld(a)) === PARTITIONS ? true : null,
      );
      for (const id of vehicles) await send(id, 1);
      await until("every fix committed", async () => {
        let n = 0;
        for (const id of vehicles) n += (await a.hub.store.locations(id, { limit: 100 })).length;
        return n === vehicles.length * 2 ? n : null;
      });
    }, 120_000);

    it("shows MQTT subscribers and live streams on one hub what devices publish on another", async () => {
      const [a, b] = [await clusterHub("hub-a"), await clusterHub("hub-b")];
      const observer = await rest(a.hub, "POST", "/api/v1/clients", {
        name: "ops-map",
        role: "observer",
      });
      expect(observer.status, JSON.stringify(observer.body)).toBe(201);
      const vehicle = await rest(a.hub, "POST", "/api/v1/vehicles", { id: "van.7" });
      expect(vehicle.status).toBe(201);
      const login = (
        hub: TestHub,
        clientId: string,
        creds: { username: string; password: string },
        options: mqtt.IClientOptions = {},
      ) =>
        mqtt
          .connectAsync(hub.hub.mqttUrl, { clientId, reconnectPeriod: 0, ...creds, ...options })
          .then((c) => {
            clients.push(c);
            return c;
          });
      // An observer on hub B, a live stream on hub B; the device on hub A.
      const watcher = await login(b, "ops-map-1", observer.body.mqtt);
      const heard: [string, string, boolean][] = [];
      watcher.on("message", (topic, payload, packet) =>
        heard.push([topic, payload.toString(), packet.retain]),
      );
      await watcher.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
      await watcher.subscribeAsync("locus/vehicles/+/status", { qos: 1 });
      const live = await openStream(b.hub, { token: b.hub.token });
      await live.next((m) => m.type === "snapshot");
      const device = await login(a, "van.7", vehicle.body.mqtt, {
        will: {
          topic: "locus/vehicles/van.7/status",
          payload: Buffer.from("offline"),
          qos: 1,
          retain: true,
        },
      });
      await device.publishAsync("locus/vehicles/van.7/status", "online", { qos: 1, retain: true });
      const fix = { longitude: DEPOT[0], latitude: DEPOT[1], ts: T0, seq: 0 };
      await device.publishAsync("locus/vehicles/van.7/location", JSON.stringify(fix), { qos: 1 });
      await until("the observer on hub B to hear both", async () =>
        heard.length >= 2 ? heard : null,
      );
      expect(heard).toEqual([
        ["locus/vehicles/van.7/status", "online", false],
        ["locus/vehicles/van.7/location", JSON.stringify(fix), false],
      ]);
      await live.next(
        (m) => m.type === "status" && m.vehicle_id === "van.7" && m.status === "online",
      );
      // The status is retained on hub B too: a subscriber arriving later gets it at once.
      const late = await login(b, "ops-map-2", observer.body.mqtt);
      const retained = new Promise<[string, string, boolean]>((resolve) =>
        late.on("message", (topic, payload, packet) =>
          resolve([topic, payload.toString(), packet.retain]),
        ),
      );
      await late.subscribeAsync("locus/vehicles/+/status", { qos: 1 });
      expect(await retained).toEqual(["locus/vehicles/van.7/status", "online", true]);
      // Going offline (its last will) reaches hub B's live stream and subscribers too.
      device.stream.destroy();
      await live.next(
        (m) => m.type === "status" && m.vehicle_id === "van.7" && m.status === "offline",
      );
      live.ws.close();
      // Once nobody on hub B watches locations, hub B no longer hears them from the engine.
      await watcher.endAsync();
      await late.endAsync();
      await until("hub B to let go of the observers' subjects", async () =>
        (await metrics(b.hub)).get("locus_engine_mqtt_subjects") === 1 ? true : null,
      ); // the hub's own: every device's status
    }, 120_000);

    it("keeps fixes on the engine as long as the last hub started says", async () => {
      const maxAge = async () => {
        const nc = await nats.connect();
        try {
          const info = await (await nc.jetstreamManager()).streams.info("LOCUS_FIXES");
          return info.config.max_age / 3600e9;
        } finally {
          await nc.close();
        }
      };
      const a = await clusterHub("hub-a", { LOCUS_ENGINE_RETENTION_HOURS: "2" });
      expect(await maxAge()).toBe(2);
      // The other settings still must agree: another partition count is refused, naming it.
      await expect(
        clusterHub("hub-c", { LOCUS_ENGINE_PARTITIONS: String(PARTITIONS * 2) }),
      ).rejects.toThrow(/LOCUS_ENGINE_PARTITIONS/);
      await a.close();
      hubs.splice(hubs.indexOf(a), 1);
      await clusterHub("hub-b", { LOCUS_ENGINE_RETENTION_HOURS: "24" });
      expect(await maxAge()).toBe(24);
    }, 120_000);
  });
}

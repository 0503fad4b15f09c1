// The production broker's access rules, tested on the committed infra/mosquitto/mosquitto.conf
// and acl with a password file made by infra/mosquitto/add-user.sh: each vehicle only on its own
// topics, the hub and the event consumers in their roles, nobody anonymous.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  INFRA_MOSQUITTO,
  mosquittoBinary,
  type RepoMosquitto,
  startRepoMosquitto,
} from "./support/broker.ts";
import { waitFor } from "./support/hub-process.ts";

const USERS = {
  "locus-hub": "hub-secret-1",
  "locus-events": "events-secret-1",
  "truck-1": "truck-1-secret",
  "truck-2": "truck-2-secret",
};
type User = keyof typeof USERS;

const hasMosquitto = mosquittoBinary() !== null;

describe.runIf(hasMosquitto)("Mosquitto with the committed production config", () => {
  let broker: RepoMosquitto;
  const clients: MqttClient[] = [];

  async function connect(user: User | null, extra: IClientOptions = {}): Promise<MqttClient> {
    const credentials = user === null ? {} : { username: user, password: USERS[user] };
    const client = await mqtt.connectAsync(broker.url, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...credentials,
      ...extra,
    });
    clients.push(client);
    return client;
  }

  /** Collects what `client` receives, by topic. */
  function inbox(client: MqttClient): { topic: string; payload: string }[] {
    const got: { topic: string; payload: string }[] = [];
    client.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
    return got;
  }

  beforeAll(async () => {
    broker = await startRepoMosquitto({ users: USERS });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await broker?.stop();
  });

  it("runs the committed file, changing only the listener and the directories", () => {
    const committed = fs
      .readFileSync(path.join(INFRA_MOSQUITTO, "mosquitto.conf"), "utf8")
      .split("\n");
    const run = fs.readFileSync(broker.conf, "utf8").split("\n");
    expect(run).toHaveLength(committed.length);
    const changed = committed
      .map((line, i) => [line, run[i]] as const)
      .filter(([a, b]) => a !== b)
      .map(([a]) => a.split(" ")[0]);
    expect(changed.sort()).toEqual(
      ["acl_file", "listener", "password_file", "persistence_location"].sort(),
    );
    // The settings the docs rely on are really there.
    for (const setting of [
      "allow_anonymous false",
      "persistence true",
      "autosave_interval 5",
      "max_queued_messages 1000000",
      "max_packet_size 300000",
    ]) {
      expect(committed).toContain(setting);
    }
  });

  it("refuses anonymous clients and wrong passwords", async () => {
    await expect(connect(null)).rejects.toThrow(/not authori[sz]ed/i);
    await expect(connect(null, { protocolVersion: 5 })).rejects.toThrow(/not authori[sz]ed/i);
    await expect(
      mqtt.connectAsync(broker.url, {
        username: "truck-1",
        password: "wrong",
        reconnectPeriod: 0,
        protocolVersion: 5,
      }),
    ).rejects.toThrow(/bad user name or password|not authori[sz]ed/i);
  });

  it("keeps a vehicle to its own topics: no publishing as another, no reading others", async () => {
    const hub = await connect("locus-hub", { protocolVersion: 5 });
    const hubGot = inbox(hub);
    await hub.subscribeAsync(["locus/vehicles/+/location", "locus/vehicles/+/status"], { qos: 1 });

    // truck-2 tries to read everything, its own topics included.
    const spy = await connect("truck-2");
    const spyGot = inbox(spy);
    // Mosquitto grants the SUBSCRIBE and checks read access per message, so nothing arrives.
    await spy.subscribeAsync(["#", "locus/vehicles/+/location"], { qos: 1 });

    // MQTT 3.1.1: a denied publish is acknowledged and dropped. MQTT 5: PUBACK "Not authorized".
    const truck = await connect("truck-1");
    await truck.publishAsync("locus/vehicles/truck-2/location", "forged-3", { qos: 1 });
    await truck.publishAsync("locus/geofence/events", "forged-event", { qos: 1 });
    const truck5 = await connect("truck-1", { protocolVersion: 5, clientId: "truck-1-v5" });
    await expect(
      truck5.publishAsync("locus/vehicles/truck-2/location", "forged-5", { qos: 1 }),
    ).rejects.toThrow(/not authori[sz]ed/i);
    // Its own topics work; ordered after the forgeries, so once these arrive those would have.
    await truck.publishAsync("locus/vehicles/truck-1/status", "online", { qos: 1, retain: true });
    await truck.publishAsync("locus/vehicles/truck-1/location", "own", { qos: 1 });

    await waitFor(() => (hubGot.some((m) => m.payload === "own") ? true : undefined));
    expect(hubGot.map((m) => [m.topic, m.payload])).toEqual([
      ["locus/vehicles/truck-1/status", "online"],
      ["locus/vehicles/truck-1/location", "own"],
    ]);
    // truck-2's subscriptions saw nothing of truck-1's, and no forgery in its own name.
    await truck.publishAsync("locus/vehicles/truck-1/location", "own-2", { qos: 1 });
    await waitFor(() => (hubGot.some((m) => m.payload === "own-2") ? true : undefined));
    expect(spyGot).toEqual([]);
  });

  it("lets event consumers read events but publish nothing", async () => {
    const hub = await connect("locus-hub", { protocolVersion: 5 });
    const hubGot = inbox(hub);
    await hub.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
    const consumer = await connect("locus-events", { protocolVersion: 5 });
    const consumerGot = inbox(consumer);
    const granted = await consumer.subscribeAsync("locus/geofence/events", { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    // Not a vehicle, not even under its own name, and not the hub.
    for (const topic of [
      "locus/vehicles/locus-events/location",
      "locus/vehicles/truck-1/location",
      "locus/geofence/events",
    ]) {
      await expect(consumer.publishAsync(topic, "forged", { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed/i,
      );
    }
    // It cannot read the vehicles' fixes either.
    await consumer.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
    const truck = await connect("truck-1");
    await truck.publishAsync("locus/vehicles/truck-1/location", "fix", { qos: 1 });

    await hub.publishAsync("locus/geofence/events", '{"type":"enter"}', { qos: 1 });
    await waitFor(() => (consumerGot.length > 0 ? true : undefined));
    expect(consumerGot).toEqual([{ topic: "locus/geofence/events", payload: '{"type":"enter"}' }]);
    expect(hubGot.map((m) => m.payload)).toEqual(["fix"]);
  });

  it("gives the hub its role: reads fixes and status, publishes events, never a fix", async () => {
    const hub = await connect("locus-hub", { protocolVersion: 5 });
    const granted = await hub.subscribeAsync(
      {
        "locus/vehicles/+/location": { qos: 1 },
        "locus/vehicles/+/status": { qos: 1 },
        "$SYS/broker/clients/connected": { qos: 0 },
      },
      {},
    );
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 0]);
    await expect(
      hub.publishAsync("locus/geofence/events", "{}", { qos: 1 }),
    ).resolves.toBeDefined();
    for (const topic of ["locus/vehicles/truck-1/location", "locus/vehicles/locus-hub/location"]) {
      await expect(hub.publishAsync(topic, "forged", { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed/i,
      );
    }
  });

  it("takes a vehicle added or removed with add-user.sh on SIGHUP", async () => {
    const addUser = (...args: string[]) =>
      execFileSync(path.join(INFRA_MOSQUITTO, "add-user.sh"), args, {
        env: { ...process.env, LOCUS_MOSQUITTO_PASSWD: broker.passwd },
        encoding: "utf8",
      });
    const login = (user: string, password: string) =>
      mqtt.connectAsync(broker.url, { username: user, password, reconnectPeriod: 0 });

    expect(addUser("truck-3", "truck-3-secret")).toContain("added truck-3");
    await expect(login("truck-3", "truck-3-secret")).rejects.toThrow(/not authori[sz]ed/i);
    broker.signal("SIGHUP");
    const truck3 = await waitFor(() =>
      login("truck-3", "truck-3-secret").then(
        (c) => c,
        () => undefined,
      ),
    );
    clients.push(truck3);

    // Removed and reloaded: its open connection is cut and it cannot log in again.
    const closed = new Promise<void>((resolve) => truck3.once("close", () => resolve()));
    expect(addUser("-d", "truck-3")).toContain("removed truck-3");
    broker.signal("SIGHUP");
    await closed;
    await expect(login("truck-3", "truck-3-secret")).rejects.toThrow(/not authori[sz]ed/i);
    // Names that cannot be vehicle ids are refused before anything is written.
    expect(() => addUser("bad/id", "x")).toThrow();
  });
});

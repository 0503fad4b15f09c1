// No client can slow others down (CONTRACT §3), against a whole hub in this process: a subscriber
// that stops reading is cut off while the fleet's acknowledgements and others' events go on;
// connections over the limits are refused; a client over its rate is slowed, not disconnected.

import type net from "node:net";
import mqtt from "mqtt";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { EmbeddedBroker } from "./embedded.ts";
import {
  closed,
  connectPacket,
  cutOff,
  Fleet,
  frozenSubscriber,
  issueAccount,
  rawSocket,
  startTestHub,
  subscribePacket,
  type TestHub,
  waitFor,
} from "./limits.support.ts";
import { DEFAULT_MQTT_LIMITS } from "./limits.ts";

/** The measurement's window; the contract's criterion is "half of the first window's rate". */
const WINDOW_MS = 5000;

let hub: TestHub | null = null;
let fleet: Fleet | null = null;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await fleet?.stop();
  fleet = null;
  await hub?.close();
  hub = null;
});

describe("a subscriber that stops reading", () => {
  it("is cut off, and the fleet's PUBACKs never stall meanwhile", async () => {
    hub = await startTestHub({ LOCUS_MQTT_CLIENT_QUEUE_MESSAGES: "200" });
    // Batches of 20 fixes: the frozen subscriber's kernel buffers (megabytes) fill sooner.
    fleet = await Fleet.start(hub.hub.mqttUrl, 4, 16, undefined, 20);
    const [baseline] = await fleet.windows(1, WINDOW_MS);
    expect(baseline).toBeGreaterThan(0);

    // Every vehicle's fixes are for observers to read (CONTRACT §3).
    const observer = await issueAccount(hub.hub, "clients", { name: "frozen", role: "observer" });
    const frozen = await frozenSubscriber(hub.port, "locus/vehicles/+/location", observer);
    sockets.push(frozen);
    const windows = await fleet.windows(3, WINDOW_MS);

    // A broker that waited for the frozen socket would stall the fleet outright (no PUBACK in a
    // window once the socket's buffers are full, a matter of milliseconds); a busy machine only
    // slows the fleet, by a factor of two or three at the most seen under CI load. So a window
    // is judged against a tenth of the baseline: a stall fails it, a loaded machine does not.
    for (const count of windows) {
      expect(count, JSON.stringify({ baseline, windows })).toBeGreaterThan(
        (baseline as number) / 10,
      );
    }
    const { limited } = hub;
    await cutOff(frozen, async () => (await limited("slow_reader")) > 0);
    expect(await hub.limited("slow_reader")).toBe(1);
  }, 90_000);

  it("on the events topic does not stop event delivery to the others", async () => {
    hub = await startTestHub({ LOCUS_MQTT_CLIENT_QUEUE_MESSAGES: "200" });
    const res = await fetch(`${hub.hub.httpUrl}/api/v1/geofences`, {
      method: "POST",
      headers: { authorization: `Bearer ${hub.hub.token}`, "content-type": "application/json" },
      body: JSON.stringify({
        type: "Feature",
        properties: { name: "square" },
        geometry: {
          type: "Polygon",
          coordinates: [
            [
              [-118.3, 34.0],
              [-118.2, 34.0],
              [-118.2, 34.1],
              [-118.3, 34.1],
              [-118.3, 34.0],
            ],
          ],
        },
      }),
    });
    expect(res.status).toBe(201);
    const watcher = await mqtt.connectAsync(hub.hub.mqttUrl, { reconnectPeriod: 0 });
    let events = 0;
    watcher.on("message", () => events++);
    await watcher.subscribeAsync("locus/geofence/events", { qos: 1 });
    // Every fix crosses the boundary: in, out, in, … so each one makes an event.
    fleet = await Fleet.start(hub.hub.mqttUrl, 4, 8, (_v, n) =>
      n % 2 === 0 ? [34.05, -118.25] : [35.05, -118.25],
    );
    // Per window: the events the hub detected, and those the honest subscriber received. A stall
    // shows as no events detected (the fleet's fixes wait) or as detected events not arriving;
    // a busy machine slows both alike, so their ratio, not a rate, is what is judged.
    const { detected } = hub;
    const window = async (ms: number) => {
      const [before, received] = [await detected(), events];
      await new Promise((r) => setTimeout(r, ms));
      return { detected: (await detected()) - before, received: events - received };
    };
    const baseline = await window(WINDOW_MS);
    expect(baseline.received).toBeGreaterThan(0);

    const frozen = await frozenSubscriber(hub.port, "locus/geofence/events");
    sockets.push(frozen);
    const windows = [await window(WINDOW_MS), await window(WINDOW_MS), await window(WINDOW_MS)];

    for (const w of windows) {
      expect(w.detected, JSON.stringify(windows)).toBeGreaterThan(0);
      expect(w.received, JSON.stringify(windows)).toBeGreaterThanOrEqual(w.detected / 2);
    }
    const { limited } = hub;
    await cutOff(frozen, async () => (await limited("slow_reader")) > 0);
    expect(await hub.limited("slow_reader")).toBe(1);
    await watcher.endAsync(true);
  }, 90_000);
});

describe("a subscriber that stops reading, below the queue bounds", () => {
  it("is cut off once its socket has not drained for the stall timeout", async () => {
    const limited: string[] = [];
    const broker = await EmbeddedBroker.start({
      host: "127.0.0.1",
      port: 0,
      allowAnonymous: true,
      authenticate: async (username) =>
        username === "watcher" ? { kind: "client", name: "watcher", role: "observer" } : null,
      receiver: { handles: () => false, receive: () => {} },
      logger: pino({ level: "silent" }),
      limits: {
        ...DEFAULT_MQTT_LIMITS,
        queueMessages: 1e9,
        queueBytes: 2 ** 40,
        stallTimeoutMs: 500,
      },
      onLimited: (reason) => limited.push(reason),
    });
    try {
      const frozen = await frozenSubscriber(broker.port, "locus/vehicles/+/location", {
        username: "watcher",
        password: "any",
      });
      sockets.push(frozen);
      // 256 KiB at a time, until the kernel's buffers are full and the socket's own fills.
      const payload = "x".repeat(256 * 1024);
      await waitFor(
        async () => {
          if (limited.includes("slow_reader")) return true;
          await broker.publish("locus/vehicles/stall/location", payload);
          return undefined;
        },
        30_000,
        "the stalled subscriber cut off",
      );
      expect(limited.filter((r) => r === "slow_reader")).toHaveLength(1);
      frozen.resume();
      await closed(frozen);
    } finally {
      await broker.close();
    }
  });
});

describe("retained messages on SUBSCRIBE", () => {
  it("come at the subscriber's pace: more than the queue bound still arrive, and it stays", async () => {
    hub = await startTestHub({ LOCUS_MQTT_CLIENT_QUEUE_MESSAGES: "20" });
    // A phone retains its OwnTracks messages, and reads its own back (CONTRACT §3, §9).
    const phone = await issueAccount(hub.hub, "vehicles", { id: "r" });
    const publisher = await mqtt.connectAsync(hub.hub.mqttUrl, {
      ...phone,
      clientId: "r-publisher",
      reconnectPeriod: 0,
    });
    const retained = 300;
    const payload = Buffer.alloc(16 * 1024, 0x61); // 4.7 MiB in all: more than sockets buffer
    await Promise.all(
      Array.from({ length: retained }, (_, i) =>
        publisher.publishAsync(`owntracks/r/phone${i}`, payload, { qos: 1, retain: true }),
      ),
    );
    // A subscriber that reads one chunk, then nothing for 5 ms, and so on: slower than the
    // broker writes, so its socket is past its high-water mark most of the time.
    const subscriber = await rawSocket(hub.port);
    sockets.push(subscriber);
    subscriber.write(
      Buffer.concat([connectPacket("retained-reader", phone), subscribePacket("owntracks/r/#", 1)]),
    );
    let bytes = 0;
    subscriber.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      subscriber.pause();
      setTimeout(() => subscriber.resume(), 5);
    });
    await waitFor(
      () => (bytes >= retained * payload.length ? true : undefined),
      30_000,
      () => `${bytes} bytes of retained messages`,
    );
    expect(subscriber.destroyed).toBe(false);
    expect(await hub.limited("slow_reader")).toBe(0);
    await publisher.endAsync(true);
  });
});

describe("connections", () => {
  it("over the limit per address or in total are refused; the others still connect", async () => {
    hub = await startTestHub({
      LOCUS_MQTT_MAX_CONNECTIONS: "12",
      LOCUS_MQTT_MAX_CONNECTIONS_PER_ADDRESS: "8",
      LOCUS_MQTT_CONNECT_TIMEOUT_MS: "60000",
    });
    const port = hub.port;
    const open = async (localAddress?: string) => {
      const socket = await rawSocket(port, localAddress);
      sockets.push(socket);
      return socket;
    };
    // Admitted: each completes its CONNECT and gets its CONNACK.
    const connack = async (socket: net.Socket, id: string) => {
      socket.write(connectPacket(id));
      await new Promise<void>((resolve, reject) => {
        socket.once("data", (d: Buffer) =>
          d[0] === 0x20 ? resolve() : reject(new Error("no CONNACK")),
        );
        socket.once("close", () => reject(new Error(`${id} closed instead of CONNACK`)));
      });
    };
    for (let i = 0; i < 8; i++) await connack(await open(), `a${i}`);
    const refused = [await open(), await open()];
    await Promise.all(refused.map(closed));
    expect(await hub.limited("connections_per_address")).toBe(2);

    // Another address (all of 127/8 is this machine) still gets in, up to the total.
    for (let i = 0; i < 4; i++) await connack(await open("127.0.0.2"), `b${i}`);
    await closed(await open("127.0.0.3"));
    expect(await hub.limited("connections")).toBe(1);

    // A slot given back is free again.
    (sockets[0] as net.Socket).destroy();
    await waitFor(async () => {
      const socket = await open("127.0.0.3");
      return new Promise<true | undefined>((resolve) => {
        socket.once("close", () => resolve(undefined));
        connack(socket, "c0").then(
          () => resolve(true),
          () => resolve(undefined),
        );
      });
    });
  });

  it("a socket that never sends CONNECT is closed after the connect timeout", async () => {
    hub = await startTestHub({ LOCUS_MQTT_CONNECT_TIMEOUT_MS: "1000" });
    const silent = await rawSocket(hub.port);
    sockets.push(silent);
    await closed(silent);
    expect(await hub.limited("connect_timeout")).toBe(1);
    // One that sends its CONNECT in time stays.
    const client = await mqtt.connectAsync(hub.hub.mqttUrl, { reconnectPeriod: 0, keepalive: 0 });
    const other = await rawSocket(hub.port);
    sockets.push(other);
    await closed(other);
    expect(client.connected).toBe(true);
    expect(await hub.limited("connect_timeout")).toBe(2);
    await client.endAsync(true);
  });
});

describe("a client over its rates", () => {
  it("is slowed, not disconnected, and all its messages are acknowledged", async () => {
    hub = await startTestHub({ LOCUS_MQTT_CLIENT_MESSAGES_PER_S: "300" });
    const client = await mqtt.connectAsync(hub.hub.mqttUrl, { reconnectPeriod: 0 });
    let offline = false;
    client.on("close", () => {
      offline = true;
    });
    const sent = 1500;
    const acked = await Promise.all(
      Array.from({ length: sent }, (_, i) =>
        client.publishAsync(
          "locus/vehicles/fast/location",
          JSON.stringify({ latitude: 1, longitude: 2, seq: i, ts: 1e12 + i }),
          { qos: 1 },
        ),
      ),
    );
    expect(acked).toHaveLength(sent);
    expect(offline).toBe(false);
    expect(await hub.limited("message_rate")).toBeGreaterThan(0);
    const res = await fetch(`${hub.hub.httpUrl}/api/v1/vehicles/fast/locations?limit=10000`, {
      headers: { authorization: `Bearer ${hub.hub.token}` },
    });
    expect(((await res.json()) as { locations: unknown[] }).locations).toHaveLength(sent);
    await client.endAsync(true);
  });

  it("over its byte rate is slowed the same way, and loses nothing", async () => {
    hub = await startTestHub({ LOCUS_MQTT_CLIENT_BYTES_PER_S: "262144" });
    const client = await mqtt.connectAsync(hub.hub.mqttUrl, { reconnectPeriod: 0 });
    let offline = false;
    client.on("close", () => {
      offline = true;
    });
    // 100 batches of 100 fixes, about 1 MiB in all: four seconds' worth at this rate.
    const sent = 100;
    const batch = (i: number) =>
      JSON.stringify(
        Array.from({ length: 100 }, (_, j) => ({
          latitude: 1,
          longitude: 2,
          seq: i * 100 + j,
          ts: 1e12 + i * 100 + j,
          accuracy: 12.345678,
          altitude: 123.456789,
        })),
      );
    const acked = await Promise.all(
      Array.from({ length: sent }, (_, i) =>
        client.publishAsync("locus/vehicles/heavy/location", batch(i), { qos: 1 }),
      ),
    );
    expect(acked).toHaveLength(sent);
    expect(offline).toBe(false);
    expect(await hub.limited("byte_rate")).toBeGreaterThan(0);
    const res = await fetch(`${hub.hub.httpUrl}/api/v1/vehicles/heavy/locations?limit=10000`, {
      headers: { authorization: `Bearer ${hub.hub.token}` },
    });
    expect(((await res.json()) as { locations: unknown[] }).locations).toHaveLength(sent * 100);
    await client.endAsync(true);
  });

  it("has at most its in-flight limit of QoS 1 messages awaiting the hub's PUBACK", async () => {
    const maxInflight = 20;
    const pending: ((err: Error | null) => void)[] = [];
    let most = 0;
    const receiver = {
      handles: (topic: string) => topic.endsWith("/location"),
      receive(_topic: string, _payload: Uint8Array, done: (err: Error | null) => void) {
        pending.push(done);
        most = Math.max(most, pending.length);
      },
    };
    // Commits end in rounds, each taking whatever waits.
    const commits = setInterval(() => {
      for (const done of pending.splice(0)) done(null);
    }, 5);
    const limited: string[] = [];
    const broker = await EmbeddedBroker.start({
      host: "127.0.0.1",
      port: 0,
      allowAnonymous: true,
      receiver,
      logger: pino({ level: "silent" }),
      limits: { ...DEFAULT_MQTT_LIMITS, maxInflight },
      onLimited: (reason) => limited.push(reason),
    });
    try {
      const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const sent = 500;
      await Promise.all(
        Array.from({ length: sent }, () =>
          client.publishAsync("locus/vehicles/w/location", "{}", { qos: 1 }),
        ),
      );
      expect(most).toBe(maxInflight);
      expect(limited).toContain("inflight");
      expect(client.connected).toBe(true);
      await client.endAsync(true);
    } finally {
      clearInterval(commits);
      await broker.close();
    }
  });
});

// The hub's client of an external broker, against a real Mosquitto: PUBACK only after the
// receiver's callback, many messages in flight at once, redelivery after a store failure, a
// persistent session across hub restarts, reconnection, and clear start-up failures.

import mqtt, { type MqttClient } from "mqtt";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type Mosquitto,
  mosquittoBinary,
  startMosquitto,
  startRepoMosquitto,
} from "../../../tests/support/broker.ts";
import { freePort, waitFor } from "../../../tests/support/hub-process.ts";
import { startTcpProxy, type TcpProxy } from "../../../tests/support/tcp-proxy.ts";
import { BrokerConnectError, ExternalBroker, type ExternalBrokerOptions } from "./external.ts";

interface Held {
  topic: string;
  payload: string;
  done: (err: Error | null) => void;
}

/** A receiver that holds each message until the test settles it. */
class HeldReceiver {
  readonly messages: Held[] = [];
  receive(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    this.messages.push({ topic, payload: Buffer.from(payload).toString(), done });
  }
}

/** A receiver that commits at once. */
class InstantReceiver {
  readonly payloads: string[] = [];
  receive(_topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    this.payloads.push(Buffer.from(payload).toString());
    done(null);
  }
}

const hasMosquitto = mosquittoBinary() !== null;
const LOCATION = "locus/vehicles/truck-1/location";

describe.runIf(hasMosquitto)("ExternalBroker", () => {
  let mosquitto: Mosquitto;
  const brokers: ExternalBroker[] = [];
  const clients: MqttClient[] = [];
  const proxies: TcpProxy[] = [];
  let nextId = 0;

  function options(overrides: Partial<ExternalBrokerOptions>): ExternalBrokerOptions {
    return {
      url: mosquitto.url,
      username: null,
      password: null,
      clientId: `hub-test-${nextId++}`,
      sessionExpirySeconds: 600,
      receiveMaximum: 100,
      receiver: new InstantReceiver(),
      logger: pino({ level: "silent" }),
      startTimeoutMs: 5000,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      ...overrides,
    };
  }

  async function start(overrides: Partial<ExternalBrokerOptions>): Promise<ExternalBroker> {
    const broker = await ExternalBroker.start(options(overrides));
    brokers.push(broker);
    return broker;
  }

  async function device(): Promise<MqttClient> {
    const client = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0 });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    mosquitto = await startMosquitto({ persistence: false });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    for (const b of brokers.splice(0)) await b.close();
    for (const p of proxies.splice(0)) await p.close();
  });

  afterAll(async () => {
    await mosquitto?.stop();
  });

  /**
   * Cuts the hub's connection and lets it reconnect, then sends a marker: what the broker
   * delivers again (everything not acknowledged) arrives before the marker. Returns it.
   */
  async function redeliveredAfterReconnect(
    proxy: TcpProxy,
    broker: ExternalBroker,
    receiver: HeldReceiver,
    dev: MqttClient,
  ): Promise<string[]> {
    proxy.sever();
    await waitFor(() => (broker.state === "disconnected" ? true : undefined));
    const from = receiver.messages.length;
    proxy.restore();
    await waitFor(() => (broker.state === "ok" ? true : undefined), 5000);
    const marker = `marker-${nextId++}`;
    await dev.publishAsync(LOCATION, marker, { qos: 1 });
    await waitFor(() => (receiver.messages.some((m) => m.payload === marker) ? true : undefined));
    const after = receiver.messages.slice(from);
    for (const m of after) m.done(null);
    return after.map((m) => m.payload).filter((p) => p !== marker);
  }

  /**
   * Stops the hub cleanly (its PUBACKs go out before its DISCONNECT) and starts it again with the
   * same session: what the broker delivers before a marker is what was never acknowledged.
   */
  async function redeliveredAfterRestart(
    broker: ExternalBroker,
    clientId: string,
    dev: MqttClient,
  ) {
    await broker.close();
    const receiver = new HeldReceiver();
    await start({ clientId, receiver });
    const marker = `marker-${nextId++}`;
    await dev.publishAsync(LOCATION, marker, { qos: 1 });
    await waitFor(() => (receiver.messages.some((m) => m.payload === marker) ? true : undefined));
    for (const m of receiver.messages) m.done(null);
    return receiver.messages.map((m) => m.payload).filter((p) => p !== marker);
  }

  it("takes many messages at once and acknowledges each after its commit, in order", async () => {
    const proxy = await startTcpProxy(mosquitto.port);
    proxies.push(proxy);
    const receiver = new HeldReceiver();
    const clientId = "hub-in-order";
    const broker = await start({ clientId, receiver, url: proxy.url });
    const dev = await device();
    const sent = Array.from({ length: 50 }, (_, i) => String(i));
    for (const p of sent) dev.publish(LOCATION, p, { qos: 1 });
    // All 50 reach the receiver before any is settled: MQTT.js does not wait for each commit.
    await waitFor(() => (receiver.messages.length === 50 ? true : undefined));
    expect(receiver.messages.map((m) => m.payload)).toEqual(sent);
    // Settled but the first: none is acknowledged yet (PUBACKs go in arrival order), so after a
    // reconnection the broker sends all 50 again.
    for (let i = 49; i >= 1; i--) receiver.messages[i]?.done(null);
    await new Promise((r) => setTimeout(r, 100));
    expect(await redeliveredAfterReconnect(proxy, broker, receiver, dev)).toEqual(sent);
    // Those were all settled at once: acknowledged, so nothing comes back.
    expect(await redeliveredAfterRestart(broker, clientId, dev)).toEqual([]);
  });

  it("acknowledges thousands in arrival order as their commits settle, in waves", async () => {
    const proxy = await startTcpProxy(mosquitto.port);
    proxies.push(proxy);
    const receiver = new HeldReceiver();
    const clientId = "hub-many-in-order";
    const broker = await start({ clientId, receiver, url: proxy.url, receiveMaximum: 3000 });
    const dev = await device();
    const sent = Array.from({ length: 3000 }, (_, i) => String(i));
    for (const p of sent) dev.publish(LOCATION, p, { qos: 1 });
    await waitFor(() => (receiver.messages.length === 3000 ? true : undefined), 10_000);
    // The first 2,000 settle, in three waves, the last out of order: those are acknowledged
    // (the list of pending PUBACKs is compacted on the way), the last 1,000 are not.
    for (let i = 0; i < 1200; i++) receiver.messages[i]?.done(null);
    for (let i = 1999; i >= 1600; i--) receiver.messages[i]?.done(null);
    for (let i = 1200; i < 1600; i++) receiver.messages[i]?.done(null);
    await new Promise((r) => setTimeout(r, 200));
    expect(await redeliveredAfterReconnect(proxy, broker, receiver, dev)).toEqual(sent.slice(2000));
  });

  it("does not acknowledge a message the store failed to commit, and gets it again", async () => {
    const receiver = new HeldReceiver();
    const clientId = "hub-store-failure";
    const broker = await start({ clientId, receiver });
    const dev = await device();
    await dev.publishAsync(LOCATION, "fix", { qos: 1 });
    await waitFor(() => (receiver.messages.length === 1 ? true : undefined));
    receiver.messages[0]?.done(new Error("disk full"));
    // The hub drops the connection and reconnects; the broker delivers the message again.
    await waitFor(() => (receiver.messages.length === 2 ? true : undefined), 5000);
    expect(receiver.messages[1]?.payload).toBe("fix");
    receiver.messages[1]?.done(null);
    expect(await redeliveredAfterRestart(broker, clientId, dev)).toEqual([]);
  });

  it("keeps its session: what is published while the hub is away arrives when it returns", async () => {
    const clientId = "hub-session";
    const first = await start({ clientId });
    await first.close();
    const dev = await device();
    for (let i = 0; i < 3; i++) await dev.publishAsync(LOCATION, `away-${i}`, { qos: 1 });
    const receiver = new InstantReceiver();
    await start({ clientId, receiver });
    await waitFor(() => (receiver.payloads.length === 3 ? true : undefined));
    expect(receiver.payloads).toEqual(["away-0", "away-1", "away-2"]);
  });

  it("after stopAccepting leaves new messages with the broker for the next start", async () => {
    const clientId = "hub-stopping";
    const held = new HeldReceiver();
    const first = await start({ clientId, receiver: held });
    first.stopAccepting();
    const dev = await device();
    await dev.publishAsync(LOCATION, "late", { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(held.messages).toEqual([]);
    await first.close();
    const receiver = new InstantReceiver();
    await start({ clientId, receiver });
    await waitFor(() => (receiver.payloads.length === 1 ? true : undefined));
    expect(receiver.payloads).toEqual(["late"]);
  });

  it("publishes at QoS 1, reports a lost broker and reconnects to it", async () => {
    const receiver = new InstantReceiver();
    const broker = await start({ receiver });
    const sub = await device();
    const events: string[] = [];
    sub.on("message", (_t, p) => events.push(p.toString()));
    await sub.subscribeAsync("locus/geofence/events", { qos: 1 });
    await broker.publish("locus/geofence/events", "e1");
    await waitFor(() => (events.includes("e1") ? true : undefined));
    // Mosquitto's $SYS count (refreshed every sys_interval), or 1 for the hub itself.
    expect(broker.connectedClients).toBeGreaterThanOrEqual(0);

    await mosquitto.stop();
    await waitFor(() => (broker.state === "disconnected" ? true : undefined));
    expect(broker.connectedClients).toBe(0);
    await expect(broker.publish("locus/geofence/events", "e2")).rejects.toThrow(/not connected/);

    await mosquitto.start();
    await waitFor(() => (broker.state === "ok" ? true : undefined), 10_000);
    // This Mosquitto keeps nothing across a restart: the hub subscribed again by itself.
    const dev = await device();
    await dev.publishAsync(LOCATION, "after", { qos: 1 });
    await waitFor(() => (receiver.payloads.includes("after") ? true : undefined));
    await expect(broker.publish("locus/geofence/events", "e3")).resolves.toBeUndefined();
  });

  it("fails to start with a clear error when the broker cannot be reached", async () => {
    const port = await freePort();
    const err = await ExternalBroker.start(
      options({ url: `mqtt://user:secret@127.0.0.1:${port}`, startTimeoutMs: 1200 }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerConnectError);
    expect((err as BrokerConnectError).reason).toBe("unreachable");
    expect((err as Error).message).toMatch(
      new RegExp(`cannot reach the broker at mqtt://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}`),
    );
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect((err as Error).message).not.toMatch(/secret/);
  });

  it("fails to start at once when the broker refuses the credentials", async () => {
    const secured = await startRepoMosquitto({ users: { "locus-hub": "right" } });
    try {
      const began = Date.now();
      const err = await ExternalBroker.start(
        options({ url: secured.url, username: "locus-hub", password: "wrong" }),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrokerConnectError);
      expect((err as BrokerConnectError).reason).toBe("refused");
      expect((err as Error).message).toMatch(/refused the hub's credentials/);
      expect(Date.now() - began).toBeLessThan(3000);
      const ok = await ExternalBroker.start(
        options({ url: secured.url, username: "locus-hub", password: "right" }),
      );
      expect(ok.state).toBe("ok");
      await ok.close();
      expect(ok.state).toBe("closed");
    } finally {
      await secured.stop();
    }
  });
});

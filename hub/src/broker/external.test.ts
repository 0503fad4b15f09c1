// The hub's client of an external broker, against a real Mosquitto, beyond the broker contract
// (broker.contract.ts): many messages in flight at once, thousands acknowledged in waves, a
// persistent session across hub restarts, stopping, reconnection, and clear start-up failures.
// The hub's PUBACKs are read off its link by a tap (ack-tap.ts); nothing waits on a clock.

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
import { type AckTap, startAckTap } from "./ack-tap.ts";
import { BrokerConnectError, ExternalBroker, type ExternalBrokerOptions } from "./external.ts";

/** Long enough only to fail a test that is really stuck, on a busy machine. */
const STUCK_MS = 20_000;

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
const until = <T>(probe: () => T | undefined, what: string) => waitFor(probe, STUCK_MS, what);

describe.runIf(hasMosquitto)("ExternalBroker", () => {
  let mosquitto: Mosquitto;
  const brokers: ExternalBroker[] = [];
  const clients: MqttClient[] = [];
  const taps: AckTap[] = [];
  let nextId = 0;

  function options(overrides: Partial<ExternalBrokerOptions>): ExternalBrokerOptions {
    return {
      url: mosquitto.url,
      username: null,
      password: null,
      clientId: `hub-test-${process.pid}-${nextId++}`,
      sessionExpirySeconds: 600,
      receiveMaximum: 100,
      receiver: new InstantReceiver(),
      logger: pino({ level: "silent" }),
      startTimeoutMs: 10_000,
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

  async function tap(port = mosquitto.port): Promise<AckTap> {
    const t = await startAckTap(port, "client");
    taps.push(t);
    return t;
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
    for (const t of taps.splice(0)) await t.close();
  });

  afterAll(async () => {
    await mosquitto?.stop();
  });

  /**
   * The hub's own QoS 1 publish: once the broker acknowledged it, every PUBACK the hub wrote
   * before it has passed the tap, and every message that passed the tap towards the hub before it
   * has been handed to the receiver.
   */
  async function flush(broker: ExternalBroker): Promise<void> {
    await broker.publish("locus/test/flush", "flush");
  }

  it("takes many messages at once and acknowledges each after its commit, in order", async () => {
    const link = await tap();
    const receiver = new HeldReceiver();
    const broker = await start({ receiver, url: link.url });
    const dev = await device();
    const sent = Array.from({ length: 50 }, (_, i) => String(i));
    for (const p of sent) dev.publish(LOCATION, p, { qos: 1 });
    // All 50 reach the receiver before any is settled: MQTT.js does not wait for each commit.
    await until(() => (receiver.messages.length === 50 ? true : undefined), "50 messages");
    expect(receiver.messages.map((m) => m.payload)).toEqual(sent);
    // Settled but the first: none may be acknowledged (PUBACKs go in arrival order).
    for (let i = 49; i >= 1; i--) receiver.messages[i]?.done(null);
    await flush(broker);
    expect(link.acks).toEqual([]);
    receiver.messages[0]?.done(null);
    await until(() => (link.acks.length === 50 ? true : undefined), "50 PUBACKs");
    expect(link.ackedPayloads()).toEqual(sent);
  });

  it("acknowledges thousands in arrival order as their commits settle, in waves", async () => {
    const link = await tap();
    const receiver = new HeldReceiver();
    const broker = await start({ receiver, url: link.url, receiveMaximum: 3000 });
    const dev = await device();
    const sent = Array.from({ length: 3000 }, (_, i) => String(i));
    for (const p of sent) dev.publish(LOCATION, p, { qos: 1 });
    await until(() => (receiver.messages.length === 3000 ? true : undefined), "3000 messages");
    // The first 2,000 settle, in three waves, the last out of order: those are acknowledged
    // (the list of pending PUBACKs is compacted on the way), the last 1,000 are not.
    for (let i = 0; i < 1200; i++) receiver.messages[i]?.done(null);
    for (let i = 1999; i >= 1600; i--) receiver.messages[i]?.done(null);
    for (let i = 1200; i < 1600; i++) receiver.messages[i]?.done(null);
    await until(() => (link.acks.length >= 2000 ? true : undefined), "2000 PUBACKs");
    await flush(broker);
    expect(link.ackedPayloads()).toEqual(sent.slice(0, 2000));

    // Cut off, the hub reconnects, and the broker sends again what was not acknowledged.
    const from = receiver.messages.length;
    link.sever();
    await until(() => (broker.state === "disconnected" ? true : undefined), "the hub offline");
    link.restore();
    await until(() => (receiver.messages.length >= from + 1000 ? true : undefined), "redelivery");
    await flush(broker);
    const redelivered = receiver.messages.slice(from);
    expect(redelivered.map((m) => m.payload)).toEqual(sent.slice(2000));
    for (const m of redelivered) m.done(null);
  });

  it("keeps its session: what is published while the hub is away arrives when it returns", async () => {
    const clientId = `hub-session-${process.pid}`;
    const first = await start({ clientId });
    await first.close();
    const dev = await device();
    for (let i = 0; i < 3; i++) await dev.publishAsync(LOCATION, `away-${i}`, { qos: 1 });
    const receiver = new InstantReceiver();
    await start({ clientId, receiver });
    await until(() => (receiver.payloads.length === 3 ? true : undefined), "3 messages");
    expect(receiver.payloads).toEqual(["away-0", "away-1", "away-2"]);
  });

  it("after stopAccepting leaves new messages with the broker for the next start", async () => {
    const clientId = `hub-stopping-${process.pid}`;
    const link = await tap();
    const held = new HeldReceiver();
    const first = await start({ clientId, receiver: held, url: link.url });
    first.stopAccepting();
    const dev = await device();
    await dev.publishAsync(LOCATION, "late", { qos: 1 });
    // It reached the hub, which neither took nor acknowledged it.
    await until(() => (link.delivered.includes("late") ? true : undefined), "late at the hub");
    await flush(first);
    expect(held.messages).toEqual([]);
    expect(link.acks).toEqual([]);
    await first.close();
    const receiver = new InstantReceiver();
    await start({ clientId, receiver });
    await until(() => (receiver.payloads.length === 1 ? true : undefined), "the late message");
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
    await until(() => (events.includes("e1") ? true : undefined), "e1");

    await mosquitto.stop();
    await until(() => (broker.state === "disconnected" ? true : undefined), "the hub offline");
    expect(broker.connectedClients).toBe(0);
    await expect(broker.publish("locus/geofence/events", "e2")).rejects.toThrow(/not connected/);

    await mosquitto.start();
    await until(() => (broker.state === "ok" ? true : undefined), "the hub back");
    // This Mosquitto keeps nothing across a restart: the hub subscribed again by itself.
    const dev = await device();
    await dev.publishAsync(LOCATION, "after", { qos: 1 });
    await until(() => (receiver.payloads.includes("after") ? true : undefined), "after");
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
      const link = await tap(secured.port);
      const err = await ExternalBroker.start(
        options({ url: link.url, username: "locus-hub", password: "wrong" }),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrokerConnectError);
      expect((err as BrokerConnectError).reason).toBe("refused");
      expect((err as Error).message).toMatch(/refused the hub's credentials/);
      // One attempt: a refusal is not retried.
      expect(link.connections()).toBe(1);
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

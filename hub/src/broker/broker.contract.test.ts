// The broker contract (broker.contract.ts) against both brokers: the embedded one (aedes), tapped
// on a device's link, and the external one, the hub's client of a real Mosquitto, tapped on the
// hub's own link. Without mosquitto the external half is skipped with one loud line (under
// CI=true it fails instead).

import { EVENTS_TOPIC } from "@locus/protocol";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe } from "vitest";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "../../../tests/support/broker.ts";
import { waitFor } from "../../../tests/support/hub-process.ts";
import { startAckTap } from "./ack-tap.ts";
import { type BrokerUnderTest, brokerContract, type ContractReceiver } from "./broker.contract.ts";
import { EmbeddedBroker } from "./embedded.ts";
import { ExternalBroker } from "./external.ts";

const logger = pino({ level: "silent" });
let nextId = 0;
let nextFlush = 0;

/** A vehicle's way of connecting: a session kept across reconnections (MQTT 3.1.1: aedes's). */
function deviceOptions(clientId: string, reconnectPeriod: number): IClientOptions {
  return {
    clientId: `${clientId}-${process.pid}-${nextId++}`,
    protocolVersion: 4,
    clean: false,
    reconnectPeriod,
    connectTimeout: 10_000,
  };
}

/** Ends the clients, then the rest, in order. */
async function closeAll(clients: MqttClient[], ...rest: (() => Promise<void>)[]): Promise<void> {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  for (const close of rest) await close();
}

/** aedes acknowledges for the hub on each device's own connection, so the tap sits there. */
async function openEmbedded(receiver: ContractReceiver): Promise<BrokerUnderTest> {
  const broker = await EmbeddedBroker.start({
    host: "127.0.0.1",
    port: 0,
    receiver,
    logger,
    allowAnonymous: true,
  });
  const tap = await startAckTap(broker.port, "server");
  const clients: MqttClient[] = [];
  return {
    broker,
    tap,
    async device(clientId) {
      // Reconnects quickly by itself and sends what was not acknowledged again.
      const device = await mqtt.connectAsync(tap.url, deviceOptions(clientId, 50));
      clients.push(device);
      // The one topic an anonymous device may subscribe to (CONTRACT §3) carries the flushes.
      await device.subscribeAsync(EVENTS_TOPIC, { qos: 0 });
      return device;
    },
    async subscriber() {
      const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      clients.push(client);
      return client;
    },
    // A message the broker sends the device after every PUBACK it wrote so far: on one TCP
    // connection, through the tap, it arrives after them.
    async flush(device) {
      const payload = `flush ${device.options.clientId} ${nextFlush++}`;
      const arrived = waitForMessage(device, EVENTS_TOPIC, payload);
      await broker.publish(EVENTS_TOPIC, payload);
      await arrived;
    },
    async linkDown(device) {
      await waitFor(() => (device.connected ? undefined : true), 20_000, "the device offline");
    },
    close: () =>
      closeAll(
        clients,
        () => tap.close(),
        () => broker.close(),
      ),
  };
}

function waitForMessage(client: MqttClient, topic: string, payload: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (t: string, p: Buffer) => {
      if (t !== topic || p.toString() !== payload) return;
      client.off("message", onMessage);
      resolve();
    };
    client.on("message", onMessage);
  });
}

brokerContract("EmbeddedBroker (aedes)", openEmbedded, { connectionPerDevice: true });

const hasMosquitto = mosquittoBinary() !== null;

describe.runIf(hasMosquitto)("ExternalBroker (Mosquitto)", () => {
  let mosquitto: Mosquitto;

  beforeAll(async () => {
    mosquitto = await startMosquitto({ persistence: false });
  });

  afterAll(async () => {
    await mosquitto?.stop();
  });

  /** The hub acknowledges to Mosquitto on its own connection, so the tap sits there. */
  async function openExternal(receiver: ContractReceiver): Promise<BrokerUnderTest> {
    const tap = await startAckTap(mosquitto.port, "client");
    const broker = await ExternalBroker.start({
      url: tap.url,
      username: null,
      password: null,
      clientId: `hub-contract-${process.pid}-${nextId++}`,
      sessionExpirySeconds: 60,
      receiveMaximum: 100,
      receiver,
      logger,
      startTimeoutMs: 10_000,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
    });
    const clients: MqttClient[] = [];
    return {
      broker,
      tap,
      async device(clientId) {
        const device = await mqtt.connectAsync(mosquitto.url, deviceOptions(clientId, 0));
        clients.push(device);
        return device;
      },
      async subscriber() {
        const client = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0 });
        clients.push(client);
        return client;
      },
      // The hub's own QoS 1 publish: once Mosquitto has acknowledged it, it passed the tap after
      // every PUBACK the hub wrote before it.
      async flush() {
        await broker.publish("locus/contract/flush", "flush");
      },
      async linkDown() {
        await waitFor(
          () => (broker.state === "disconnected" ? true : undefined),
          20_000,
          "the hub disconnected",
        );
      },
      close: () =>
        closeAll(
          clients,
          () => broker.close(),
          () => tap.close(),
        ),
    };
  }

  brokerContract("ExternalBroker (Mosquitto)", openExternal, { connectionPerDevice: false });
});

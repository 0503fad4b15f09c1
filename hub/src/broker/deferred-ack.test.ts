// Pins down the MQTT.js behaviour deferred-ack.ts relies on, against an in-process aedes: a
// message deferred by handleMessage gets no PUBACK from MQTT.js, the client reads on meanwhile,
// and a PUBACK written later on the client's stream goes out whole (read off the wire by a tap). Should an MQTT.js
// upgrade change any of that, this fails before the hub does.

import net from "node:net";
import { Aedes } from "aedes";
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../tests/support/hub-process.ts";
import { startAckTap } from "./ack-tap.ts";
import { deferAcks, sendPuback } from "./deferred-ack.ts";

describe("deferred PUBACKs on an MQTT.js client", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startAedes(): Promise<{ port: number; url: string }> {
    const aedes = await Aedes.createBroker();
    const server = net.createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address() as net.AddressInfo;
    cleanups.push(async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      server.close();
    });
    return { port: address.port, url: `mqtt://127.0.0.1:${address.port}` };
  }

  async function connect(url: string): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    cleanups.push(() => client.endAsync(true));
    return client;
  }

  it("reads on without acknowledging, and sends the PUBACKs the caller writes", async () => {
    const { port, url } = await startAedes();
    const tap = await startAckTap(port, "client");
    cleanups.push(() => tap.close());
    const hub = mqtt.connect(tap.url, { clientId: "deferring", reconnectPeriod: 0 });
    cleanups.push(() => hub.endAsync(true));
    const taken: IPublishPacket[] = [];
    // "auto" is acknowledged by MQTT.js itself; everything else is deferred.
    deferAcks(hub, (packet) => {
      taken.push(packet);
      return packet.payload.toString() === "auto";
    });
    const sent: Packet[] = [];
    hub.on("packetsend", (packet) => sent.push(packet));
    await new Promise<void>((resolve) => hub.once("connect", () => resolve()));
    await hub.subscribeAsync("deferred/test", { qos: 1 });

    const acked = () => tap.ackedPayloads();
    const device = await connect(url);
    for (const payload of ["m0", "m1", "m2"]) device.publish("deferred/test", payload, { qos: 1 });
    // All three reach the hub though none is acknowledged: MQTT.js did not wait.
    await waitFor(() => (taken.length === 3 ? true : undefined), 20_000, "three messages");
    expect(taken.map((p) => p.payload.toString())).toEqual(["m0", "m1", "m2"]);
    expect(sent.filter((p) => p.cmd === "puback")).toEqual([]);

    // Out of order on purpose: had MQTT.js acknowledged m0 itself, it would come first.
    for (const i of [1, 0, 2]) sendPuback(hub, (taken[i] as IPublishPacket).messageId as number);
    await waitFor(() => (acked().length === 3 ? true : undefined), 20_000, "three PUBACKs");
    expect(acked()).toEqual(["m1", "m0", "m2"]);

    // A message the hook does not defer is acknowledged by MQTT.js, as before.
    device.publish("deferred/test", "auto", { qos: 1 });
    await waitFor(() => (acked().length === 4 ? true : undefined), 20_000, "the automatic PUBACK");
    expect(acked()[3]).toBe("auto");
    expect(sent.filter((p) => p.cmd === "puback")).toHaveLength(1);
  });
});

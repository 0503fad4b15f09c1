// The broker contract: what the hub relies on from either broker, embedded (aedes) or external
// (Mosquitto), checked the same way on both. A message is acknowledged only once its commit
// completes, never when the commit fails, and in arrival order on its connection; what was not
// acknowledged comes again after a reconnection; events the hub publishes at QoS 1 arrive.
// The acknowledgements are read off the wire by a tap (ack-tap.ts) on the link that carries them.

import { EVENTS_TOPIC, locationTopic } from "@locus/protocol";
import type { MqttClient } from "mqtt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../tests/support/hub-process.ts";
import type { Receiver } from "../ingest/receiver.ts";
import type { AckTap } from "./ack-tap.ts";
import type { Broker } from "./broker.ts";

/** Long enough only to fail a test that is really stuck, on a busy machine. */
const STUCK_MS = 20_000;

/** A message the receiver holds until the test ends its commit. */
export interface HeldMessage {
  topic: string;
  payload: string;
  commit(): void;
  fail(err: Error): void;
}

/** A Receiver whose commits end when the test says so. */
export class ContractReceiver implements Pick<Receiver, "handles" | "receive"> {
  readonly messages: HeldMessage[] = [];

  handles(topic: string): boolean {
    return topic.startsWith("locus/vehicles/") && topic.endsWith("/location");
  }

  receive(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    this.messages.push({
      topic,
      payload: Buffer.from(payload).toString(),
      commit: () => done(null),
      fail: (err) => done(err),
    });
  }

  /** Waits until `payload` has arrived `times` times; returns its latest arrival. */
  async arrival(payload: string, times = 1): Promise<HeldMessage> {
    return waitFor(
      () => {
        const arrivals = this.messages.filter((m) => m.payload === payload);
        return arrivals.length >= times ? arrivals[times - 1] : undefined;
      },
      STUCK_MS,
      `arrival ${times} of ${payload}`,
    );
  }
}

/** One broker set up for a test, the hub's side started with the test's receiver. */
export interface BrokerUnderTest {
  broker: Broker;
  /** The link that carries the hub's acknowledgements, tapped. */
  tap: AckTap;
  /** A vehicle's client, with a persistent session. */
  device(clientId: string): Promise<MqttClient>;
  /** A client that reads events, straight from the broker. */
  subscriber(): Promise<MqttClient>;
  /** Resolves once all the hub's side wrote so far on `device`'s acknowledgement link is past the tap. */
  flush(device: MqttClient): Promise<void>;
  /** Resolves once the hub's side has noticed the link is gone. */
  linkDown(device: MqttClient): Promise<void>;
  close(): Promise<void>;
}

export interface ContractOptions {
  /**
   * Each device's messages reach the hub on a connection of their own (embedded), rather than
   * all on the hub's one connection to the broker (external), where they share one order.
   */
  connectionPerDevice: boolean;
}

export function brokerContract(
  name: string,
  open: (receiver: ContractReceiver) => Promise<BrokerUnderTest>,
  { connectionPerDevice }: ContractOptions,
): void {
  describe(`${name}: broker contract`, () => {
    let receiver: ContractReceiver;
    let sut: BrokerUnderTest;
    let nextVehicle = 0;
    let topic: string;

    beforeEach(async () => {
      receiver = new ContractReceiver();
      sut = await open(receiver);
      topic = locationTopic(`contract-${process.pid}-${nextVehicle++}`);
    });

    afterEach(async () => {
      await sut.close();
    });

    const acksOf = (payload: string) => sut.tap.acks.filter((a) => a.payload === payload);

    it("acknowledges a message only after its commit completes", async () => {
      const dev = await sut.device("commit-first");
      dev.publish(topic, "m1", { qos: 1 });
      const held = await receiver.arrival("m1");
      await sut.flush(dev);
      expect(acksOf("m1")).toEqual([]);
      held.commit();
      await waitFor(() => acksOf("m1")[0], STUCK_MS, "the PUBACK of m1");
      expect(acksOf("m1")).toHaveLength(1);
    });

    it("does not acknowledge a message whose commit failed, and gets it again", async () => {
      const dev = await sut.device("commit-fails");
      dev.publish(topic, "m2", { qos: 1 });
      (await receiver.arrival("m2")).fail(new Error("disk full"));
      const again = await receiver.arrival("m2", 2);
      await sut.flush(dev);
      expect(acksOf("m2")).toEqual([]);
      again.commit();
      await waitFor(() => acksOf("m2")[0], STUCK_MS, "the PUBACK of m2");
      expect(acksOf("m2")).toHaveLength(1);
    });

    it("gets a message again when the connection is lost before its PUBACK", async () => {
      const dev = await sut.device("ack-lost");
      dev.publish(topic, "m3", { qos: 1 });
      const first = await receiver.arrival("m3");
      sut.tap.sever();
      await sut.linkDown(dev);
      sut.tap.restore();
      const again = await receiver.arrival("m3", 2);
      // The first commit ends now, on a connection that is gone: it acknowledges nothing, not
      // even on the new connection, where the same message waits for its own commit.
      first.commit();
      await sut.flush(dev);
      expect(acksOf("m3")).toEqual([]);
      again.commit();
      await waitFor(() => acksOf("m3")[0], STUCK_MS, "the PUBACK of m3");
      expect(acksOf("m3")).toHaveLength(1);
      expect(acksOf("m3")[0]?.connection).toBeGreaterThan(0);
    });

    it("acknowledges in arrival order on a connection, whatever order commits end in", async () => {
      const dev = await sut.device("in-order");
      const sent = ["o0", "o1", "o2", "o3", "o4"];
      for (const p of sent) dev.publish(topic, p, { qos: 1 });
      const held = await Promise.all(sent.map((p) => receiver.arrival(p)));
      for (const m of held.reverse()) {
        m.commit();
        // Every commit but the first message's leaves a gap at the head: nothing may go out.
        if (m.payload !== "o0") {
          await sut.flush(dev);
          expect(sut.tap.acks.filter((a) => sent.includes(a.payload))).toEqual([]);
        }
      }
      await waitFor(() => (acksOf("o4")[0] ? true : undefined), STUCK_MS, "the PUBACK of o4");
      const order = sut.tap.ackedPayloads().filter((p) => sent.includes(p));
      expect(order).toEqual(sent);
    });

    // Only where each device has a connection of its own to the hub: an external broker carries
    // every device's messages over the hub's one connection, in one order.
    if (connectionPerDevice) {
      it("does not hold one connection's acknowledgements behind another's", async () => {
        const slow = await sut.device("slow");
        const quick = await sut.device("quick");
        slow.publish(topic, "s1", { qos: 1 });
        const held = await receiver.arrival("s1");
        quick.publish(topic, "q1", { qos: 1 });
        (await receiver.arrival("q1")).commit();
        await waitFor(() => acksOf("q1")[0], STUCK_MS, "the PUBACK of q1");
        await sut.flush(slow);
        expect(acksOf("s1")).toEqual([]);
        held.commit();
        await waitFor(() => acksOf("s1")[0], STUCK_MS, "the PUBACK of s1");
      });
    }

    it("delivers events the hub publishes at QoS 1", async () => {
      const sub = await sut.subscriber();
      const received = new Promise<{ topic: string; payload: string; qos: number }>((resolve) =>
        sub.on("message", (t, p, packet) =>
          resolve({ topic: t, payload: p.toString(), qos: packet.qos }),
        ),
      );
      await sub.subscribeAsync(EVENTS_TOPIC, { qos: 1 });
      await sut.broker.publish(EVENTS_TOPIC, '{"event":"enter"}');
      expect(await received).toEqual({ topic: EVENTS_TOPIC, payload: '{"event":"enter"}', qos: 1 });
    });
  });
}

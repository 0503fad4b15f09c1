// Deferred PUBACKs on an MQTT.js client: the one place the hub relies on MQTT.js behaviour its
// documentation does not promise. deferred-ack.test.ts fails if an MQTT.js upgrade changes it.
//
// The hub must acknowledge a message only once its fixes are committed, and must keep reading
// while commits are pending (a group commit gathers many messages). MQTT.js has two public hooks,
// and neither defers on its own:
// - `customHandleAcks(topic, message, packet, done)` picks the PUBACK's reason code, but MQTT.js
//   reads the next packet only after `done` and the PUBACK: holding it holds the connection to
//   one message at a time.
// - `handleMessage(packet, callback)` is the same, except that `callback(error)` skips the PUBACK
//   and reads on. That is the undocumented part used here.
// The PUBACK is then written later, by the hub, onto the client's public `stream`: four bytes as
// MQTT 5 §3.4 lays them out (success, no properties), instead of through MQTT.js's private
// `_sendPacket`. Nothing else writes to that stream in between, as MQTT.js writes each packet
// whole and synchronously.

import type { IPublishPacket, MqttClient } from "mqtt";

/** Handed to MQTT.js's callback: "no PUBACK now, but read on". */
const DEFERRED = new Error("acknowledged after commit");

/**
 * Routes every incoming PUBLISH to `onPublish`. When it returns true, MQTT.js acknowledges the
 * message as usual; when false, it sends nothing, and the caller owes the PUBACK (sendPuback).
 */
export function deferAcks(
  client: MqttClient,
  onPublish: (packet: IPublishPacket) => boolean,
): void {
  client.handleMessage = (packet, callback) => {
    if (onPublish(packet)) callback();
    else callback(DEFERRED);
  };
}

/** Streams corked until the end of this tick (see sendPuback). */
const corked = new WeakSet<object>();

/**
 * Acknowledges a QoS 1 message on the client's current connection. The PUBACKs of one group
 * commit are written in one tick; the stream stays corked until its end, so they leave in one
 * write rather than one system call each.
 */
export function sendPuback(client: MqttClient, messageId: number): void {
  const stream = client.stream;
  if (!corked.has(stream)) {
    corked.add(stream);
    stream.cork();
    process.nextTick(() => {
      corked.delete(stream);
      stream.uncork();
    });
  }
  stream.write(Buffer.of(0x40, 0x02, messageId >> 8, messageId & 0xff));
}

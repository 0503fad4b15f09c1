// A client that stops reading must not hold up anyone else: a message routed to it never waits
// for its socket to drain, and it is cut off once what waits to be written to it passes a bound.
//
// Why it stalled the fleet: aedes writes a packet with `mqtt.writeToStream`; when the socket's
// buffer is past its high-water mark the write returns false and aedes calls the delivery's
// callback only on 'drain' (client.waitForDrain), or after its `drainTimeout`. The router (mq.ts,
// mqemitter) calls back a message's emit only once every subscriber's delivery has called back,
// and aedes handles a publisher's next packets only once that emit has called back. So one
// subscriber that stops reading holds every message routed to it: each publisher waits for its
// own message, the router's concurrency slots (100) fill, and from then on no message from
// anyone is routed, nor a publisher's next packet read, until the drain timeout cuts the reader
// off (30 s of zero PUBACKs, measured). The hub's own event publications wait the same way, so
// the outbox grows while honest subscribers receive nothing.
//
// So each client's delivery functions (aedes's `deliverQoS` and `deliver0`, which its
// subscriptions call for every routed message) are wrapped: the router is called back at once,
// while the write goes on behind it. What piles up for a client that does not read is bounded
// here: deliveries made while its socket needs draining (`queueMessages`), bytes in its buffer
// (`queueBytes`), and time without a drain (`stallTimeoutMs`); past any of them it is
// disconnected. Retained messages sent on SUBSCRIBE, the offline queue and PUBACKs keep aedes's
// own wait for 'drain': they come from this client's own stream or packet, so waiting holds up
// no one else, and a subscriber with more retained messages than `queueMessages` still gets them.

import type net from "node:net";
import type { AedesPublishPacket, Client } from "aedes";
import type { MqttLimits, OnLimited } from "./limits.ts";

type WriteLimits = Pick<MqttLimits, "queueMessages" | "queueBytes" | "stallTimeoutMs">;
type Deliver = (packet: AedesPublishPacket, done: () => void) => void;
type Deliveries = { deliverQoS?: Deliver; deliver0?: Deliver };

function noop(): void {}

/** Bounds what waits to be written to one connection; `install` right after aedes.handle. */
export class WriteBound {
  readonly #socket: net.Socket;
  readonly #client: Client & Deliveries;
  readonly #limits: WriteLimits;
  readonly #onLimited: OnLimited;
  /** Deliveries made while the socket's buffer was past its high-water mark, since it drained. */
  #queued = 0;
  #stall: NodeJS.Timeout | null = null;
  #cut = false;

  constructor(socket: net.Socket, client: Client, limits: WriteLimits, onLimited: OnLimited) {
    this.#socket = socket;
    this.#client = client;
    this.#limits = limits;
    this.#onLimited = onLimited;
  }

  /** Wraps the client's deliveries; throws when aedes no longer has them (a test covers it). */
  install(): void {
    const client = this.#client;
    const { deliverQoS, deliver0 } = client;
    if (typeof deliverQoS !== "function" || typeof deliver0 !== "function") {
      throw new Error(
        "aedes Client has no deliverQoS/deliver0: the slow-reader bound cannot be set",
      );
    }
    client.deliverQoS = this.#wrap(deliverQoS);
    client.deliver0 = this.#wrap(deliver0);
    this.#socket.on("drain", () => this.#drained());
    this.#socket.once("close", () => {
      this.#cut = true;
      this.#drained();
    });
  }

  #wrap(deliver: Deliver): Deliver {
    return (packet, done) => {
      // A retained message sent on SUBSCRIBE: the next one waits for this one (see above).
      if (packet.retain) return deliver(packet, done);
      if (this.#cut) return setImmediate(done);
      if (this.#socket.writableNeedDrain) this.#full();
      if (!this.#cut) deliver(packet, noop);
      // After the write, which aedes makes in a setImmediate of its own: as soon as it would
      // call back for a client that reads, never later.
      setImmediate(done);
    };
  }

  /** A delivery found the socket's buffer past its high-water mark. */
  #full(): void {
    this.#queued++;
    if (
      this.#queued > this.#limits.queueMessages ||
      this.#socket.writableLength > this.#limits.queueBytes
    ) {
      this.#cutOff();
      return;
    }
    this.#stall ??= setTimeout(() => this.#cutOff(), this.#limits.stallTimeoutMs);
  }

  #drained(): void {
    this.#queued = 0;
    if (this.#stall !== null) clearTimeout(this.#stall);
    this.#stall = null;
  }

  #cutOff(): void {
    if (this.#cut) return;
    this.#cut = true;
    this.#onLimited("slow_reader");
    this.#socket.destroy();
  }
}

// A client that stops reading must not hold up anyone else: the broker never waits for its
// socket to drain, and cuts it off once what waits to be written to it passes a bound.
//
// Why it stalled the fleet: aedes writes a packet with `mqtt.writeToStream`; when the socket's
// buffer is past its high-water mark the write returns false and aedes calls the delivery's
// callback only on 'drain' (client.waitForDrain), or after `drainTimeout`. The router (mq.ts,
// mqemitter) calls back a message's emit only once every subscriber's delivery has called back,
// and aedes handles a publisher's next packets only once that emit has called back. So one
// subscriber that stops reading holds every message routed to it: each publisher waits for its
// own message, the router's concurrency slots (100) fill, and from then on no message from
// anyone is routed, nor its PUBACK followed by the next read, until the drain timeout cuts the
// reader off (30 s of zero acknowledgements, measured). The hub's own event publications wait
// the same way, so the outbox grows while honest subscribers receive nothing.
//
// So each connection's `waitForDrain` calls back at once, whatever the socket holds: deliveries,
// PUBACKs and SUBACKs never wait for a client to read. What piles up in its socket instead is
// bounded here: messages written since the socket last drained (`queueMessages`), bytes in its
// buffer (`queueBytes`), and time spent unable to drain (`stallTimeoutMs`); past any of them the
// client is disconnected. `waitForDrain` is an aedes Client method, replaced on the instance
// before the client handles any packet; `install` checks it is there, a test covers the rest.

import type net from "node:net";
import type { Client } from "aedes";
import type { MqttLimits, OnLimited } from "./limits.ts";

type WriteLimits = Pick<MqttLimits, "queueMessages" | "queueBytes" | "stallTimeoutMs">;
type DrainCallback = (err: Error | null, client: Client) => void;

/** Bounds what waits to be written to one connection; `install` right after aedes.handle. */
export class WriteBound {
  readonly #socket: net.Socket;
  readonly #client: Client;
  readonly #limits: WriteLimits;
  readonly #onLimited: OnLimited;
  /** Writes that found the socket's buffer full since it last drained. */
  #queued = 0;
  #stall: NodeJS.Timeout | null = null;
  #cut = false;

  constructor(socket: net.Socket, client: Client, limits: WriteLimits, onLimited: OnLimited) {
    this.#socket = socket;
    this.#client = client;
    this.#limits = limits;
    this.#onLimited = onLimited;
  }

  /** Replaces the client's wait for 'drain'; throws when aedes no longer has one to replace. */
  install(): void {
    const client = this.#client as Client & { waitForDrain?: (cb: DrainCallback) => void };
    if (typeof client.waitForDrain !== "function") {
      throw new Error("aedes Client has no waitForDrain: the slow-reader bound cannot be set");
    }
    client.waitForDrain = (callback) => {
      this.#full();
      setImmediate(callback, null, client);
    };
    this.#socket.on("drain", () => this.#drained());
    this.#socket.once("close", () => this.#drained());
  }

  /** A write found the buffer past its high-water mark. */
  #full(): void {
    if (this.#cut) return;
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

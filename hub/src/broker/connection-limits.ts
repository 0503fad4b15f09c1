// The embedded broker's door: connections over the total or per-address limit are closed before
// aedes sees them, and each admitted one gets its reading and writing limits.

import type net from "node:net";
import type { Aedes, AedesPublishPacket, Client } from "aedes";
import type { MqttLimits, OnLimited } from "./limits.ts";
import { ReadGate } from "./read-limits.ts";
import { WriteBound } from "./write-limits.ts";

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; it is the same address. */
function addressOf(socket: net.Socket): string {
  const address = socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/** Admits connections within the limits and hands them to aedes with their per-client limits. */
export class ConnectionLimiter {
  readonly #aedes: Aedes;
  readonly #limits: MqttLimits;
  readonly #onLimited: OnLimited;
  readonly #perAddress = new Map<string, number>();
  readonly #gates = new WeakMap<object, ReadGate>();
  #open = 0;

  constructor(aedes: Aedes, limits: MqttLimits, onLimited: OnLimited = () => {}) {
    this.#aedes = aedes;
    this.#limits = limits;
    this.#onLimited = onLimited;
    // aedes emits 'publish' for a client's QoS 1 message after writing its PUBACK.
    aedes.on("publish", (packet: AedesPublishPacket, client: Client | null) => {
      if (client !== null && packet.qos === 1) this.#gates.get(client.conn)?.acknowledged();
    });
  }

  /** Connections open now. */
  get open(): number {
    return this.#open;
  }

  /** The `net.Server` connection listener, in place of `aedes.handle`. */
  readonly handle = (socket: net.Socket): void => {
    const address = addressOf(socket);
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (this.#open >= this.#limits.maxConnections) {
      this.#refuse(socket, "connections");
      return;
    }
    if (fromAddress >= this.#limits.maxConnectionsPerAddress) {
      this.#refuse(socket, "connections_per_address");
      return;
    }
    this.#open++;
    this.#perAddress.set(address, fromAddress + 1);
    socket.once("close", () => {
      this.#open--;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    const gate = new ReadGate(socket, this.#limits, this.#onLimited);
    gate.install();
    this.#gates.set(socket, gate);
    const client = this.#aedes.handle(socket);
    new WriteBound(socket, client, this.#limits, this.#onLimited).install();
  };

  #refuse(socket: net.Socket, reason: "connections" | "connections_per_address"): void {
    this.#onLimited(reason);
    socket.on("error", () => {});
    socket.destroy();
  }
}

/**
 * aedes's own options that follow the limits. Its connect timer backs up the gate's; its drain
 * timeout closes a client whose own packets wait on its socket (PUBACKs it does not read,
 * retained messages on SUBSCRIBE), which holds up no one else (write-limits.ts).
 */
export function aedesLimitOptions(limits: MqttLimits): {
  connectTimeout: number;
  drainTimeout: number;
} {
  // A second later than the limits' own timers, which count what they cut.
  return {
    connectTimeout: limits.connectTimeoutMs + 1000,
    drainTimeout: limits.stallTimeoutMs + 1000,
  };
}

// The embedded MQTT broker (aedes, in-process). Location messages are acknowledged only after
// their fixes are committed: aedes sends PUBACK once authorizePublish calls back, which happens
// here in arrival order per connection (MQTT 5 §4.6), whatever order the commits end in.

import net from "node:net";
import { EVENTS_TOPIC } from "@locus/protocol";
import { Aedes } from "aedes";
import type { Logger } from "pino";
import type { Receiver } from "../ingest/receiver.ts";
import { AckQueue } from "./ack-queue.ts";
import type { Broker, BrokerState } from "./broker.ts";
import { aedesLimitOptions, ConnectionLimiter } from "./connection-limits.ts";
import { DEFAULT_MQTT_LIMITS, type MqttLimits, type OnLimited } from "./limits.ts";
import { createRouter } from "./mq.ts";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  receiver: Pick<Receiver, "handles" | "receive">;
  logger: Logger;
  /** What one client may take (limits.ts); default DEFAULT_MQTT_LIMITS. */
  limits?: MqttLimits;
  /** Told each time a limit refuses, cuts or slows a client (for the metrics). */
  onLimited?: OnLimited;
}

type Authorized = (err: Error | null) => void;

export class EmbeddedBroker implements Broker {
  readonly #aedes: Aedes;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #port = 0;
  #host: string;

  private constructor(aedes: Aedes, server: net.Server, host: string) {
    this.#aedes = aedes;
    this.#server = server;
    this.#host = host;
  }

  /** Starts the broker and listens; rejects with a clear error when the port is taken. */
  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const { receiver, logger } = options;
    /** Each connection's acknowledgements, held until the ones before them are due. */
    const inOrder = new WeakMap<object, AckQueue<Authorized>>();
    const aedes = await Aedes.createBroker({
      // aedes's own router, without the recursion that a burst of acknowledged fixes overflows.
      mq: createRouter(100),
      // Nobody waits for a client that stops reading: write-limits.ts bounds what it holds.
      ...aedesLimitOptions(options.limits ?? DEFAULT_MQTT_LIMITS),
      maxClientsIdLength: 128,
      authorizePublish(client, packet, callback) {
        const topic = packet.topic;
        if (topic.startsWith("$SYS")) return callback(new Error("$SYS topics are reserved"));
        if (client !== null && topic === EVENTS_TOPIC) {
          return callback(new Error(`only the hub publishes on ${EVENTS_TOPIC}`));
        }
        const payload =
          typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
        if (client === null || packet.qos === 0) {
          if (!receiver.handles(topic)) return callback(null);
          return receiver.receive(topic, payload, (err) => callback(err));
        }
        let acks = inOrder.get(client);
        if (acks === undefined) {
          acks = new AckQueue<Authorized>((authorized) => authorized(null));
          inOrder.set(client, acks);
        }
        const queue = acks;
        const ticket = queue.take(callback);
        if (!receiver.handles(topic)) return queue.settle(ticket);
        receiver.receive(topic, payload, (err) => {
          if (!queue.isCurrent(ticket)) return;
          // aedes drops a connection whose publish fails: all it still owes is void, and the
          // device sends those messages again.
          if (err) for (const authorized of queue.connectionLost()) authorized(err);
          else queue.settle(ticket);
        });
      },
    });
    aedes.on("clientError", (client, err) => {
      logger.debug({ client: client?.id, err: err.message }, "mqtt client error");
    });
    aedes.on("connectionError", (client, err) => {
      logger.debug({ client: client?.id, err: err.message }, "mqtt connection error");
    });
    // TCP_NODELAY, as Mosquitto sets it: without it, a PUBACK written while an earlier segment
    // is unacknowledged waits for the peer's delayed ACK (Nagle), adding milliseconds to every
    // acknowledgement and capping what a vehicle with a small in-flight window can send.
    const limiter = new ConnectionLimiter(
      aedes,
      options.limits ?? DEFAULT_MQTT_LIMITS,
      options.onLimited,
    );
    const server = net.createServer({ noDelay: true }, limiter.handle);
    const broker = new EmbeddedBroker(aedes, server, options.host);
    server.on("connection", (socket) => {
      broker.#sockets.add(socket);
      socket.on("close", () => broker.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      aedes.close();
      throw err;
    });
    const address = server.address();
    broker.#port = typeof address === "object" && address ? address.port : options.port;
    return broker;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    const host = this.#host.includes(":") ? `[${this.#host}]` : this.#host;
    return `mqtt://${host}:${this.#port}`;
  }

  get connectedClients(): number {
    return this.#aedes.connectedClients;
  }

  get closed(): boolean {
    return this.#aedes.closed;
  }

  get state(): BrokerState {
    return this.#aedes.closed ? "closed" : "ok";
  }

  /** Publishes on behalf of the hub at QoS 1; resolves once aedes has routed it. */
  publish(topic: string, payload: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#aedes.publish(
        {
          cmd: "publish",
          topic,
          payload: Buffer.from(payload),
          qos: 1,
          retain: false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Stops taking new connections; connected clients stay until close(). */
  stopAccepting(): void {
    if (this.#server.listening) this.#server.close();
  }

  /** Disconnects every client and stops the broker. */
  async close(): Promise<void> {
    this.stopAccepting();
    await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
  }
}

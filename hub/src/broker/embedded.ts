// The embedded MQTT broker (aedes, in-process). Location messages are acknowledged only after
// their fixes are committed: aedes sends PUBACK once authorizePublish calls back, which happens
// here in arrival order per connection (MQTT 5 §4.6), whatever order the commits end in.
// Who may do what is decided by the AccessGuard (CONTRACT §3).

import net from "node:net";
import tls from "node:tls";
import { Aedes } from "aedes";
import type { Logger } from "pino";
import type { MqttRefusal } from "../identity/access.ts";
import type { MqttAuthenticator } from "../identity/principal.ts";
import type { Receiver } from "../ingest/receiver.ts";
import { AckQueue } from "./ack-queue.ts";
import type { Broker, BrokerState } from "./broker.ts";
import { aedesLimitOptions, ConnectionLimiter } from "./connection-limits.ts";
import { AccessGuard, DROPPED_TOPIC, dropPublish } from "./embedded-guard.ts";
import { DEFAULT_MQTT_LIMITS, type MqttLimits, type OnLimited } from "./limits.ts";
import { createRouter } from "./mq.ts";
import { DEFAULT_RETAINED_LIMITS, type RetainedLimits } from "./retained-ledger.ts";
import { drainSockets } from "./socket-drain.ts";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  receiver: Pick<Receiver, "handles" | "receive">;
  logger: Logger;
  /** Checks credentials (the account service); absent, every username is refused. */
  authenticate?: MqttAuthenticator;
  /** Whether clients without a username may connect, with the anonymous rights of §3. */
  allowAnonymous: boolean;
  /** Bounds on retained messages; each defaults to DEFAULT_RETAINED_LIMITS. */
  retainedLimits?: Partial<RetainedLimits>;
  /** Called for each refusal (a login, publish or subscription), for the metrics. */
  onRefused?: (reason: MqttRefusal) => void;
  /** Also listen for MQTT over TLS on this port (same host), with this PEM certificate and key. */
  tls?: { cert: Buffer | string; key: Buffer | string; port: number };
  /** What one client may take (limits.ts); default DEFAULT_MQTT_LIMITS. */
  limits?: MqttLimits;
  /** Told each time a limit refuses, cuts or slows a client (for the metrics). */
  onLimited?: OnLimited;
  /** With several hubs: this broker's side of MQTT across hubs (cluster/device-relay.ts). */
  bridge?: BrokerBridge;
}

/** What a broker shared with other hubs' brokers tells them (cluster/device-relay.ts). */
export interface BrokerBridge {
  /** A client's publish was accepted and is being delivered to this broker's subscribers. */
  published(topic: string, payload: Uint8Array, retain: boolean): void;
  /** A client of this broker holds `filter` now (`wanted`), or no longer. */
  interest(filter: string, wanted: boolean): void;
}

/** Listening failed on one of the broker's ports; `code` is the system's (EADDRINUSE, …). */
export class BrokerListenError extends Error {
  constructor(
    readonly listener: "mqtt" | "mqtts",
    readonly port: number,
    readonly code: string | undefined,
    cause: Error,
  ) {
    super(cause.message, { cause });
    this.name = "BrokerListenError";
  }
}

type Authorized = (err: Error | null) => void;

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function boundPort(server: net.Server, fallback: number): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : fallback;
}

export class EmbeddedBroker implements Broker {
  readonly #aedes: Aedes;
  readonly #guard: AccessGuard;
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();
  #port = 0;
  #tlsPort: number | null = null;
  #host: string;

  private constructor(aedes: Aedes, guard: AccessGuard, host: string) {
    this.#aedes = aedes;
    this.#guard = guard;
    this.#host = host;
  }

  /** Starts the broker and listens; rejects with a BrokerListenError when a port is taken. */
  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const { receiver, logger } = options;
    const guard = new AccessGuard({
      authenticate: options.authenticate,
      allowAnonymous: options.allowAnonymous,
      retainedLimits: { ...DEFAULT_RETAINED_LIMITS, ...options.retainedLimits },
      onRefused: options.onRefused ?? (() => {}),
      logger,
    });
    /** Each connection's acknowledgements, held until the ones before them are due. */
    const inOrder = new WeakMap<object, AckQueue<Authorized>>();
    const aedes = await Aedes.createBroker({
      // aedes's own router, without the recursion that a burst of acknowledged fixes overflows.
      mq: createRouter(100),
      // Nobody waits for a client that stops reading: write-limits.ts bounds what it holds.
      ...aedesLimitOptions(options.limits ?? DEFAULT_MQTT_LIMITS),
      maxClientsIdLength: 128,
      authenticate: (client, username, password, done) =>
        guard.authenticate(client, username, password, done),
      authorizeSubscribe: (client, subscription, done) =>
        guard.authorizeSubscribe(client, subscription, done),
      authorizeForward: (client, packet) => guard.authorizeForward(client, packet),
      authorizePublish(client, packet, callback) {
        // A will left behind by a client of another broker instance: nobody vouches for it.
        // Dropped rather than refused, as aedes would raise a refusal as a broker error.
        if (client === null) {
          dropPublish(packet);
          return callback(null);
        }
        const payload =
          typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
        const topic = packet.topic;
        // A refused message is still acknowledged, in order, but never reaches the receiver.
        // A malformed vehicle topic still goes to the receiver, which counts it with the other
        // bad input (bad_topic); the packet itself, dropped, reaches no subscriber.
        const refusal = guard.judgePublish(client, packet, payload);
        const handled = (refusal === null || refusal === "bad_topic") && receiver.handles(topic);
        if (packet.qos === 0) {
          if (!handled) return callback(null);
          return receiver.receive(topic, payload, (err) => callback(err));
        }
        let acks = inOrder.get(client);
        if (acks === undefined) {
          acks = new AckQueue<Authorized>((authorized) => authorized(null));
          inOrder.set(client, acks);
        }
        const queue = acks;
        const ticket = queue.take(callback);
        if (!handled) return queue.settle(ticket);
        receiver.receive(topic, payload, (err) => {
          if (!queue.isCurrent(ticket)) return;
          // aedes drops a connection whose publish fails: all it still owes is void, and the
          // device sends those messages again.
          if (err) for (const authorized of queue.connectionLost()) authorized(err);
          else queue.settle(ticket);
        });
      },
    });
    if (options.bridge !== undefined) bridgeBroker(aedes, options.bridge);
    aedes.on("clientError", (client, err) => {
      logger.debug({ client: client?.id, err: err.message }, "mqtt client error");
    });
    aedes.on("connectionError", (client, err) => {
      logger.debug({ client: client?.id, err: err.message }, "mqtt connection error");
    });
    const broker = new EmbeddedBroker(aedes, guard, options.host);
    const track = (server: net.Server) => {
      broker.#servers.push(server);
      server.on("connection", (socket: net.Socket) => {
        broker.#sockets.add(socket);
        socket.on("close", () => broker.#sockets.delete(socket));
      });
    };
    // TCP_NODELAY, as Mosquitto sets it: without it, a PUBACK written while an earlier segment
    // is unacknowledged waits for the peer's delayed ACK (Nagle), adding milliseconds to every
    // acknowledgement and capping what a vehicle with a small in-flight window can send.
    // Every connection, plain or TLS, goes through the same limits.
    const limiter = new ConnectionLimiter(
      aedes,
      options.limits ?? DEFAULT_MQTT_LIMITS,
      options.onLimited,
    );
    const server = net.createServer({ noDelay: true }, limiter.handle);
    track(server);
    try {
      await listen(server, options.port, options.host).catch((err: NodeJS.ErrnoException) => {
        throw new BrokerListenError("mqtt", options.port, err.code, err);
      });
      broker.#port = boundPort(server, options.port);
      if (options.tls) {
        const { cert, key, port } = options.tls;
        // Same handler, so a connection over TLS has the same rights and limits as one without.
        const secure = tls.createServer({ cert, key, noDelay: true }, limiter.handle);
        track(secure);
        await listen(secure, port, options.host).catch((err: NodeJS.ErrnoException) => {
          throw new BrokerListenError("mqtts", port, err.code, err);
        });
        broker.#tlsPort = boundPort(secure, port);
      }
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `mqtt://${this.#hostInUrl()}:${this.#port}`;
  }

  /** The port of MQTT over TLS, or null without a certificate. */
  get tlsPort(): number | null {
    return this.#tlsPort;
  }

  /** Where devices connect over TLS (mqtts://…), or null without a certificate. */
  get tlsUrl(): string | null {
    return this.#tlsPort === null ? null : `mqtts://${this.#hostInUrl()}:${this.#tlsPort}`;
  }

  #hostInUrl(): string {
    return this.#host.includes(":") ? `[${this.#host}]` : this.#host;
  }

  /**
   * Closes every live connection that logged in as `username` (a rotated or revoked password);
   * a login with the old password still being checked is refused too. Resolves with the count.
   */
  disconnectSessions(username: string): Promise<number> {
    return this.#guard.disconnect(username);
  }

  /** Retained messages the broker holds now, and their payload bytes. */
  get retained(): { messages: number; bytes: number } {
    return this.#guard.retained;
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

  /**
   * Delivers a message another hub's client published (MQTT across hubs) to this broker's
   * subscribers, as the hub's own publish: each subscriber's rights are still checked. A retained
   * one is retained here too, within this broker's retained limits.
   */
  deliver(topic: string, payload: Uint8Array, retain: boolean): void {
    if (this.#aedes.closed) return;
    const keep = retain && this.#guard.admitRetained(topic, payload.byteLength);
    this.#aedes.publish(
      {
        cmd: "publish",
        topic,
        payload: Buffer.from(payload),
        qos: 1,
        retain: keep,
        dup: false,
      },
      () => {},
    );
  }

  /** Stops taking new connections; connected clients stay until close(). */
  stopAccepting(): void {
    for (const server of this.#servers) if (server.listening) server.close();
  }

  /** Disconnects every client and stops the broker. */
  async close(): Promise<void> {
    this.stopAccepting();
    await drainSockets(this.#sockets);
    await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
  }
}

/**
 * Tells the bridge about every accepted client publish and about the filters clients hold: added
 * when granted (also a persistent session's, restored at reconnect), dropped when unsubscribed or
 * when the client goes.
 */
function bridgeBroker(aedes: Aedes, bridge: BrokerBridge): void {
  const held = new WeakMap<object, Set<string>>();
  const drop = (client: object, filters: Iterable<string>) => {
    const mine = held.get(client);
    if (mine === undefined) return;
    for (const f of filters) if (mine.delete(f)) bridge.interest(f, false);
  };
  aedes.on("publish", (packet, client) => {
    // The hub's own publishes and what it delivers for other hubs have no client.
    if (client === null || packet.topic === DROPPED_TOPIC || packet.topic.startsWith("$")) return;
    const payload =
      typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    bridge.published(packet.topic, payload, packet.retain);
  });
  aedes.on("subscribe", (subscriptions, client) => {
    let mine = held.get(client);
    if (mine === undefined) {
      mine = new Set();
      held.set(client, mine);
    }
    for (const { topic, qos } of subscriptions) {
      // 128: refused.
      if ((qos as number) === 128 || mine.has(topic)) continue;
      mine.add(topic);
      bridge.interest(topic, true);
    }
  });
  aedes.on("unsubscribe", (filters, client) => drop(client, filters));
  aedes.on("clientDisconnect", (client) => {
    drop(client, [...(held.get(client) ?? [])]);
    held.delete(client);
  });
}

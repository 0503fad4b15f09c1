// The hub as a client of an external broker (Mosquitto in production). It keeps a persistent
// session, so fixes published while the hub is down wait in the broker, and it acknowledges each
// location message only after its fixes are committed.
//
// MQTT.js sends a PUBACK when `handleMessage` calls back, but it also waits for that callback
// before it parses the next packet: one message at a time, so a group commit would only ever
// hold one message. Here `handleMessage` hands the message to the receiver and calls back at once
// with a marker error, which makes MQTT.js skip its own PUBACK and read on; the PUBACK is sent by
// this class once the commit is done, in the order the messages arrived (MQTT §4.6). How many
// messages may be unacknowledged at once is the MQTT 5 receive maximum the hub announces.

import { LOCATION_TOPIC_FILTER, STATUS_TOPIC_FILTER } from "@locus/protocol";
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { Receiver } from "../ingest/receiver.ts";
import type { Broker, BrokerState } from "./broker.ts";

/** Mosquitto's count of connected clients, published every sys_interval. */
const CLIENTS_CONNECTED_TOPIC = "$SYS/broker/clients/connected";

/** Reason codes of a CONNACK that refuses the credentials (MQTT 3.1.1 and 5). */
const CREDENTIALS_REFUSED = new Set([4, 5, 134, 135, 138]);

export interface ExternalBrokerOptions {
  /** e.g. mqtt://mosquitto:1883; credentials in the URL work too. */
  url: string;
  username: string | null;
  password: string | null;
  /** Fixed, so the broker keeps one session for the hub across restarts. */
  clientId: string;
  /** How long the broker keeps the hub's session (and queues its messages) while it is away, s. */
  sessionExpirySeconds: number;
  /** Messages the broker may send before the hub acknowledges any (MQTT 5 receive maximum). */
  receiveMaximum: number;
  receiver: Pick<Receiver, "receive">;
  logger: Logger;
  /** How long start() tries to reach the broker before giving up, ms. */
  startTimeoutMs?: number;
  /** Reconnect backoff after a lost connection: first wait and cap, ms (full jitter). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  keepaliveSeconds?: number;
}

/** Why start() failed: the broker cannot be reached, or it refused the hub. */
export class BrokerConnectError extends Error {
  constructor(
    readonly reason: "unreachable" | "refused" | "not-authorized",
    message: string,
  ) {
    super(message);
    this.name = "BrokerConnectError";
  }
}

/** Passed to MQTT.js's handleMessage callback: "do not acknowledge now, but read on". */
const DEFERRED = new Error("acknowledged after commit");

interface PendingAck {
  messageId: number;
  /** The connection it arrived on: an ack never crosses to another connection. */
  connection: number;
  settled: boolean;
}

/** Shows a URL without its password. */
function redact(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "***";
    return url.toString().replace(/\/$/, "");
  } catch {
    return raw;
  }
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0]);
  const e = err as NodeJS.ErrnoException & { code?: string | number };
  if (typeof e?.code === "string" && e.message && !e.message.includes(e.code)) {
    return `${e.code}: ${e.message}`;
  }
  return e?.message ?? String(err);
}

export class ExternalBroker implements Broker {
  readonly #o: Required<ExternalBrokerOptions>;
  readonly #client: MqttClient;
  readonly #log: Logger;
  /** Counts connections: bumped when one is lost, so late acks for it are dropped. */
  #connection = 0;
  /**
   * Messages taken and not yet acknowledged, in arrival order, from #ackHead on. Taken from the
   * front by index, not with Array#shift, which copies the rest of the array each time (up to
   * the receive maximum, 1,000 by default): in a profile of the hub under load, acknowledging
   * that way took 29% of its CPU time, and the hub fell seconds behind the broker.
   */
  #acks: PendingAck[] = [];
  #ackHead = 0;
  #idleWaiters: (() => void)[] = [];
  #accepting = true;
  #closing = false;
  #closed = false;
  #started = false;
  #attempted = false;
  /** Failed reconnects in a row, and store failures since the last commit: the backoff's exponent. */
  #failures = 0;
  #storeFailures = 0;
  /** The connection being dropped after a store failure, so it is dropped once. */
  #dropped = -1;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #clientsConnected: number | null = null;
  /** Publishes waiting for their PUBACK, failed at once when the connection drops. */
  readonly #publishes = new Set<(err: Error) => void>();

  private constructor(options: ExternalBrokerOptions) {
    this.#o = {
      startTimeoutMs: 10_000,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      keepaliveSeconds: 30,
      ...options,
    };
    this.#log = options.logger;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: 5,
      // A persistent session: the broker keeps the subscriptions and queues QoS 1 messages.
      clean: false,
      properties: {
        sessionExpiryInterval: options.sessionExpirySeconds,
        receiveMaximum: options.receiveMaximum,
      },
      keepalive: this.#o.keepaliveSeconds,
      connectTimeout: Math.min(this.#o.startTimeoutMs, 10_000),
      // Reconnection is done here, with backoff; subscriptions are renewed on every connect.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      manualConnect: true,
    };
    if (options.username !== null) clientOptions.username = options.username;
    if (options.password !== null) clientOptions.password = options.password;
    this.#client = mqtt.connect(options.url, clientOptions);
    this.#client.handleMessage = (packet, callback) => this.#onMessage(packet, callback);
    this.#client.on("error", (err) => this.#log.debug({ err: describe(err) }, "mqtt error"));
    this.#client.on("close", () => this.#onClose());
  }

  /**
   * Connects and subscribes. Retries an unreachable broker until startTimeoutMs; a refusal
   * (credentials, ACL) fails at once. Afterwards the connection is kept up for good.
   */
  static async start(options: ExternalBrokerOptions): Promise<ExternalBroker> {
    const broker = new ExternalBroker(options);
    try {
      await broker.#firstConnection();
    } catch (err) {
      broker.#closing = true;
      broker.#client.end(true);
      throw err;
    }
    broker.#started = true;
    return broker;
  }

  get url(): string {
    return redact(this.#o.url);
  }

  get state(): BrokerState {
    if (this.#closed) return "closed";
    return this.#client.connected ? "ok" : "disconnected";
  }

  /** Mosquitto's $SYS count when the ACL lets the hub read it, else 1 (the hub) or 0. */
  get connectedClients(): number {
    if (!this.#client.connected) return 0;
    return this.#clientsConnected ?? 1;
  }

  /** Publishes at QoS 1; resolves on the PUBACK, rejects at once when not connected. */
  publish(topic: string, payload: string): Promise<void> {
    if (this.#closed || !this.#client.connected) {
      return Promise.reject(new Error(`not connected to the broker at ${this.url}`));
    }
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        this.#publishes.delete(fail);
        reject(err);
      };
      this.#publishes.add(fail);
      this.#client.publish(topic, payload, { qos: 1, retain: false }, (err) => {
        if (!this.#publishes.delete(fail)) return; // already failed by a lost connection
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /**
   * Stops taking messages. The subscriptions stay in the session (unsubscribing would make the
   * broker drop what devices publish while the hub is down); messages that arrive from now on are
   * not acknowledged, so the broker delivers them again to the next start.
   */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Waits for the acks of what was taken (bounded), then disconnects; the session stays. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#accepting = false;
    this.#closing = true;
    await this.#settled(10_000);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#closed = true;
    const client = this.#client;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, () => resolve()), 5_000);
      client.end(!client.connected, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.#failPublishes(new Error("the hub is stopping"));
  }

  async #firstConnection(): Promise<void> {
    const deadline = Date.now() + this.#o.startTimeoutMs;
    let lastError = "no answer";
    for (;;) {
      const outcome = await this.#connectOnce();
      if (outcome === null) break;
      if (outcome instanceof BrokerConnectError) throw outcome;
      lastError = outcome;
      const wait = Math.min(500, deadline - Date.now());
      if (wait <= 0) {
        throw new BrokerConnectError(
          "unreachable",
          `cannot reach the broker at ${this.url} (${lastError})`,
        );
      }
      await new Promise((r) => setTimeout(r, wait));
    }
    await this.#subscribe();
  }

  /** One attempt: null when connected, a refusal, or why the broker could not be reached. */
  #connectOnce(): Promise<BrokerConnectError | string | null> {
    const client = this.#client;
    return new Promise((resolve) => {
      let error: unknown = null;
      const onConnect = () => {
        cleanup();
        resolve(null);
      };
      const onError = (err: Error & { code?: unknown }) => {
        error = err;
        if (typeof err.code === "number" && CREDENTIALS_REFUSED.has(err.code)) {
          cleanup();
          resolve(
            new BrokerConnectError(
              "refused",
              `the broker at ${this.url} refused the hub's credentials (${err.message})`,
            ),
          );
        }
      };
      const onClose = () => {
        cleanup();
        resolve(error === null ? "connection closed" : describe(error));
      };
      const cleanup = () => {
        client.off("connect", onConnect);
        client.off("error", onError);
        client.off("close", onClose);
      };
      client.on("connect", onConnect);
      client.on("error", onError);
      client.on("close", onClose);
      if (!this.#attempted) {
        this.#attempted = true;
        client.connect();
      } else {
        client.reconnect();
      }
    });
  }

  /**
   * Subscribes at QoS 1 (again, on every connection: cheap, and it repairs a session the broker
   * lost). Retain handling 1: retained statuses come only with a new subscription.
   */
  async #subscribe(): Promise<void> {
    const granted = await this.#client.subscribeAsync({
      [LOCATION_TOPIC_FILTER]: { qos: 1, rh: 1 },
      [STATUS_TOPIC_FILTER]: { qos: 1, rh: 1 },
    });
    const refused = granted.filter((g) => g.qos !== 1);
    if (refused.length > 0) {
      throw new BrokerConnectError(
        "not-authorized",
        `the broker at ${this.url} refused the hub's subscription to ${refused
          .map((g) => g.topic)
          .join(" and ")} (check the ACL for the hub's user)`,
      );
    }
    // Optional: a broker (or ACL) without $SYS leaves the 1/0 connection count.
    this.#client.subscribe(CLIENTS_CONNECTED_TOPIC, { qos: 0 }, (err, result) => {
      if (err || (result?.[0]?.qos ?? 128) >= 128) this.#clientsConnected = null;
    });
  }

  #onMessage(packet: IPublishPacket, callback: (err?: Error) => void): void {
    const topic = packet.topic;
    const payload =
      typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (topic === CLIENTS_CONNECTED_TOPIC) {
      const count = Number(payload.toString());
      this.#clientsConnected = Number.isFinite(count) ? count : null;
      callback();
      return;
    }
    if (packet.qos === 0 || packet.messageId === undefined) {
      // Nothing to acknowledge: store it if we still take messages.
      if (this.#accepting) this.#o.receiver.receive(topic, payload, () => {});
      callback();
      return;
    }
    if (!this.#accepting) {
      callback(DEFERRED);
      return;
    }
    const ack: PendingAck = {
      messageId: packet.messageId,
      connection: this.#connection,
      settled: false,
    };
    this.#acks.push(ack);
    this.#o.receiver.receive(topic, payload, (err) => {
      if (err) {
        this.#storeFailed(ack, err);
        return;
      }
      ack.settled = true;
      this.#storeFailures = 0;
      this.#sendAcks();
    });
    callback(DEFERRED);
  }

  /** Sends the PUBACKs at the head of the queue that are settled, in arrival order. */
  #sendAcks(): void {
    while (this.#ackHead < this.#acks.length && (this.#acks[this.#ackHead] as PendingAck).settled) {
      const ack = this.#acks[this.#ackHead] as PendingAck;
      this.#ackHead++;
      if (ack.connection === this.#connection && this.#client.connected) {
        // MQTT.js has no public call for a PUBACK; _sendPacket is what its own publish handler uses.
        (this.#client as unknown as SendPacket)._sendPacket({
          cmd: "puback",
          messageId: ack.messageId,
        });
      }
    }
    if (this.#ackHead === this.#acks.length) {
      this.#acks = [];
      this.#ackHead = 0;
      this.#wakeIdle();
    } else if (this.#ackHead > 1024 && this.#ackHead * 2 > this.#acks.length) {
      this.#acks = this.#acks.slice(this.#ackHead);
      this.#ackHead = 0;
    }
  }

  /**
   * The store could not commit a message. It must not be acknowledged, and a broker resends an
   * unacknowledged message only on a new connection (MQTT 5 §4.4), so the connection is dropped
   * and re-established after a backoff; everything unacknowledged comes back then. Fixes that
   * were committed meanwhile come back too, and are recognised as duplicates by (ts, seq).
   */
  #storeFailed(ack: PendingAck, err: Error): void {
    if (ack.connection !== this.#connection || this.#dropped === this.#connection) return;
    this.#dropped = this.#connection;
    this.#storeFailures++;
    this.#log.warn(
      { err: err.message },
      "could not store a message; reconnecting to the broker so that it is delivered again",
    );
    this.#client.stream?.destroy();
  }

  #onClose(): void {
    this.#connection++;
    // Acks of the lost connection are void: the broker sends those messages again.
    this.#acks = [];
    this.#ackHead = 0;
    this.#wakeIdle();
    this.#failPublishes(new Error(`lost the connection to the broker at ${this.url}`));
    if (!this.#started || this.#closing || this.#closed) return;
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer !== null) return;
    const exponent = Math.min(20, this.#failures + this.#storeFailures);
    const cap = Math.min(this.#o.reconnectMaxMs, this.#o.reconnectMinMs * 2 ** exponent);
    // Full jitter, so that many hubs (or a restarted broker) do not see a thundering herd.
    const delay = Math.round(Math.random() * cap);
    if (this.#failures === 0 && this.#storeFailures === 0) {
      this.#log.warn({ url: this.url }, "lost the connection to the broker; reconnecting");
    }
    this.#failures++;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closing) return;
      this.#connectOnce().then(
        async (outcome) => {
          if (outcome !== null) {
            const message = outcome instanceof BrokerConnectError ? outcome.message : outcome;
            this.#log.warn({ url: this.url, err: message }, "broker still unreachable");
            if (!this.#client.connected) this.#scheduleReconnect();
            return;
          }
          try {
            await this.#subscribe();
            this.#failures = 0;
            this.#log.warn({ url: this.url }, "reconnected to the broker");
          } catch (err) {
            this.#log.error({ err: describe(err) }, "could not subscribe after reconnecting");
            this.#client.stream?.destroy();
          }
        },
        (err) => this.#log.error({ err: describe(err) }, "reconnect failed"),
      );
    }, delay);
  }

  #failPublishes(err: Error): void {
    const pending = [...this.#publishes];
    this.#publishes.clear();
    for (const fail of pending) fail(err);
  }

  /** Resolves once every taken message is acknowledged (or void), or after timeoutMs. */
  #settled(timeoutMs: number): Promise<void> {
    if (this.#ackHead === this.#acks.length) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#idleWaiters.push(done);
    });
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

interface SendPacket {
  _sendPacket(packet: { cmd: "puback"; messageId: number }): void;
}

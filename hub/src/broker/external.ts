// The hub as a client of an external broker (Mosquitto in production). It keeps a persistent
// session, so fixes published while the hub is down wait in the broker, and it acknowledges each
// location message only after its fixes are committed, in arrival order, while it reads on: how
// many messages may be unacknowledged at once is the MQTT 5 receive maximum the hub announces.
// The parts: session-client.ts (connection and session), deferred-ack.ts (PUBACKs MQTT.js does
// not send), ack-queue.ts (their order); reconnecting waits by the shared full-jitter Backoff.

import { Backoff } from "@locus/protocol";
import type { IPublishPacket } from "mqtt";
import type { Logger } from "pino";
import type { Receiver } from "../ingest/receiver.ts";
import { AckQueue, type AckTicket } from "./ack-queue.ts";
import type { Broker, BrokerState } from "./broker.ts";
import { BrokerConnectError, describeError } from "./connect-error.ts";
import { SessionClient, type SessionOptions } from "./session-client.ts";

export { BrokerConnectError } from "./connect-error.ts";

export interface ExternalBrokerOptions
  extends Omit<SessionOptions, "keepaliveSeconds" | "connectTimeoutMs"> {
  receiver: Pick<Receiver, "receive">;
  logger: Logger;
  /** How long start() tries to reach the broker before giving up, ms. */
  startTimeoutMs?: number;
  /** Reconnect backoff after a lost connection: first wait and cap, ms (full jitter). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  keepaliveSeconds?: number;
}

export class ExternalBroker implements Broker {
  readonly #o: Required<ExternalBrokerOptions>;
  readonly #session: SessionClient;
  readonly #acks: AckQueue<number>;
  readonly #log: Logger;
  #accepting = true;
  #closing = false;
  #closed = false;
  #started = false;
  /**
   * Waits before reconnecting. It starts over once the hub is connected again and, after a
   * store failure, once a commit succeeded: a store that keeps failing keeps the waits growing.
   */
  readonly #backoff: Backoff;
  /** Reconnecting since the connection was lost (so the loss is logged once). */
  #reconnecting = false;
  /** A commit failed and none has succeeded since. */
  #storeFailing = false;
  /** The connection being dropped after a store failure, so it is dropped once. */
  #dropped = -1;
  #reconnectTimer: NodeJS.Timeout | null = null;
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
    this.#backoff = new Backoff({
      initialMs: this.#o.reconnectMinMs,
      maxMs: Math.max(this.#o.reconnectMinMs, this.#o.reconnectMaxMs),
    });
    this.#session = new SessionClient(
      { ...this.#o, connectTimeoutMs: Math.min(this.#o.startTimeoutMs, 10_000) },
      {
        message: (packet) => this.#onMessage(packet),
        close: () => this.#onClose(),
        error: (err) => this.#log.debug({ err: describeError(err) }, "mqtt error"),
      },
    );
    this.#acks = new AckQueue<number>((messageId) => this.#session.puback(messageId));
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
      broker.#session.abort();
      throw err;
    }
    broker.#started = true;
    return broker;
  }

  get url(): string {
    return this.#session.url;
  }

  get state(): BrokerState {
    if (this.#closed) return "closed";
    return this.#session.connected ? "ok" : "disconnected";
  }

  /** Mosquitto's $SYS count when the ACL lets the hub read it, else 1 (the hub) or 0. */
  get connectedClients(): number {
    if (!this.#session.connected) return 0;
    return this.#session.clientsConnected ?? 1;
  }

  /** Publishes at QoS 1; resolves on the PUBACK, rejects at once when not connected. */
  publish(topic: string, payload: string): Promise<void> {
    if (this.#closed || !this.#session.connected) {
      return Promise.reject(new Error(`not connected to the broker at ${this.url}`));
    }
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        this.#publishes.delete(fail);
        reject(err);
      };
      this.#publishes.add(fail);
      this.#session.publish(topic, payload, (err) => {
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
    await this.#acks.idle(10_000);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#closed = true;
    await this.#session.end(5_000);
    this.#failPublishes(new Error("the hub is stopping"));
  }

  async #firstConnection(): Promise<void> {
    const deadline = Date.now() + this.#o.startTimeoutMs;
    let lastError = "no answer";
    for (;;) {
      const outcome = await this.#session.connect();
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
    await this.#session.subscribe();
    if (this.#session.ownTracksRefused) {
      this.#log.warn(
        { url: this.url, topic: "owntracks/+/+" },
        "the broker refused the hub's subscription to OwnTracks locations (check the ACL for the hub's user): OwnTracks phones over MQTT are not received",
      );
    }
  }

  /** Takes a message: true when it may be acknowledged at once, false when its PUBACK waits. */
  #onMessage(packet: IPublishPacket): boolean {
    const topic = packet.topic;
    const payload =
      typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (packet.qos === 0 || packet.messageId === undefined) {
      // Nothing to acknowledge: store it if we still take messages.
      if (this.#accepting) this.#o.receiver.receive(topic, payload, () => {});
      return true;
    }
    if (!this.#accepting) return false;
    const ticket = this.#acks.take(packet.messageId);
    this.#o.receiver.receive(topic, payload, (err) => {
      if (err) {
        this.#storeFailed(ticket, err);
        return;
      }
      if (this.#storeFailing) {
        this.#storeFailing = false;
        this.#backoff.reset();
      }
      this.#acks.settle(ticket);
    });
    return false;
  }

  /**
   * The store could not commit a message. It must not be acknowledged, and a broker resends an
   * unacknowledged message only on a new connection (MQTT 5 §4.4), so the connection is dropped
   * and re-established after a backoff; everything unacknowledged comes back then. Fixes that
   * were committed meanwhile come back too, and are recognised as duplicates by (ts, seq).
   */
  #storeFailed(ticket: AckTicket<number>, err: Error): void {
    if (!this.#acks.isCurrent(ticket) || this.#dropped === ticket.connection) return;
    this.#dropped = ticket.connection;
    this.#storeFailing = true;
    this.#log.warn(
      { err: err.message },
      "could not store a message; reconnecting to the broker so that it is delivered again",
    );
    this.#session.drop();
  }

  #onClose(): void {
    this.#acks.connectionLost();
    this.#failPublishes(new Error(`lost the connection to the broker at ${this.url}`));
    if (!this.#started || this.#closing || this.#closed) return;
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer !== null) return;
    const delay = this.#backoff.next();
    if (!this.#reconnecting) {
      this.#reconnecting = true;
      this.#log.warn({ url: this.url }, "lost the connection to the broker; reconnecting");
    }
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closing) return;
      this.#reconnect().catch((err) =>
        this.#log.error({ err: describeError(err) }, "reconnect failed"),
      );
    }, delay);
  }

  async #reconnect(): Promise<void> {
    const outcome = await this.#session.connect();
    if (outcome !== null) {
      const message = outcome instanceof BrokerConnectError ? outcome.message : outcome;
      this.#log.warn({ url: this.url, err: message }, "broker still unreachable");
      if (!this.#session.connected) this.#scheduleReconnect();
      return;
    }
    try {
      await this.#session.subscribe();
      this.#reconnecting = false;
      if (!this.#storeFailing) this.#backoff.reset();
      this.#log.warn({ url: this.url }, "reconnected to the broker");
    } catch (err) {
      this.#log.error({ err: describeError(err) }, "could not subscribe after reconnecting");
      this.#session.drop();
    }
  }

  #failPublishes(err: Error): void {
    const pending = [...this.#publishes];
    this.#publishes.clear();
    for (const fail of pending) fail(err);
  }
}

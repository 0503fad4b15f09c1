// The hub's MQTT connection to an external broker: a persistent MQTT 5 session (the broker keeps
// the hub's subscriptions and queues its QoS 1 messages while the hub is away), connected one
// attempt at a time, subscribed again on every connection, with Mosquitto's $SYS client count.

import {
  LOCATION_TOPIC_FILTER,
  OWNTRACKS_TOPIC_FILTER,
  redactUrl,
  STATUS_TOPIC_FILTER,
} from "@locus/protocol";
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { BrokerConnectError, describeError, refusesCredentials } from "./connect-error.ts";
import { deferAcks, sendPuback } from "./deferred-ack.ts";

/** Mosquitto's count of connected clients, published every sys_interval. */
const CLIENTS_CONNECTED_TOPIC = "$SYS/broker/clients/connected";

export interface SessionOptions {
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
  keepaliveSeconds: number;
  connectTimeoutMs: number;
}

export interface SessionEvents {
  /** A location or status message; true to acknowledge it at once, false to owe its PUBACK. */
  message(packet: IPublishPacket): boolean;
  /** The connection is gone (or an attempt failed). */
  close(): void;
  error(err: Error): void;
}

export class SessionClient {
  readonly #client: MqttClient;
  readonly #url: string;
  #attempted = false;
  #clientsConnected: number | null = null;
  #ownTracksRefused = false;

  constructor(options: SessionOptions, events: SessionEvents) {
    this.#url = redactUrl(options.url);
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: 5,
      clean: false,
      properties: {
        sessionExpiryInterval: options.sessionExpirySeconds,
        receiveMaximum: options.receiveMaximum,
      },
      keepalive: options.keepaliveSeconds,
      connectTimeout: options.connectTimeoutMs,
      // Reconnection is the owner's, with its backoff; subscriptions are renewed on every connect.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      manualConnect: true,
    };
    if (options.username !== null) clientOptions.username = options.username;
    if (options.password !== null) clientOptions.password = options.password;
    this.#client = mqtt.connect(options.url, clientOptions);
    deferAcks(this.#client, (packet) => {
      if (packet.topic !== CLIENTS_CONNECTED_TOPIC) return events.message(packet);
      const count = Number(packet.payload.toString());
      this.#clientsConnected = Number.isFinite(count) ? count : null;
      return true;
    });
    this.#client.on("error", (err) => events.error(err));
    this.#client.on("close", () => events.close());
  }

  /** The broker's URL without its password. */
  get url(): string {
    return this.#url;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Mosquitto's $SYS count, when the ACL lets the hub read it. */
  get clientsConnected(): number | null {
    return this.#clientsConnected;
  }

  /** One attempt: null when connected, a refusal, or why the broker could not be reached. */
  connect(): Promise<BrokerConnectError | string | null> {
    const client = this.#client;
    return new Promise((resolve) => {
      let error: unknown = null;
      const onConnect = () => {
        cleanup();
        resolve(null);
      };
      const onError = (err: Error & { code?: unknown }) => {
        error = err;
        if (refusesCredentials(err)) {
          cleanup();
          resolve(
            new BrokerConnectError(
              "refused",
              `the broker at ${this.#url} refused the hub's credentials (${err.message})`,
            ),
          );
        }
      };
      const onClose = () => {
        cleanup();
        resolve(error === null ? "connection closed" : describeError(error));
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
  async subscribe(): Promise<void> {
    const granted = await this.#client.subscribeAsync({
      [LOCATION_TOPIC_FILTER]: { qos: 1, rh: 1 },
      [STATUS_TOPIC_FILTER]: { qos: 1, rh: 1 },
      [OWNTRACKS_TOPIC_FILTER]: { qos: 1, rh: 1 },
    });
    // OwnTracks phones are optional: a broker whose ACL leaves them out still carries fixes.
    this.#ownTracksRefused = granted.some((g) => g.topic === OWNTRACKS_TOPIC_FILTER && g.qos !== 1);
    const refused = granted.filter((g) => g.qos !== 1 && g.topic !== OWNTRACKS_TOPIC_FILTER);
    if (refused.length > 0) {
      throw new BrokerConnectError(
        "not-authorized",
        `the broker at ${this.#url} refused the hub's subscription to ${refused
          .map((g) => g.topic)
          .join(" and ")} (check the ACL for the hub's user)`,
      );
    }
    // Optional: a broker (or ACL) without $SYS leaves the count unknown.
    this.#client.subscribe(CLIENTS_CONNECTED_TOPIC, { qos: 0 }, (err, result) => {
      if (err || (result?.[0]?.qos ?? 128) >= 128) this.#clientsConnected = null;
    });
  }

  /** Whether the broker refused the hub's subscription to OwnTracks locations. */
  get ownTracksRefused(): boolean {
    return this.#ownTracksRefused;
  }

  /** Publishes at QoS 1; `done` runs on the PUBACK, or with an error. */
  publish(topic: string, payload: string, done: (err?: Error) => void): void {
    this.#client.publish(topic, payload, { qos: 1, retain: false }, (err) => done(err));
  }

  /** Acknowledges a message deferred by `message`, if the connection it came on is still up. */
  puback(messageId: number): void {
    if (this.#client.connected) sendPuback(this.#client, messageId);
  }

  /** Cuts the connection (the broker then keeps what was not acknowledged for the next one). */
  drop(): void {
    this.#client.stream?.destroy();
  }

  /** Gives up at once, without a DISCONNECT. */
  abort(): void {
    this.#client.end(true);
  }

  /** Disconnects: cleanly when connected (DISCONNECT after what is written), else at once. */
  end(timeoutMs: number): Promise<void> {
    const client = this.#client;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, () => resolve()), timeoutMs);
      client.end(!client.connected, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

// Commands to Mosquitto's dynamic security plugin and their answers: JSON published on
// $CONTROL/dynamic-security/v1, answered on …/response, each command matched to its answer by a
// correlationData of its own, with a timeout, over a connection of its own to the broker.

import { randomUUID } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import { describeError } from "./connect-error.ts";

export const DYNSEC_TOPIC = "$CONTROL/dynamic-security/v1";
export const DYNSEC_RESPONSE_TOPIC = `${DYNSEC_TOPIC}/response`;

/** One command of the plugin's API (its README): `command` plus its fields. */
export interface DynsecCommand {
  command: string;
  [field: string]: unknown;
}

/** The plugin's answer to one command: `error` is set when it failed. */
export interface DynsecResponse {
  command: string;
  error?: string;
  data?: unknown;
}

/** Why the broker cannot be managed, or a command failed. `reason` says which. */
export class DynsecError extends Error {
  constructor(
    /** unreachable: no connection; refused: the broker said no; timeout: nobody answered; command: the plugin answered with an error. */
    readonly reason: "unreachable" | "refused" | "timeout" | "command",
    message: string,
  ) {
    super(message);
    this.name = "DynsecError";
  }
}

export interface DynsecClientOptions {
  url: string;
  username: string | null;
  password: string | null;
  /** Must differ from the hub's session client id, or the two would take turns. */
  clientId: string;
  /** How long a command waits for its answer, ms. */
  timeoutMs: number;
  /** How long connect() tries to reach the broker, ms. */
  connectTimeoutMs: number;
}

interface Pending {
  settled: boolean;
  results: (DynsecResponse | undefined)[];
  left: number;
  resolve(results: DynsecResponse[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class DynsecClient {
  readonly #client: MqttClient;
  readonly #o: DynsecClientOptions;
  /** Commands waiting for their answer, by correlationData: the request and the command's index. */
  readonly #waiting = new Map<string, { pending: Pending; index: number }>();
  #closed = false;

  private constructor(client: MqttClient, options: DynsecClientOptions) {
    this.#client = client;
    this.#o = options;
    // Failed reconnections surface as failed or timed-out commands; without a listener an
    // "error" event would throw.
    client.on("error", () => {});
    client.on("message", (topic, payload) => {
      if (topic === DYNSEC_RESPONSE_TOPIC) this.#onResponse(payload);
    });
    // A command in flight when the link drops may or may not have been applied; its caller
    // learns that it failed rather than waiting for the timeout.
    client.on("close", () => this.#failAll("lost the connection to the broker"));
  }

  /**
   * Connects and subscribes to the answers. Rejects (reason `unreachable` or `refused`) when the
   * broker cannot be reached or refuses the account or the subscription. Afterwards MQTT.js
   * reconnects by itself and subscribes again.
   */
  static async connect(options: DynsecClientOptions): Promise<DynsecClient> {
    const client = mqtt.connect(options.url, {
      clientId: options.clientId,
      protocolVersion: 5,
      clean: true,
      connectTimeout: options.connectTimeoutMs,
      reconnectPeriod: 1000,
      queueQoSZero: false,
      ...(options.username !== null ? { username: options.username } : {}),
      ...(options.password !== null ? { password: options.password } : {}),
      manualConnect: true,
    });
    const dynsec = new DynsecClient(client, options);
    try {
      await dynsec.#firstConnection();
    } catch (err) {
      client.end(true);
      throw err;
    }
    return dynsec;
  }

  async #firstConnection(): Promise<void> {
    const client = this.#client;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new DynsecError("unreachable", `cannot reach the broker (${lastError})`)),
        this.#o.connectTimeoutMs,
      );
      let lastError = "no answer";
      const fail = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error & { code?: unknown }) => {
        lastError = describeError(err);
        // A CONNACK with a reason code: the broker answered, and said no.
        if (typeof err.code === "number") {
          fail(new DynsecError("refused", `the broker refused the hub's account (${err.message})`));
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off("connect", onConnect);
        client.off("error", onError);
      };
      client.on("connect", onConnect);
      client.on("error", onError);
      client.connect();
    });
    // MQTT.js rejects a SUBACK that refuses; either way the hub's account lacks the rights.
    const granted = await client
      .subscribeAsync(DYNSEC_RESPONSE_TOPIC, { qos: 1 })
      .catch(() => [{ qos: 128 }]);
    if ((granted[0]?.qos ?? 128) >= 128) {
      throw new DynsecError(
        "refused",
        `the broker refused the hub's subscription to ${DYNSEC_RESPONSE_TOPIC}`,
      );
    }
  }

  /**
   * Sends commands in one message and resolves with the plugin's answer to each, in order (an
   * answer with `error` is returned, not thrown: the caller knows which errors are expected).
   * Rejects with reason `refused` when the broker will not take the message, `timeout` when no
   * answer comes within the timeout (no plugin, or it ignores the hub).
   */
  async request(commands: DynsecCommand[]): Promise<DynsecResponse[]> {
    await this.#connected();
    const id = randomUUID();
    return new Promise<DynsecResponse[]>((resolve, reject) => {
      const pending: Pending = {
        settled: false,
        results: commands.map(() => undefined),
        left: commands.length,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#settle(
            pending,
            new DynsecError(
              "timeout",
              `no answer on ${DYNSEC_RESPONSE_TOPIC} within ${this.#o.timeoutMs} ms to ${commands
                .map((c) => c.command)
                .join(", ")}`,
            ),
          );
        }, this.#o.timeoutMs),
      };
      const sent = commands.map((c, index) => {
        const correlationData = `${id}/${index}`;
        this.#waiting.set(correlationData, { pending, index });
        return { ...c, correlationData };
      });
      this.#client.publish(DYNSEC_TOPIC, JSON.stringify({ commands: sent }), { qos: 1 }, (err) => {
        // MQTT 5: a PUBACK "Not authorized" when the hub's account may not publish there.
        if (err) {
          this.#settle(
            pending,
            new DynsecError(
              "refused",
              `the broker refused a command on ${DYNSEC_TOPIC} (${err.message})`,
            ),
          );
        }
      });
    });
  }

  /** Waits up to the timeout for MQTT.js to reconnect (Mosquitto cuts the link when the hub's own rights change). */
  async #connected(): Promise<void> {
    if (this.#closed) throw new DynsecError("unreachable", "closed");
    if (this.#client.connected) return;
    const client = this.#client;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off("connect", onConnect);
        reject(new DynsecError("unreachable", "not connected to the broker"));
      }, this.#o.timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once("connect", onConnect);
    });
  }

  /** Disconnects; commands still waiting fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll("closed");
    await this.#client.endAsync();
  }

  #onResponse(payload: Buffer): void {
    let responses: unknown;
    try {
      responses = (JSON.parse(payload.toString()) as { responses?: unknown }).responses;
    } catch {
      return; // not an answer of the plugin's
    }
    if (!Array.isArray(responses)) return;
    for (const r of responses as (DynsecResponse & { correlationData?: unknown })[]) {
      // Answers to other administrators (mosquitto_ctrl) arrive here too; they are not ours.
      if (typeof r?.correlationData !== "string") continue;
      const waiting = this.#waiting.get(r.correlationData);
      if (waiting === undefined) continue;
      this.#waiting.delete(r.correlationData);
      const { pending, index } = waiting;
      const { correlationData: _, ...response } = r;
      pending.results[index] = response;
      pending.left--;
      if (pending.left === 0) this.#settle(pending, null);
    }
  }

  #settle(pending: Pending, err: Error | null): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    for (const [key, w] of this.#waiting) if (w.pending === pending) this.#waiting.delete(key);
    if (err) pending.reject(err);
    else pending.resolve(pending.results as DynsecResponse[]);
  }

  #failAll(why: string): void {
    const all = new Set([...this.#waiting.values()].map((w) => w.pending));
    for (const pending of all) this.#settle(pending, new DynsecError("unreachable", why));
  }
}

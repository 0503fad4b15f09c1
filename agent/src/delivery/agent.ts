// The delivery loop: fixes go into the buffer first, then out to the broker oldest first, in
// batches when there is a backlog, with a bounded number of messages in flight; a fix leaves the
// buffer only when its own PUBACK arrives. Usable as a library: no process.env, no argv, one MQTT
// connection per agent, so a simulator can run thousands in one process.

import {
  Backoff,
  DEFAULT_MAX_BYTES,
  locationTopic,
  MAX_BATCH,
  redactUrl,
  statusTopic,
} from "@locus/protocol";
import mqtt from "mqtt";
import type { BufferedFix, FixBuffer } from "../buffer/buffer.ts";
import { admitFix } from "./admission.ts";
import type { AgentFix, AgentLog, AgentOptions, AgentStats } from "./options.ts";
import { encodeMessage } from "./payload.ts";
import { type ConnectFailure, describeConnectError, type FailureKind } from "./refusal.ts";
import { isTlsBroker, systemTrust } from "./trust.ts";

export { InvalidFixError } from "./admission.ts";
export type { AgentFix, AgentLog, AgentLogLevel, AgentOptions, AgentStats } from "./options.ts";

type Client = ReturnType<typeof mqtt.connect>;

const ONLINE = "online";
const OFFLINE = "offline";

export class Agent {
  readonly vehicleId: string;
  private readonly buffer: FixBuffer;
  private readonly topic: string;
  private readonly statusTopic: string;
  private readonly options: AgentOptions;
  private readonly window: number;
  private readonly maxBatch: number;
  private readonly maxPayloadBytes: number;
  private readonly now: () => number;
  private readonly log: AgentLog;
  private readonly backoff: Backoff;

  private client: Client | null = null;
  // Bumped for every connection and at stop, so a stale client's events are ignored.
  private generation = 0;
  private connected = false;
  private connectedAt = 0;
  private inflight = 0;
  // Highest seq published on this connection: the next message starts after it.
  private sentUpTo = -1;
  // Highest seq ever published, to count resends.
  private highestSent = -1;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  // What the last failed attempt of this outage was reported as, so an outage gives one line
  // (one more if the cause changes: the broker is back up but refuses the credentials, say).
  private outageReported: FailureKind | null = null;
  private lastFailure: ConnectFailure | null = null;
  private started = false;
  private stopping: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private counters = { sent: 0, resent: 0, acked: 0, connections: 0 };
  private droppedReported = 0;
  private dropReportedAt = Number.NEGATIVE_INFINITY;

  constructor(options: AgentOptions) {
    this.options = options;
    this.vehicleId = options.vehicleId;
    // Both throw on an invalid vehicle id.
    this.topic = locationTopic(options.vehicleId);
    this.statusTopic = statusTopic(options.vehicleId);
    this.buffer = options.buffer;
    this.window = positiveInteger("inflightWindow", options.inflightWindow ?? 16);
    this.maxBatch = Math.min(MAX_BATCH, positiveInteger("maxBatch", options.maxBatch ?? MAX_BATCH));
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_BYTES;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.backoff = new Backoff({
      initialMs: options.reconnectInitialMs ?? 1000,
      maxMs: options.reconnectMaxMs ?? 30_000,
      ...(options.random ? { random: options.random } : {}),
    });
    this.droppedReported = this.buffer.dropped();
  }

  /** Connects (at once) and starts sending what is buffered. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  /**
   * Commits a fix to the buffer with the next seq, then sends it when the window allows: alone at
   * once when nothing is waiting, else behind the backlog. A fix without ts gets the time it was
   * read. Throws InvalidFixError for a fix the protocol would refuse, a BufferError when the
   * buffer cannot store it, an Error after stop().
   */
  push(fix: AgentFix): BufferedFix {
    if (this.stopping) throw new Error(`agent ${this.vehicleId} is stopped`);
    const stored = this.buffer.put(admitFix(this.topic, fix, this.now()));
    this.reportDrops();
    this.pump();
    return stored;
  }

  /** A snapshot of the counters. */
  stats(): AgentStats {
    return {
      connected: this.connected,
      ...this.counters,
      buffered: this.buffer.depth(),
      dropped: this.buffer.dropped(),
      inflight: this.inflight,
    };
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once the buffer is empty and nothing is in flight (maybe never, if offline). */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Stops sending, waits up to `stopTimeoutMs` for in-flight acknowledgements, publishes a
   * retained `offline` and disconnects. What is not acknowledged stays in the buffer, which the
   * caller closes.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    const wasConnected = this.connected;
    const deadline = Date.now() + (this.options.stopTimeoutMs ?? 3000);
    if (client !== null && wasConnected) {
      await this.waitIdle(deadline);
      if (this.connected) {
        await withDeadline(
          new Promise<void>((resolve) => {
            client.publish(this.statusTopic, OFFLINE, { qos: 1, retain: true }, () => resolve());
          }),
          deadline,
        );
      }
    }
    // From here on the client's callbacks and events are stale.
    this.generation++;
    this.connected = false;
    this.inflight = 0;
    this.client = null;
    this.drainWaiters = [];
    if (client === null) return;
    if (!wasConnected || !client.connected) {
      client.end(true);
      return;
    }
    // A DISCONNECT, so the broker discards the will: `offline` was published above.
    const ended = await withDeadline(
      new Promise<boolean>((resolve) => client.end(false, {}, () => resolve(true))),
      Math.max(deadline, Date.now() + 500),
    );
    if (ended !== true) client.end(true);
  }

  private connect(): void {
    this.reconnectTimer = null;
    const generation = ++this.generation;
    const o = this.options;
    const client = mqtt.connect(o.brokerUrl, {
      clientId: o.clientId ?? `locus-agent-${this.vehicleId}`,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      // mqtts:// and wss:// verify the broker's certificate (MQTT.js keeps rejectUnauthorized on)
      // against --ca, or else Node's CAs and the system's.
      ...(o.ca !== undefined
        ? { ca: o.ca }
        : isTlsBroker(o.brokerUrl)
          ? { ca: systemTrust() }
          : {}),
      clean: true,
      keepalive: o.keepaliveSeconds ?? 30,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      // Reconnection is ours (backoff with jitter) and so is the queue (the buffer): a fresh
      // client per connection, so MQTT.js never resends from its own memory.
      reconnectPeriod: 0,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: this.statusTopic, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    });
    this.client = client;
    client.on("connect", () => {
      if (generation === this.generation) this.onConnect(client);
    });
    client.on("error", (err) => {
      if (generation === this.generation) {
        this.lastFailure = describeConnectError(err, o.username, o.ca !== undefined);
      }
    });
    client.on("close", () => {
      if (generation === this.generation) this.onClose(client);
    });
  }

  private onConnect(client: Client): void {
    this.connected = true;
    this.connectedAt = Date.now();
    this.counters.connections++;
    this.inflight = 0;
    this.sentUpTo = -1;
    const waiting = this.buffer.depth();
    if (this.outageReported !== null) {
      this.log("info", `connected to ${this.brokerName()}; sending ${waiting} buffered fixes`);
    } else {
      this.log("debug", `connected to ${this.brokerName()} (${waiting} fixes buffered)`);
    }
    this.outageReported = null;
    this.lastFailure = null;
    client.publish(this.statusTopic, ONLINE, { qos: 1, retain: true }, () => {});
    this.pump();
  }

  private onClose(client: Client): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.inflight = 0;
    this.client = null;
    // The client's pending callbacks now fail; the bump makes onPublished ignore them.
    this.generation++;
    client.end(true);
    this.notifyIdle();
    if (this.stopping) return;
    const failure = this.lastFailure ?? { kind: "other", reason: "connection closed" };
    this.lastFailure = null;
    if (wasConnected) {
      if (Date.now() - this.connectedAt >= (this.options.reconnectResetAfterMs ?? 10_000)) {
        this.backoff.reset();
      }
      this.log("debug", `connection to ${this.brokerName()} lost: ${failure.reason}`);
    } else if (this.outageReported !== failure.kind) {
      this.outageReported = failure.kind;
      this.reportRefusal(failure);
    }
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  // A refusal (credentials, certificate) needs the operator: a warning. The agent still retries
  // with its backoff, since the broker's side may be fixed without touching the vehicle, and
  // keeps every fix meanwhile.
  private reportRefusal(failure: ConnectFailure): void {
    const where = `cannot connect to ${this.brokerName()}: ${failure.reason}`;
    if (failure.kind === "other") {
      this.log("info", `${where}; fixes are buffered, retrying`);
      return;
    }
    this.log("warn", `${where}; ${this.buffer.depth()} fixes stay buffered, retrying`);
  }

  private brokerName(): string {
    return redactUrl(this.options.brokerUrl);
  }

  // Publishes what the window allows: each message the oldest fixes not yet sent on this
  // connection, so the hub sees a vehicle's fixes in order, backlog first.
  private pump(): void {
    const client = this.client;
    if (!this.connected || client === null || this.stopping) return;
    while (this.inflight < this.window) {
      let fixes: BufferedFix[];
      try {
        fixes = this.buffer.nextBatch(this.sentUpTo, this.maxBatch);
      } catch (err) {
        this.log("error", err instanceof Error ? err.message : String(err));
        return;
      }
      const first = fixes[0];
      if (first === undefined) return;
      const { payload, count } = encodeMessage(this.vehicleId, fixes, this.maxPayloadBytes);
      const last = (fixes[count - 1] as BufferedFix).seq;
      this.sentUpTo = last;
      this.inflight++;
      this.counters.sent += count;
      if (first.seq <= this.highestSent) {
        this.counters.resent += Math.min(count, this.highestSent - first.seq + 1);
      }
      this.highestSent = Math.max(this.highestSent, last);
      const generation = this.generation;
      client.publish(this.topic, payload, { qos: 1 }, (err) => {
        this.onPublished(generation, first.seq, last, count, err);
      });
    }
  }

  private onPublished(
    generation: number,
    fromSeq: number,
    toSeq: number,
    count: number,
    err: Error | null | undefined,
  ): void {
    // An error means the connection went away first: the fixes stay buffered and go out again.
    if (!err) {
      try {
        this.buffer.ack(fromSeq, toSeq, this.now());
        this.counters.acked += count;
      } catch (ackErr) {
        // Not removed: the fixes will be sent again, and the hub drops the duplicates.
        this.log("error", ackErr instanceof Error ? ackErr.message : String(ackErr));
      }
    }
    if (generation !== this.generation) return;
    this.inflight--;
    this.pump();
    this.notifyIdle();
  }

  private isDrained(): boolean {
    return this.inflight === 0 && this.buffer.depth() === 0;
  }

  private notifyIdle(): void {
    if (this.inflight === 0 && this.idleWaiters.length > 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
    if (this.drainWaiters.length > 0 && this.isDrained()) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  private waitIdle(deadline: number): Promise<unknown> {
    if (this.inflight === 0) return Promise.resolve();
    return withDeadline(new Promise<void>((resolve) => this.idleWaiters.push(resolve)), deadline);
  }

  // One line when the buffer starts dropping, then at most one per minute while it goes on.
  private reportDrops(): void {
    const dropped = this.buffer.dropped();
    if (dropped === this.droppedReported) return;
    const now = this.now();
    if (now - this.dropReportedAt >= 60_000) {
      this.log("warn", `buffer full: ${dropped} oldest fixes dropped so far`);
      this.droppedReported = dropped;
      this.dropReportedAt = now;
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, not ${value}`);
  }
  return value;
}

/** `promise`'s value, or undefined once the wall clock passes `deadline`. */
function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

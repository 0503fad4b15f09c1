// RabbitMQ behind the Engine interface: a consistent-hash exchange spreads fixes by vehicle id
// over N quorum queues (x-single-active-consumer), publisher confirms as the acknowledgement,
// consumers acking in batches (multiple). amqplib does not reconnect, so the publisher and the
// consumer here do: to the next node, resending what was not confirmed.

import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import type { Engine, EngineConsumer, EnginePublisher } from "./engine.ts";
import { preferring } from "./nats-engine.ts";
import { RabbitCluster } from "./rabbit-cluster.ts";

export const FIXES_EXCHANGE = "locus.fixes";
export const MQTT_QUEUE = "mqtt.fixes";

export function partitionQueue(partition: number): string {
  return `locus.p.${partition}`;
}

export class RabbitEngine implements Engine {
  readonly name = "rabbitmq";
  private partitions = 0;

  private constructor(readonly cluster: RabbitCluster) {}

  /** `timeoutMs`: how long the cluster may take to start (RabbitCluster's default: 90 s). */
  static async start(timeoutMs?: number): Promise<RabbitEngine> {
    return new RabbitEngine(
      await RabbitCluster.start(timeoutMs === undefined ? {} : { timeoutMs }),
    );
  }

  get nodeNames(): string[] {
    return this.cluster.nodes.map((n) => n.name);
  }

  pids(): number[] {
    return this.cluster.pids();
  }

  kill(node: string): Promise<void> {
    return this.cluster.kill(node);
  }

  restart(node: string): Promise<void> {
    return this.cluster.restart(node);
  }

  private async withChannel<T>(work: (ch: Channel) => Promise<T>): Promise<T> {
    const urls = this.cluster.nodes.filter((n) => n.process.running).map((n) => n.amqpUrl);
    const conn = await connectFirst(urls);
    try {
      const ch = await conn.createChannel();
      return await work(ch);
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async setupPartitions(partitions: number): Promise<void> {
    this.partitions = partitions;
    await this.withChannel(async (ch) => {
      await ch.deleteExchange(FIXES_EXCHANGE).catch(() => undefined);
      await ch.assertExchange(FIXES_EXCHANGE, "x-consistent-hash", { durable: true });
      for (let p = 0; p < 64; p++) await ch.deleteQueue(partitionQueue(p));
      for (let p = 0; p < partitions; p++) {
        await ch.assertQueue(partitionQueue(p), {
          durable: true,
          arguments: {
            "x-queue-type": "quorum",
            "x-single-active-consumer": true,
            "x-queue-leader-locator": "balanced",
          },
        });
        // The binding key of a consistent-hash exchange is the partition's weight.
        await ch.bindQueue(partitionQueue(p), FIXES_EXCHANGE, "1");
      }
    });
  }

  /** The node leading partition 0's queue. */
  async writeLeader(): Promise<string> {
    return this.queueLeader(partitionQueue(0));
  }

  private async queueLeader(queue: string): Promise<string> {
    const out = await this.cluster.ctl(["list_queues", "name", "leader", "--formatter", "json"]);
    const rows = JSON.parse(out) as Array<{ name: string; leader: string }>;
    const row = rows.find((r) => r.name === queue);
    if (!row) throw new Error(`queue ${queue} not found`);
    return this.cluster.node(row.leader).name;
  }

  async publisher(node: string): Promise<EnginePublisher> {
    const urls = preferring(node, this.nodeNames).map((n) => this.cluster.node(n).amqpUrl);
    const publisher = new ResendingPublisher(urls, FIXES_EXCHANGE);
    await publisher.connect();
    return publisher;
  }

  async consumer(node: string, onFix: (body: Uint8Array) => void): Promise<EngineConsumer> {
    const urls = preferring(node, this.nodeNames).map((n) => this.cluster.node(n).amqpUrl);
    const queues = Array.from({ length: this.partitions }, (_, p) => partitionQueue(p));
    const consumer = new ReconnectingConsumer(urls, queues, (body) => onFix(body));
    await consumer.connect();
    return consumer;
  }

  async setupMqttStorage(): Promise<void> {
    await this.withChannel(async (ch) => {
      await ch.deleteQueue(MQTT_QUEUE);
      await ch.assertQueue(MQTT_QUEUE, { durable: true, arguments: { "x-queue-type": "quorum" } });
      // rabbitmq_mqtt publishes to amq.topic with '/' turned into '.'.
      await ch.bindQueue(MQTT_QUEUE, "amq.topic", "locus.vehicles.*.location");
    });
  }

  mqttStorageLeader(): Promise<string> {
    return this.queueLeader(MQTT_QUEUE);
  }

  mqttPort(node: string): number {
    return this.cluster.node(node).mqttPort;
  }

  async mqttStored(): Promise<Uint8Array[]> {
    return this.withChannel(async (ch) => {
      const { messageCount } = await ch.checkQueue(MQTT_QUEUE);
      const bodies: Uint8Array[] = [];
      if (messageCount === 0) return bodies;
      await ch.prefetch(1000);
      await new Promise<void>((resolve) => {
        let idle = setTimeout(resolve, 2000);
        // Without acks: this read is the last use of the queue in a run.
        void ch.consume(
          MQTT_QUEUE,
          (msg) => {
            if (!msg) return;
            bodies.push(msg.content);
            clearTimeout(idle);
            idle = setTimeout(resolve, 2000);
            if (bodies.length >= messageCount) resolve();
          },
          { noAck: true },
        );
      });
      return bodies;
    });
  }

  async prepareConsumerGroup(): Promise<void> {
    // Nothing: x-single-active-consumer on every partition queue is the whole mechanism.
  }

  consumerProcessConfig(partitions: number): Record<string, unknown> {
    return {
      engine: "rabbitmq",
      urls: this.cluster.nodes.map((n) => n.amqpUrl),
      partitions,
    };
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
  }
}

/** Connects to the first URL that answers. */
export async function connectFirst(urls: string[]): Promise<ChannelModel> {
  let lastError: unknown;
  for (const url of urls) {
    try {
      return await amqp.connect(url, { timeout: 2000 });
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`no RabbitMQ node answered: ${(lastError as Error)?.message}`);
}

interface Outstanding {
  routingKey: string;
  body: Buffer;
  resolve: () => void;
  /** When it was last sent, ms. */
  sentAt: number;
}

/** A confirm this late means the channel will not confirm it: reconnect and resend. */
const CONFIRM_TIMEOUT_MS = 5000;

/**
 * Publishes with confirms; when the connection dies, reconnects to the next node and resends
 * every fix not yet confirmed (the engine may then hold it twice: duplicates are counted).
 */
class ResendingPublisher implements EnginePublisher {
  private conn: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private generation = 0;
  private readonly outstanding = new Map<number, Outstanding>();
  private closed = false;
  private reconnecting: Promise<void> | null = null;
  private readonly watchdog: NodeJS.Timeout;
  /** Times a channel was given up for a missing confirm. */
  confirmTimeouts = 0;
  /** Publishes the broker refused (basic.nack), each resent. */
  nacks = 0;

  constructor(
    private readonly urls: string[],
    private readonly exchange: string,
  ) {
    // RabbitMQ 3.10.8 was seen never confirming some publishes made after a quorum queue's
    // leader died (on a fresh connection to a live node); they are resent on another connection.
    this.watchdog = setInterval(() => {
      if (!this.channel || this.reconnecting) return;
      const now = Date.now();
      for (const fix of this.outstanding.values()) {
        if (now - fix.sentAt > CONFIRM_TIMEOUT_MS) {
          this.confirmTimeouts += 1;
          this.channel = null;
          this.generation += 1;
          void this.conn?.close().catch(() => undefined);
          this.reconnecting ??= this.reconnect();
          return;
        }
      }
    }, 500);
  }

  async connect(): Promise<void> {
    const conn = await connectFirst(this.urls);
    const channel = await conn.createConfirmChannel();
    this.generation += 1;
    const generation = this.generation;
    const lost = () => {
      if (this.generation !== generation || this.closed) return;
      this.channel = null;
      this.reconnecting ??= this.reconnect();
    };
    conn.on("close", lost);
    conn.on("error", lost);
    channel.on("close", lost);
    channel.on("error", lost);
    this.conn = conn;
    this.channel = channel;
    for (const [n, fix] of this.outstanding) this.send(n, fix);
  }

  private async reconnect(): Promise<void> {
    while (!this.closed) {
      try {
        await this.connect();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.reconnecting = null;
  }

  private send(n: number, fix: Outstanding): void {
    const channel = this.channel;
    fix.sentAt = Date.now();
    if (!channel) return;
    const generation = this.generation;
    try {
      channel.publish(
        this.exchange,
        fix.routingKey,
        fix.body,
        { persistent: true, messageId: String(n) },
        (err) => {
          if (generation !== this.generation) return;
          if (err) {
            // Nacked (the queue refused it): resend shortly, on this channel or the next one.
            this.nacks += 1;
            setTimeout(() => {
              if (this.outstanding.has(n)) this.send(n, fix);
            }, 100);
            return;
          }
          this.outstanding.delete(n);
          fix.resolve();
        },
      );
    } catch {
      // The channel closed under us; the reconnect resends.
    }
  }

  publish(vehicle: string, n: number, body: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const fix = { routingKey: vehicle, body, resolve, sentAt: Date.now() };
      this.outstanding.set(n, fix);
      this.send(n, fix);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.conn?.close().catch(() => undefined);
  }
}

/**
 * Consumes every partition queue on one channel (prefetch 256), acking in batches (multiple,
 * every 64 messages or 20 ms); reconnects to the next node when its connection dies.
 */
export class ReconnectingConsumer implements EngineConsumer {
  private conn: ChannelModel | null = null;
  private closed = false;
  private generation = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly urls: string[],
    private readonly queues: string[],
    private readonly onFix: (body: Uint8Array, queue: string) => void,
  ) {}

  async connect(): Promise<void> {
    const conn = await connectFirst(this.urls);
    const channel = await conn.createChannel();
    await channel.prefetch(256);
    this.generation += 1;
    const generation = this.generation;
    let last: amqp.ConsumeMessage | null = null;
    let count = 0;
    const flush = () => {
      if (generation !== this.generation || !last) return;
      try {
        channel.ack(last, true);
      } catch {
        // Channel gone: the engine redelivers what was not acked.
      }
      last = null;
      count = 0;
    };
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(flush, 20);
    const lost = () => {
      if (generation !== this.generation || this.closed) return;
      this.generation += 1;
      void this.reconnect();
    };
    conn.on("close", lost);
    conn.on("error", lost);
    for (const queue of this.queues) {
      await channel.consume(queue, (msg) => {
        if (!msg || generation !== this.generation) return;
        this.onFix(msg.content, queue);
        last = msg;
        count += 1;
        if (count >= 64) flush();
      });
    }
    this.conn = conn;
  }

  private async reconnect(): Promise<void> {
    while (!this.closed) {
      try {
        await this.connect();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.conn?.close().catch(() => undefined);
  }
}

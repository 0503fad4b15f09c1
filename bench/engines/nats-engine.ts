// NATS JetStream behind the Engine interface: one replicated (R3) stream FIXES on
// locus.p.<partition>.<vehicle>, one durable pull consumer per partition (ack all, acked in
// batches), PubAck with a message id so a resend after a lost ack is stored once.

import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
  type NatsConnection,
} from "nats";
import { NatsCluster } from "../../tests/support/nats-cluster.ts";
import type { Engine, EngineConsumer, EnginePublisher } from "./engine.ts";
import { partitionOf } from "./fixes.ts";

export const FIXES_STREAM = "FIXES";
export const MQTT_STREAM = "MQTTFIX";
export const OWNERS_BUCKET = "owners";

export function partitionSubject(vehicle: string, partitions: number): string {
  return `locus.p.${partitionOf(vehicle, partitions)}.${vehicle}`;
}

export class NatsEngine implements Engine {
  readonly name = "nats";
  private partitions = 0;

  private constructor(
    readonly cluster: NatsCluster,
    private readonly admin: NatsConnection,
  ) {}

  static async start(): Promise<NatsEngine> {
    const cluster = await NatsCluster.start();
    const admin = await cluster.connect();
    return new NatsEngine(cluster, admin);
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

  async setupPartitions(partitions: number): Promise<void> {
    this.partitions = partitions;
    const jsm = await this.admin.jetstreamManager({ timeout: 10_000 });
    await jsm.streams.delete(FIXES_STREAM).catch(() => undefined);
    await jsm.streams.add({
      name: FIXES_STREAM,
      subjects: ["locus.p.>"],
      num_replicas: 3,
      duplicate_window: 120_000_000_000,
    });
    for (let p = 0; p < partitions; p++) {
      await jsm.consumers.add(FIXES_STREAM, partitionConsumerConfig(p, 1));
    }
  }

  async writeLeader(): Promise<string> {
    const jsm = await this.admin.jetstreamManager();
    const info = await jsm.streams.info(FIXES_STREAM);
    const leader = info.cluster?.leader;
    if (!leader) throw new Error("stream FIXES has no leader");
    return leader;
  }

  async publisher(node: string): Promise<EnginePublisher> {
    const nc = await this.cluster.connect(preferring(node, this.nodeNames));
    const js = nc.jetstream({ timeout: 1000 });
    const partitions = this.partitions;
    return {
      async publish(vehicle, n, body) {
        const subject = partitionSubject(vehicle, partitions);
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            await js.publish(subject, body, { msgID: String(n), timeout: 1000 });
            return;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      },
      close: () => nc.drain(),
    };
  }

  async consumer(node: string, onFix: (body: Uint8Array) => void): Promise<EngineConsumer> {
    const nc = await this.cluster.connect(preferring(node, this.nodeNames));
    const js = nc.jetstream();
    const stops: Array<() => void> = [];
    for (let p = 0; p < this.partitions; p++) {
      stops.push(await consumePartition(js, p, onFix));
    }
    return {
      async close() {
        for (const stop of stops) stop();
        await nc.close();
      },
    };
  }

  async setupMqttStorage(): Promise<void> {
    const jsm = await this.admin.jetstreamManager({ timeout: 10_000 });
    await jsm.streams.delete(MQTT_STREAM).catch(() => undefined);
    await jsm.streams.add({
      name: MQTT_STREAM,
      subjects: ["locus.vehicles.*.location"],
      num_replicas: 3,
    });
  }

  async mqttStorageLeader(): Promise<string> {
    const jsm = await this.admin.jetstreamManager();
    const info = await jsm.streams.info(MQTT_STREAM);
    const leader = info.cluster?.leader;
    if (!leader) throw new Error("stream MQTTFIX has no leader");
    return leader;
  }

  mqttPort(node: string): number {
    return this.cluster.node(node).mqttPort;
  }

  async mqttStored(): Promise<Uint8Array[]> {
    const jsm = await this.admin.jetstreamManager();
    const info = await jsm.streams.info(MQTT_STREAM);
    const bodies: Uint8Array[] = [];
    if (info.state.messages === 0) return bodies;
    const js = this.admin.jetstream();
    const ordered = await js.consumers.get(MQTT_STREAM);
    const messages = await ordered.consume();
    for await (const m of messages) {
      bodies.push(m.data);
      if (m.seq >= info.state.last_seq) break;
    }
    return bodies;
  }

  async prepareConsumerGroup(leaseMs: number): Promise<void> {
    const jsm = await this.admin.jetstreamManager({ timeout: 10_000 });
    await jsm.streams.delete(`KV_${OWNERS_BUCKET}`).catch(() => undefined);
    const js = this.admin.jetstream();
    await js.views.kv(OWNERS_BUCKET, { history: 1, ttl: leaseMs, replicas: 3 });
  }

  consumerProcessConfig(partitions: number): Record<string, unknown> {
    return { engine: "nats", urls: this.cluster.urls, partitions };
  }

  async stop(): Promise<void> {
    await this.admin.close().catch(() => undefined);
    await this.cluster.stop();
  }
}

/** The durable consumer of one partition, starting at stream sequence `startSeq`. */
export function partitionConsumerConfig(partition: number, startSeq: number) {
  return {
    durable_name: `p${partition}`,
    filter_subject: `locus.p.${partition}.>`,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: startSeq,
    ack_wait: 10_000_000_000,
    max_ack_pending: 1024,
  };
}

/**
 * Pulls one partition's durable consumer and acks in batches (ack-all on the latest message,
 * every 64 messages or 20 ms). Returns a function that stops it.
 */
export async function consumePartition(
  js: JetStreamClient,
  partition: number,
  onFix: (body: Uint8Array, msg: JsMsg) => void,
): Promise<() => void> {
  const consumer = await js.consumers.get(FIXES_STREAM, `p${partition}`);
  const messages = await consumer.consume({ max_messages: 256, expires: 2000 });
  let unacked: JsMsg | null = null;
  let count = 0;
  const flush = () => {
    if (unacked) unacked.ack();
    unacked = null;
    count = 0;
  };
  const timer = setInterval(flush, 20);
  void (async () => {
    for await (const m of messages) {
      onFix(m.data, m);
      unacked = m;
      count += 1;
      if (count >= 64) flush();
    }
  })().catch(() => undefined);
  return () => {
    clearInterval(timer);
    flush();
    messages.stop();
  };
}

/** Node names with `first` first, so a client connects there and fails over to the rest. */
export function preferring(first: string, all: string[]): string[] {
  return [first, ...all.filter((n) => n !== first)];
}

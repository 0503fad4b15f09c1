// One consumer process of the partitioned-consumption scenario (started three times, killed with
// SIGKILL by the scenario). It writes what it does to stdout, one line each, for the scenario to
// check: `O <partition> <fencing token>` when it takes a partition (NATS), and
// `D <partition> <fix JSON>` for every fix it processes, written before the fix is acknowledged.
//
// NATS 2.9 has no single-active consumer, so ownership is a lease layered on the engine: a key
// per partition in a replicated KV bucket whose entries expire (TTL), taken with create
// (compare-and-set on "no entry") and renewed with update (compare-and-set on the revision).
// The revision is the fencing token. A new owner restarts the partition's durable consumer just
// after its ack floor, so unacknowledged fixes come again first, in order.
// RabbitMQ: each partition is a quorum queue with x-single-active-consumer; every process
// subscribes to all queues, its own third first, so the broker picks one active consumer each.

import type amqp from "amqplib";
import { connect } from "nats";
import {
  consumePartition,
  FIXES_STREAM,
  OWNERS_BUCKET,
  partitionConsumerConfig,
} from "./nats-engine.ts";
import { connectFirst, partitionQueue } from "./rabbit-engine.ts";

export interface ConsumerProcessConfig {
  engine: "nats" | "rabbitmq";
  urls: string[];
  partitions: number;
  /** 0, 1 or 2. */
  id: number;
  /** How many consumer processes take part (for a fair share). */
  group: number;
  /** NATS: how often the lease loop runs, ms. */
  tickMs?: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as ConsumerProcessConfig;
const say = (line: string) => process.stdout.write(`${line}\n`);

function rotate<T>(items: T[], by: number): T[] {
  return items.map((_, i) => items[(i + by) % items.length] as T);
}

async function runNats(): Promise<void> {
  const nc = await connect({ servers: rotate(config.urls, config.id), noRandomize: true });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const kv = await js.views.kv(OWNERS_BUCKET);
  const me = `c${config.id}`;
  const owned = new Map<number, { revision: number; stop: () => void }>();
  const started = Date.now();

  const take = async (p: number, revision: number) => {
    const info = await jsm.consumers.info(FIXES_STREAM, `p${p}`);
    await jsm.consumers.delete(FIXES_STREAM, `p${p}`);
    await jsm.consumers.add(
      FIXES_STREAM,
      partitionConsumerConfig(p, info.ack_floor.stream_seq + 1),
    );
    say(`O ${p} ${revision}`);
    const stop = await consumePartition(js, p, (body) =>
      say(`D ${p} ${Buffer.from(body).toString()}`),
    );
    owned.set(p, { revision, stop });
  };

  const tick = async () => {
    await kv.put(`member.${me}`, "1");
    let members = 0;
    for await (const _ of await kv.keys("member.*")) members += 1;
    // Until the whole group showed up (or 3 s passed), take nothing: the first would take all.
    if (members < config.group && Date.now() - started < 3000) return;
    const share = Math.ceil(config.partitions / Math.max(members, 1));
    for (const [p, lease] of owned) {
      try {
        lease.revision = await kv.update(`p.${p}`, me, lease.revision);
      } catch {
        lease.stop();
        owned.delete(p);
        say(`L ${p}`);
      }
    }
    for (let i = 0; i < config.partitions && owned.size < share; i++) {
      const p = (i + config.id * Math.ceil(config.partitions / config.group)) % config.partitions;
      if (owned.has(p)) continue;
      const entry = await kv.get(`p.${p}`);
      if (entry && entry.operation === "PUT") continue;
      let revision: number;
      try {
        revision = await kv.create(`p.${p}`, me);
      } catch {
        continue;
      }
      await take(p, revision);
    }
  };
  say("R");
  for (;;) {
    await tick().catch((err) => process.stderr.write(`tick: ${(err as Error).message}\n`));
    await new Promise((resolve) => setTimeout(resolve, config.tickMs ?? 500));
  }
}

async function runRabbit(): Promise<void> {
  const conn = await connectFirst(rotate(config.urls, config.id));
  const channel = await conn.createChannel();
  await channel.prefetch(256);
  let last: amqp.ConsumeMessage | null = null;
  let count = 0;
  const flush = () => {
    if (last) channel.ack(last, true);
    last = null;
    count = 0;
  };
  setInterval(flush, 20);
  const subscribe = async (p: number) => {
    await channel.consume(partitionQueue(p), (msg) => {
      if (!msg) return;
      say(`D ${p} ${msg.content.toString()}`);
      last = msg;
      count += 1;
      if (count >= 64) flush();
    });
  };
  const all = Array.from({ length: config.partitions }, (_, p) => p);
  const mine = all.filter((p) => p % config.group === config.id);
  for (const p of mine) await subscribe(p);
  say("R");
  // The others' partitions as a standby: the broker keeps the first subscriber active.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const p of all.filter((q) => !mine.includes(q))) await subscribe(p);
  conn.on("close", () => process.exit(3));
}

if (config.engine === "nats") await runNats();
else await runRabbit();

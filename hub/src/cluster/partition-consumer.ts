// One owned partition's fixes, from the engine into this hub's group commit, in stream order.
// A message is acknowledged to the engine (and so leaves it) only once its fixes are committed,
// with the partition's fencing token checked in that commit. When a commit fails, the partition
// starts over from its first unacknowledged message, once everything it handed over has settled,
// so its fixes are never committed out of order; when the failure is that another hub claimed it,
// the partition is given up.

import type { Fix } from "@locus/protocol";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "nats";
import type { FixSource } from "../metrics.ts";
import { Fenced, type PartitionClaim } from "../store/store.ts";
import { decodeFixMessage } from "./fix-message.ts";
import { FIXES_STREAM, partitionFilter } from "./partition.ts";

/** The group commit, as this consumer hands it fixes. */
export interface ClaimedSink {
  submit(
    fixes: readonly Fix[],
    done: (err: Error | null) => void,
    source: FixSource,
    claim: PartitionClaim,
  ): void;
}

export interface PartitionConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  sink: ClaimedSink;
  claim: PartitionClaim;
  /** Another hub claimed the partition: the owner stops this consumer and drops its lease. */
  onFenced: (partition: number) => void;
  /** A message that is not a fix message (dropped) or a failed commit (retried). */
  onError: (err: Error, partition: number) => void;
}

/** Messages handed over and not yet committed, per partition, at most (the engine holds the rest). */
const MAX_PENDING = 1024;
/** Messages fetched per pull. */
const PULL = 256;
/** Wait before starting over after a failed commit or a lost pull, ms. */
const RESTART_MS = 500;

export class PartitionConsumer {
  readonly #o: PartitionConsumerOptions;
  #messages: ConsumerMessages | null = null;
  /** Handed to the sink and not settled yet. */
  readonly #pending = new Set<Promise<void>>();
  #stopped = false;
  #running: Promise<void> | null = null;

  constructor(options: PartitionConsumerOptions) {
    this.#o = options;
  }

  get partition(): number {
    return this.#o.claim.partition;
  }

  /** Starts consuming from the partition's first unacknowledged message. */
  start(): void {
    this.#running = this.#run();
  }

  /** Stops pulling; resolves once every fix handed over is committed (and acknowledged) or failed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#messages?.stop();
    await this.#running;
    await this.#settled();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let failed: Error | null = null;
      try {
        failed = await this.#consume();
      } catch (err) {
        failed = err as Error;
      }
      this.#messages = null;
      await this.#settled();
      if (this.#stopped) return;
      if (failed instanceof Fenced) {
        this.#o.onFenced(this.partition);
        return;
      }
      if (failed !== null) this.#o.onError(failed, this.partition);
      await new Promise((resolve) => setTimeout(resolve, RESTART_MS));
    }
  }

  /**
   * Replaces the partition's durable consumer with one that starts at the first message still on
   * the stream (the stream keeps only unacknowledged ones), and pulls until stopped or a commit
   * fails. Returns that failure, or null when stopped.
   */
  async #consume(): Promise<Error | null> {
    const { js, jsm, claim } = this.#o;
    const name = `p${claim.partition}`;
    await jsm.consumers.delete(FIXES_STREAM, name).catch(() => undefined);
    await jsm.consumers.add(FIXES_STREAM, {
      durable_name: name,
      filter_subject: partitionFilter(claim.partition),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // Messages are never left to be redelivered: a failure starts the consumer over.
      ack_wait: 300 * 1e9,
      max_ack_pending: MAX_PENDING,
      // One replica: its state is only which messages are out; the stream (replicated) drops a
      // message at its acknowledgement, and a consumer lost with its node is made anew at the
      // first message left, as at every takeover. Replicated, each of the partitions' consumers
      // was a Raft group of its own, and the engine's idle CPU 2.5 times as high (measured).
      num_replicas: 1,
    });
    if (this.#stopped) return null;
    const consumer = await js.consumers.get(FIXES_STREAM, name);
    const messages = await consumer.consume({ max_messages: PULL, expires: 2000 });
    this.#messages = messages;
    let failure: Error | null = null;
    const fail = (err: Error) => {
      if (failure !== null) return;
      failure = err;
      messages.stop();
    };
    for await (const m of messages) {
      if (failure !== null || this.#stopped) break;
      this.#hand(m, fail);
    }
    return failure;
  }

  /** Hands one message's fixes to the group commit; acknowledges it once they are committed. */
  #hand(m: JsMsg, fail: (err: Error) => void): void {
    const message = decodeFixMessage(m.data);
    if (message === null) {
      this.#o.onError(new Error(`dropped message ${m.seq}: not a fix message`), this.partition);
      m.term();
      return;
    }
    const settled = new Promise<void>((resolve) => {
      this.#o.sink.submit(
        message.fixes,
        (err) => {
          if (err === null) m.ack();
          else fail(err);
          resolve();
        },
        message.source,
        this.#o.claim,
      );
    });
    this.#pending.add(settled);
    void settled.then(() => this.#pending.delete(settled));
  }

  async #settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}

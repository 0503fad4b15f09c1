// One owned partition's fixes, from the engine into this hub's group commit, in stream order.
// Where to read from is in PostgreSQL, not on the engine: each commit records, with the fixes,
// the stream sequence of the partition's newest message it carries (partition_claims, under the
// partition's fencing token), and a new owner reads on from the sequence it finds there. So a
// message is committed once whichever hub read it before, and nothing on the engine has to be
// acknowledged, or can be acknowledged late by a hub that lost the partition. The engine keeps
// the messages a day (engine-link.ts) rather than being purged by the owner: a purge by subject on nats-server 2.9.10
// lost messages not yet read when nodes restarted (measured). Reading is an ordered
// consumer: the client makes it anew, where it left off, after a lost connection or a gap. When a
// commit fails, the partition starts over from what is committed once everything it handed over
// has settled, so its fixes are never committed out of order; when the failure is that another
// hub claimed it, the partition is given up.

import type { Fix } from "@locus/protocol";
import {
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
  /** The stream sequence the partition is committed up to (from the claim). */
  committedSeq: number;
  /** Another hub claimed the partition: the owner stops this consumer and drops its lease. */
  onFenced: (partition: number) => void;
  /** A message that is not a fix message (skipped) or a failed commit (retried). */
  onError: (err: Error, partition: number) => void;
}

/** Messages handed over and not yet committed, at most; reading waits beyond it. */
const MAX_PENDING = 1024;
/** Messages fetched per pull. */
const PULL = 256;
const PULL_EXPIRES_MS = 5000;
/** How long the read of a partition may take to start, ms. */
const START_MS = 10_000;
/** Wait before starting over after a failed commit or a lost read, ms. */
const RESTART_MS = 500;

export class PartitionConsumer {
  readonly #o: PartitionConsumerOptions;
  #messages: ConsumerMessages | null = null;
  /** Handed to the sink and not settled yet. */
  readonly #pending = new Set<Promise<void>>();
  /** The newest stream sequence committed (known to be in PostgreSQL). */
  #committed: number;
  /** The sequence of the last message handed over: the next one follows it. */
  #handed: number;
  #stopped = false;
  #running: Promise<void> | null = null;

  constructor(options: PartitionConsumerOptions) {
    this.#o = options;
    this.#committed = options.committedSeq;
    this.#handed = options.committedSeq;
  }

  get partition(): number {
    return this.#o.claim.partition;
  }

  /** The fencing token the partition is read under. */
  get token(): number {
    return this.#o.claim.token;
  }

  /** Starts reading after what is committed. */
  start(): void {
    this.#running = this.#run();
  }

  /** Stops reading; resolves once every fix handed over is committed or failed. */
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
      this.#messages?.stop();
      this.#messages = null;
      await this.#settled();
      if (this.#stopped) return;
      // Fenced on this partition: given up. Fenced on another one sharing the group commit:
      // started over, like any failed commit.
      if (failed instanceof Fenced && failed.partition === this.partition) {
        this.#o.onFenced(this.partition);
        return;
      }
      if (failed !== null) this.#o.onError(failed, this.partition);
      await new Promise((resolve) => setTimeout(resolve, RESTART_MS));
    }
  }

  /**
   * Reads the partition from just after what is committed until stopped or a commit fails.
   * Returns that failure, or null when stopped.
   */
  async #consume(): Promise<Error | null> {
    const { js, claim } = this.#o;
    this.#handed = this.#committed;
    const consumer = await js.consumers.get(FIXES_STREAM, {
      filterSubjects: partitionFilter(claim.partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#committed + 1,
    });
    if (this.#stopped) return null;
    // Pulls expire after 5 s, so a read lost with an engine node (its heartbeats stop) is
    // noticed and made anew within seconds, not the default half minute.
    const creating = consumer.consume({ max_messages: PULL, expires: PULL_EXPIRES_MS });
    // The client keeps trying to create the read while the engine elects a leader, for minutes;
    // a partition that cannot start reading within START_MS starts over (and stop() is never
    // held up longer than that).
    const messages = await Promise.race([
      creating,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), START_MS)),
    ]);
    if (messages === null) {
      creating.then((m) => m.stop()).catch(() => undefined);
      throw new Error(`reading partition ${claim.partition} did not start within ${START_MS} ms`);
    }
    if (this.#stopped) {
      messages.stop();
      return null;
    }
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
      while (this.#pending.size >= MAX_PENDING && failure === null && !this.#stopped) {
        await Promise.race(this.#pending);
      }
    }
    return failure;
  }

  /** Hands one message's fixes to the group commit, with the partition's claim and its sequence. */
  #hand(m: JsMsg, fail: (err: Error) => void): void {
    const message = decodeFixMessage(m.data);
    if (message === null) {
      // Skipped; the next message follows the one before it, and its commit passes this one.
      this.#o.onError(new Error(`skipped message ${m.seq}: not a fix message`), this.partition);
      return;
    }
    const seq = m.seq;
    // The commit is refused unless the partition is committed up to the message before this one
    // (PartitionGap): after a failed commit, no later message is committed over it.
    const follows = this.#handed;
    this.#handed = seq;
    const settled = new Promise<void>((resolve) => {
      this.#o.sink.submit(
        message.fixes,
        (err) => {
          if (err === null) this.#committed = Math.max(this.#committed, seq);
          else fail(err);
          resolve();
        },
        message.source,
        { ...this.#o.claim, seq, follows },
      );
    });
    this.#pending.add(settled);
    void settled.then(() => this.#pending.delete(settled));
  }

  async #settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}

// The way in for fixes when several hubs share the fleet: instead of committing them, the
// receiving hub stores them on the engine, in their vehicle's partition, and only then lets the
// device have its acknowledgement (docs/scaling.md, "Where PUBACK happens"). Each vehicle has one
// publish in flight at a time, so its fixes reach the stream in the order they arrived here; a
// resend after a lost engine acknowledgement carries the same message id and is stored once.

import type { Fix } from "@locus/protocol";
import type { JetStreamClient } from "nats";
import type { FixSink } from "../ingest/pipeline.ts";
import type { FixSource } from "../metrics.ts";
import { encodeFixMessage, fixMessageId } from "./fix-message.ts";
import { fixSubject } from "./partition.ts";

export interface ForwarderOptions {
  js: JetStreamClient;
  partitions: number;
  /** How long one message's publish is retried before it fails (the device sends it again), ms. */
  deadlineMs?: number;
  /** How long one attempt waits for the engine's acknowledgement, ms. */
  attemptMs?: number;
  /** One vehicle's fixes stored on the engine (duplicate: a resend it already had). */
  onForwarded?: (fixes: number, duplicate: boolean) => void;
}

const RETRY_MS = 200;

export class FixForwarder implements FixSink {
  readonly #o: Required<ForwarderOptions>;
  /** Per vehicle, the end of its chain of publishes; gone once the chain is idle. */
  readonly #chains = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(options: ForwarderOptions) {
    this.#o = { deadlineMs: 30_000, attemptMs: 5000, onForwarded: () => {}, ...options };
  }

  /**
   * Stores the fixes on the engine, each vehicle's in its partition; `done(null)` once all are
   * stored there, `done(err)` when one vehicle's could not be within the deadline.
   */
  submit(
    fixes: readonly Fix[],
    done: (err: Error | null) => void,
    source: FixSource = "agent",
  ): void {
    if (this.#stopped) {
      done(new Error("the hub is stopping"));
      return;
    }
    if (fixes.length === 0) {
      done(null);
      return;
    }
    const groups = new Map<string, Fix[]>();
    for (const fix of fixes) {
      const group = groups.get(fix.vehicle_id);
      if (group === undefined) groups.set(fix.vehicle_id, [fix]);
      else group.push(fix);
    }
    let waiting = groups.size;
    let failure: Error | null = null;
    for (const [vehicleId, group] of groups) {
      this.#chain(vehicleId, () => this.#publish(source, group)).then(
        () => {
          if (--waiting === 0) done(failure);
        },
        (err: Error) => {
          failure ??= err;
          if (--waiting === 0) done(failure);
        },
      );
    }
  }

  /**
   * Takes no more fixes: each is failed at once (their senders send them to another hub);
   * `idle()` then waits for those under way. MQTT messages stop at the receiver before this.
   */
  stop(): void {
    this.#stopped = true;
  }

  /** Resolves once no publish is under way. */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) {
      await Promise.allSettled([...this.#chains.values()]);
    }
  }

  /**
   * Runs `publish` after the vehicle's earlier ones. When one of those failed, so do the ones
   * queued behind it (their device is sent no acknowledgement and sends them again, in order);
   * once the chain is idle, the next publish starts afresh.
   */
  #chain(vehicleId: string, publish: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(vehicleId);
    const next = previous === undefined ? publish() : previous.then(publish);
    this.#chains.set(vehicleId, next);
    const forget = () => {
      if (this.#chains.get(vehicleId) === next) this.#chains.delete(vehicleId);
    };
    next.then(forget, forget);
    return next;
  }

  async #publish(source: FixSource, fixes: Fix[]): Promise<void> {
    const { js, partitions, deadlineMs, attemptMs } = this.#o;
    const first = fixes[0] as Fix;
    const subject = fixSubject(first.vehicle_id, partitions);
    const data = encodeFixMessage(source, fixes);
    const msgID = fixMessageId(fixes);
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        const ack = await js.publish(subject, data, {
          ...(msgID === null ? {} : { msgID }),
          timeout: attemptMs,
        });
        this.#o.onForwarded(fixes.length, ack.duplicate);
        return;
      } catch (err) {
        // An engine node died or is electing a leader: the same message again, same id.
        if (Date.now() + RETRY_MS >= deadline) {
          throw new Error(`the engine did not store the fixes: ${(err as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }
}

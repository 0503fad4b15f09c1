// The way in for fixes when several hubs share the fleet: instead of committing them, the
// receiving hub stores them on the engine, in their vehicle's partition, and only then lets the
// device have its acknowledgement (docs/scaling.md, "What happens to a fix"). Each vehicle has one
// publish in flight at a time, so its fixes reach the stream in the order they arrived here, and
// the messages that arrive meanwhile go out together in the next; a resend after a lost engine
// acknowledgement carries the same message id and is stored once.

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
/**
 * Most fixes in one engine message. Messages of one vehicle that wait behind its publish go out
 * together (a few hundred bytes a fix: well under the engine's payload limit).
 */
const MAX_FIXES_PER_MESSAGE = 1000;

/** One device message's fixes of one vehicle, waiting for their turn. */
interface Waiting {
  fixes: readonly Fix[];
  source: FixSource;
  done: (err: Error | null) => void;
}

export class FixForwarder implements FixSink {
  readonly #o: Required<ForwarderOptions>;
  /** Per vehicle with fixes under way: those waiting, and the publish in flight (if any). */
  readonly #vehicles = new Map<string, { waiting: Waiting[]; busy: Promise<void> | null }>();
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
    const partDone = (err: Error | null) => {
      failure ??= err;
      if (--waiting === 0) done(failure);
    };
    for (const [vehicleId, group] of groups) {
      let vehicle = this.#vehicles.get(vehicleId);
      if (vehicle === undefined) {
        vehicle = { waiting: [], busy: null };
        this.#vehicles.set(vehicleId, vehicle);
      }
      vehicle.waiting.push({ fixes: group, source, done: partDone });
      this.#next(vehicleId);
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
    while (this.#vehicles.size > 0) {
      await Promise.allSettled([...this.#vehicles.values()].map((v) => v.busy));
    }
  }

  /**
   * Publishes what waits for the vehicle, one engine message at a time: the messages that
   * waited go out together (same source, up to MAX_FIXES_PER_MESSAGE), in order. When a publish
   * fails, the ones waiting behind it fail too (their device is sent no acknowledgement and
   * sends them again, in order); the vehicle then starts afresh.
   */
  #next(vehicleId: string): void {
    const vehicle = this.#vehicles.get(vehicleId);
    if (vehicle === undefined || vehicle.busy !== null) return;
    if (vehicle.waiting.length === 0) {
      this.#vehicles.delete(vehicleId);
      return;
    }
    const first = vehicle.waiting[0] as Waiting;
    const batch: Waiting[] = [];
    const fixes: Fix[] = [];
    for (const w of vehicle.waiting) {
      if (w.source !== first.source) break;
      if (batch.length > 0 && fixes.length + w.fixes.length > MAX_FIXES_PER_MESSAGE) break;
      batch.push(w);
      for (const f of w.fixes) fixes.push(f);
    }
    vehicle.waiting.splice(0, batch.length);
    vehicle.busy = this.#publish(first.source, fixes).then(
      () => {
        for (const w of batch) w.done(null);
      },
      (err: Error) => {
        for (const w of batch) w.done(err);
        for (const w of vehicle.waiting.splice(0)) w.done(err);
      },
    );
    void vehicle.busy.then(() => {
      vehicle.busy = null;
      this.#next(vehicleId);
    });
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

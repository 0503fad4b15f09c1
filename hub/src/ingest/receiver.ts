// Where every MQTT message for the hub lands, whichever broker carried it: location messages are
// decoded and queued for the group commit, status messages recorded, bad input counted and logged.

import {
  decodeLocationMessage,
  decodeOwnTracksTopic,
  OWNTRACKS_MAX_BYTES,
  OWNTRACKS_PREFIX,
  parseStatusTopic,
  parseVehicleStatus,
  type Reject,
} from "@locus/protocol";
import type { Logger } from "pino";
import type { HubMetrics } from "../metrics.ts";
import type { Store } from "../store/store.ts";
import type { FixSink } from "./pipeline.ts";

/** Logs at most one line per reason per interval, with how many were not logged. */
class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    readonly logger: Logger,
    readonly intervalMs = 10_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.#last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, suppressed: seen?.suppressed ?? 0 }, message);
    this.#last.set(key, { at: now, suppressed: 0 });
  }
}

export interface ReceiverOptions {
  /** Where fixes go: the group commit, or with several hubs the engine in front of it. */
  pipeline: FixSink;
  store: Store;
  metrics: HubMetrics;
  logger: Logger;
  maxPayloadBytes: number;
  /**
   * How far a fix's ts may be ahead of the hub's clock, ms (LOCUS_MAX_FUTURE_S); later ones are
   * refused as `future_ts`. Default 600 s.
   */
  maxFutureMs?: number;
  /** Called after a vehicle's status was stored: the live stream's feed. */
  onStatus?: (vehicleId: string, status: "online" | "offline") => void;
}

/** Every topic the hub is sent by devices starts so; a malformed one is counted, not ignored. */
const VEHICLES_PREFIX = "locus/vehicles/";
/** Enough of a bad topic to recognise it in the log; topics may be 64 KiB long. */
const LOGGED_TOPIC_CHARS = 200;

/** LOCUS_MAX_FUTURE_S's default: device clocks drift by seconds, GPS time is far better. */
export const DEFAULT_MAX_FUTURE_MS = 600_000;

export class Receiver {
  readonly #o: ReceiverOptions;
  readonly #log: RateLimitedLog;
  #stopped = false;

  constructor(options: ReceiverOptions) {
    this.#o = options;
    this.#log = new RateLimitedLog(options.logger);
  }

  /**
   * Whether this topic is one the hub takes: every topic under `locus/vehicles/`, the malformed
   * ones included (a bad id, an extra level), so that they are counted and logged as `bad_topic`
   * rather than acknowledged unseen.
   */
  handles(topic: string): boolean {
    return (
      typeof topic === "string" &&
      (topic.startsWith(VEHICLES_PREFIX) || topic.startsWith(OWNTRACKS_PREFIX))
    );
  }

  /**
   * Takes one message. `done` runs when it may be acknowledged: at once for a message that is
   * dropped (a poison message must not come back forever), after the commit for good fixes.
   * `done(err)` means nothing was stored and the sender should retry.
   */
  receive(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    if (this.#stopped) return;
    if (parseStatusTopic(topic) !== null) {
      this.#status(topic, payload, done);
      return;
    }
    if (topic.startsWith(OWNTRACKS_PREFIX)) {
      this.#ownTracks(topic, payload, done);
      return;
    }
    const now = Date.now();
    // Anything but a status topic is decoded as a location message: a topic that is neither
    // comes back whole as `bad_topic`, counted and logged like any other reject.
    const result = decodeLocationMessage(topic, payload, {
      maxBytes: this.#o.maxPayloadBytes,
      receivedAt: now,
      notAfter: now + (this.#o.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS),
    });
    if (result.rejects.length > 0) this.#rejected(topic, result.rejects);
    this.#o.pipeline.submit(result.fixes, (err) => {
      if (err) {
        this.#log.warn("commit", { err: err.message }, "could not store fixes; not acknowledged");
      }
      done(err);
    });
  }

  /**
   * Takes no more messages: those that arrive from now on are neither stored nor acknowledged
   * (`done` never runs), so their senders send them again to the next hub. Called when the hub
   * stops, before the last commit: whatever is committed has been taken before, and so is
   * acknowledged before the connections close. A message failed with an error instead would make
   * the embedded broker drop its connection and with it the acknowledgements still owed on it.
   */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * An OwnTracks message (CONTRACT §9): a location on `owntracks/{user}/{device}` is a fix of
   * vehicle `{user}`; other types and deeper topics are acknowledged and ignored. One message is
   * one small object, so a larger one is refused before it is decoded.
   */
  #ownTracks(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    const now = Date.now();
    const result = decodeOwnTracksTopic(topic, payload, {
      maxBytes: Math.min(this.#o.maxPayloadBytes, OWNTRACKS_MAX_BYTES),
      receivedAt: now,
      notAfter: now + (this.#o.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS),
    });
    if (result.rejects.length > 0) this.#rejected(topic, result.rejects);
    this.#o.pipeline.submit(
      result.fixes,
      (err) => {
        if (err) {
          this.#log.warn("commit", { err: err.message }, "could not store fixes; not acknowledged");
        }
        done(err);
      },
      "owntracks",
    );
  }

  #rejected(topic: string, rejects: readonly Reject[]): void {
    for (const r of rejects) {
      this.#o.metrics.fixesRejected.inc({ reason: r.reason });
      this.#log.warn(
        `reject:${r.reason}`,
        { topic: topic.slice(0, LOGGED_TOPIC_CHARS), index: r.index, reason: r.reason },
        "dropped a fix",
      );
    }
  }

  #status(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    const vehicleId = parseStatusTopic(topic);
    const status = parseVehicleStatus(payload);
    if (vehicleId === null || status === null) {
      this.#o.metrics.fixesRejected.inc({ reason: "invalid_status" });
      this.#log.warn(
        "reject:invalid_status",
        { topic: topic.slice(0, LOGGED_TOPIC_CHARS), reason: "invalid_status" },
        "ignored a status message that is not online/offline",
      );
      done(null);
      return;
    }
    this.#o.store.setVehicleStatus(vehicleId, status, Date.now()).then(
      () => {
        done(null);
        this.#o.onStatus?.(vehicleId, status);
      },
      (err: Error) => {
        this.#log.warn("status-store", { err: err.message }, "could not store a vehicle status");
        done(err);
      },
    );
  }
}

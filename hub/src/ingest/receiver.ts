// Where every MQTT message for the hub lands, whichever broker carried it: location messages are
// decoded and queued for the group commit, status messages recorded, bad input counted and logged.

import {
  decodeLocationMessage,
  parseLocationTopic,
  parseStatusTopic,
  parseVehicleStatus,
  type Reject,
} from "@locus/protocol";
import type { Logger } from "pino";
import type { HubMetrics } from "../metrics.ts";
import type { Store } from "../store/store.ts";
import type { IngestPipeline } from "./pipeline.ts";

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
  pipeline: IngestPipeline;
  store: Store;
  metrics: HubMetrics;
  logger: Logger;
  maxPayloadBytes: number;
}

export class Receiver {
  readonly #o: ReceiverOptions;
  readonly #log: RateLimitedLog;

  constructor(options: ReceiverOptions) {
    this.#o = options;
    this.#log = new RateLimitedLog(options.logger);
  }

  /** Whether this topic is one the hub consumes. */
  handles(topic: string): boolean {
    return parseLocationTopic(topic) !== null || parseStatusTopic(topic) !== null;
  }

  /**
   * Takes one message. `done` runs when it may be acknowledged: at once for a message that is
   * dropped (a poison message must not come back forever), after the commit for good fixes.
   * `done(err)` means nothing was stored and the sender should retry.
   */
  receive(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    if (parseStatusTopic(topic) !== null) {
      this.#status(topic, payload, done);
      return;
    }
    const result = decodeLocationMessage(topic, payload, { maxBytes: this.#o.maxPayloadBytes });
    if (result.rejects.length > 0) this.#rejected(topic, result.rejects);
    this.#o.pipeline.submit(result.fixes, (err) => {
      if (err) {
        this.#log.warn("commit", { err: err.message }, "could not store fixes; not acknowledged");
      }
      done(err);
    });
  }

  #rejected(topic: string, rejects: readonly Reject[]): void {
    for (const r of rejects) {
      this.#o.metrics.fixesRejected.inc({ reason: r.reason });
      this.#log.warn(
        `reject:${r.reason}`,
        { topic, index: r.index, reason: r.reason },
        "dropped a fix",
      );
    }
  }

  #status(topic: string, payload: Uint8Array, done: (err: Error | null) => void): void {
    const vehicleId = parseStatusTopic(topic);
    const status = parseVehicleStatus(payload);
    if (vehicleId === null || status === null) {
      this.#log.warn("status", { topic }, "ignored a status message that is not online/offline");
      done(null);
      return;
    }
    this.#o.store.setVehicleStatus(vehicleId, status, Date.now()).then(
      () => done(null),
      (err: Error) => {
        this.#log.warn("status-store", { err: err.message }, "could not store a vehicle status");
        done(err);
      },
    );
  }
}

// The way in for fixes that arrive over HTTP (CONTRACT §5 imports, §9 phones and trackers): the
// same pipeline as MQTT fixes (deduplicated, judged, stored, evented), counted by source, with bad
// ones counted by reason. Imports go in chunks, each committed before the next is queued, so live
// fixes that arrive meanwhile join the next group commit instead of waiting for the whole import.

import { type Fix, REJECT_REASONS, type Reject, type RejectReason } from "@locus/protocol";
import type { FixSource, HubMetrics } from "../metrics.ts";
import type { FixSink } from "./pipeline.ts";

/** Fixes of one import queued at a time: about one group commit's worth of writing. */
export const IMPORT_CHUNK = 1000;

const KNOWN_REASONS = new Set<string>(REJECT_REASONS);

export interface DeviceFixesOptions {
  /** Where fixes go: the group commit, or with several hubs the engine in front of it. */
  pipeline: FixSink;
  metrics: Pick<HubMetrics, "fixesRejected">;
  /** LOCUS_MQTT_ALLOW_ANONYMOUS: whether devices without credentials are taken (from loopback). */
  allowAnonymous: boolean;
  /** LOCUS_MAX_FUTURE_S in ms: how far ahead of the hub's clock a fix's time may be. */
  maxFutureMs: number;
}

export class DeviceFixes {
  readonly #o: DeviceFixesOptions;

  constructor(options: DeviceFixesOptions) {
    this.#o = options;
  }

  /** Whether a device without credentials may send fixes (only from loopback, §9). */
  get allowAnonymous(): boolean {
    return this.#o.allowAnonymous;
  }

  /** The receive time and the latest fix time accepted, for a decoder, as of now. */
  times(): { receivedAt: number; notAfter: number } {
    const now = Date.now();
    return { receivedAt: now, notAfter: now + this.#o.maxFutureMs };
  }

  /** Queues fixes; resolves once they are committed (rejects when the commit failed). */
  submit(fixes: readonly Fix[], source: FixSource): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#o.pipeline.submit(fixes, (err) => (err ? reject(err) : resolve()), source);
    });
  }

  /**
   * Feeds an import through the pipeline a chunk at a time, each committed before the next, and
   * gives the event loop a turn between them, so MQTT messages read meanwhile are taken.
   */
  async submitImport(fixes: readonly Fix[], chunk = IMPORT_CHUNK): Promise<void> {
    for (let at = 0; at < fixes.length; at += chunk) {
      await this.submit(fixes.slice(at, at + chunk), "import");
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Counts dropped fixes by reason, as MQTT's are (reasons outside the metric's list are not). */
  rejected(rejects: readonly Pick<Reject, "reason">[] | readonly { reason: string }[]): void {
    for (const r of rejects) {
      if (KNOWN_REASONS.has(r.reason)) {
        this.#o.metrics.fixesRejected.inc({ reason: r.reason as RejectReason });
      }
    }
  }
}

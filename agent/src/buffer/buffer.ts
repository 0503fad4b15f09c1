// The agent's store-and-forward buffer: every fix is kept here, with its seq, from the moment it
// is read until the broker acknowledges it. One interface, a SQLite and an in-memory backend.

import { copyReadings } from "@locus/protocol";

/** A fix as the agent reads it, ready to be buffered; `ts` is always known (epoch ms). */
export interface NewFix {
  ts: number;
  latitude: number;
  longitude: number;
  speed?: number;
  heading?: number;
  accuracy?: number;
  altitude?: number;
}

/** A buffered fix: a NewFix with the per-vehicle sequence number the buffer gave it. */
export interface BufferedFix extends NewFix {
  seq: number;
}

/** A BufferedFix with `seq`, copying the known fields only (a caller's extra keys are not kept). */
export function bufferedFix(seq: number, fix: NewFix): BufferedFix {
  return copyReadings({ seq, ts: fix.ts, latitude: fix.latitude, longitude: fix.longitude }, fix);
}

/** The last PUBACK'd fix: its seq and when the acknowledgement arrived (epoch ms). */
export interface LastAck {
  seq: number;
  at: number;
}

/** What `status` prints. */
export interface BufferStats {
  depth: number;
  oldest: BufferedFix | null;
  lastAck: LastAck | null;
  dropped: number;
  /** The seq the next fix will get. */
  nextSeq: number;
}

/**
 * A buffer of fixes waiting for the broker's acknowledgement, oldest first. Calls are synchronous:
 * when `put` returns, the fix is stored (for the SQLite backend: committed to disk).
 */
export interface FixBuffer {
  /** Stores a fix with the next seq and returns it; beyond the buffer's limit drops the oldest. */
  put(fix: NewFix): BufferedFix;
  /** Up to `limit` buffered fixes with a seq above `afterSeq`, oldest first. */
  nextBatch(afterSeq: number, limit: number): BufferedFix[];
  /**
   * Removes the fixes with a seq in `fromSeq..toSeq` (an acknowledged message) and records
   * `toSeq` as the last ack at time `at`. Seqs no longer buffered are skipped. Returns how many
   * fixes were removed.
   */
  ack(fromSeq: number, toSeq: number, at: number): number;
  /** How many fixes are buffered. */
  depth(): number;
  /** The oldest buffered fix, or null when empty. */
  oldest(): BufferedFix | null;
  lastAck(): LastAck | null;
  /** How many fixes were dropped, in all, because the buffer was full. */
  dropped(): number;
  stats(): BufferStats;
  close(): void;
}

/** Options both backends share. */
export interface BufferLimits {
  /** Most fixes kept; beyond it the oldest are dropped and counted. Default: no limit. */
  maxFixes?: number;
}

/** The buffer could not store or read fixes; the message names the file and the cause. */
export class BufferError extends Error {
  constructor(
    message: string,
    /** The file concerned, or "memory". */
    readonly path: string,
    /** SQLite or system error code, when there is one (e.g. SQLITE_FULL, EACCES). */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BufferError";
  }
}

/** Checks a `maxFixes` limit; throws a RangeError on anything but a positive safe integer. */
export function checkMaxFixes(maxFixes: number | undefined): number {
  if (maxFixes === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(maxFixes) || maxFixes < 1) {
    throw new RangeError(`maxFixes must be a positive integer, not ${maxFixes}`);
  }
  return maxFixes;
}

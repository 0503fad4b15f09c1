// In-memory fix buffer: no durability, for the simulator's large fleets and for tests. Fixes sit
// in a seq-indexed array, so put, ack and nextBatch cost O(1) per fix touched.

import {
  type BufferedFix,
  type BufferLimits,
  type BufferStats,
  bufferedFix,
  checkMaxFixes,
  type FixBuffer,
  type LastAck,
  type NewFix,
} from "./buffer.ts";

export interface MemoryBufferOptions extends BufferLimits {
  /** The seq of the first fix. Default 0. */
  firstSeq?: number;
}

/** Compact the slot array once this many leading slots are empty (and they are most of it). */
const COMPACT_AFTER = 1024;

export class MemoryBuffer implements FixBuffer {
  // slots[i] holds the fix with seq base + i, or undefined once it was acked or dropped.
  private slots: (BufferedFix | undefined)[] = [];
  private base: number;
  private head = 0;
  private count = 0;
  private nextSeq: number;
  private droppedCount = 0;
  private last: LastAck | null = null;
  private readonly maxFixes: number;
  private closed = false;

  constructor(options: MemoryBufferOptions = {}) {
    this.maxFixes = checkMaxFixes(options.maxFixes);
    const firstSeq = options.firstSeq ?? 0;
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 0) {
      throw new RangeError(`firstSeq must be a non-negative integer, not ${firstSeq}`);
    }
    this.base = firstSeq;
    this.nextSeq = firstSeq;
  }

  put(fix: NewFix): BufferedFix {
    this.checkOpen();
    const stored = bufferedFix(this.nextSeq++, fix);
    this.slots.push(stored);
    this.count++;
    while (this.count > this.maxFixes) {
      this.skipEmpty();
      this.slots[this.head] = undefined;
      this.count--;
      this.droppedCount++;
    }
    this.skipEmpty();
    return stored;
  }

  nextBatch(afterSeq: number, limit: number): BufferedFix[] {
    this.checkOpen();
    const out: BufferedFix[] = [];
    const slots = this.slots;
    for (
      let i = Math.max(this.head, afterSeq + 1 - this.base);
      i < slots.length && out.length < limit;
      i++
    ) {
      const fix = slots[i];
      if (fix !== undefined) out.push(fix);
    }
    return out;
  }

  ack(fromSeq: number, toSeq: number, at: number): number {
    this.checkOpen();
    let removed = 0;
    const end = Math.min(toSeq - this.base, this.slots.length - 1);
    for (let i = Math.max(fromSeq - this.base, this.head); i <= end; i++) {
      if (this.slots[i] !== undefined) {
        this.slots[i] = undefined;
        removed++;
      }
    }
    this.count -= removed;
    this.last = { seq: toSeq, at };
    this.skipEmpty();
    return removed;
  }

  depth(): number {
    return this.count;
  }

  oldest(): BufferedFix | null {
    return this.slots[this.head] ?? null;
  }

  lastAck(): LastAck | null {
    return this.last === null ? null : { ...this.last };
  }

  dropped(): number {
    return this.droppedCount;
  }

  stats(): BufferStats {
    return {
      depth: this.count,
      oldest: this.oldest(),
      lastAck: this.lastAck(),
      dropped: this.droppedCount,
      nextSeq: this.nextSeq,
    };
  }

  close(): void {
    this.closed = true;
    this.slots = [];
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("memory buffer is closed");
  }

  // Moves `head` past acked and dropped slots, and now and then gives their memory back.
  private skipEmpty(): void {
    const slots = this.slots;
    while (this.head < slots.length && slots[this.head] === undefined) this.head++;
    if (this.head >= COMPACT_AFTER && this.head * 2 >= slots.length) {
      this.slots = slots.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}

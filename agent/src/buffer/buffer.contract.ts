// The one test suite every FixBuffer backend must pass (run by memory.test.ts and sqlite.test.ts).

import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { BufferedFix, BufferLimits, FixBuffer, NewFix } from "./buffer.ts";

/** Makes a fresh, empty buffer; the suite closes it. */
export type MakeBuffer = (limits?: BufferLimits) => FixBuffer;

const T0 = Date.parse("2026-11-24T20:00:00.000Z");

export function fixAt(i: number): NewFix {
  return { ts: T0 + i * 1000, latitude: 50 + i / 1e4, longitude: 10 - i / 1e4 };
}

function seqs(fixes: readonly BufferedFix[]): number[] {
  return fixes.map((f) => f.seq);
}

export function bufferContract(name: string, make: MakeBuffer): void {
  describe(`FixBuffer contract: ${name}`, () => {
    const open: FixBuffer[] = [];
    const fresh = (limits?: BufferLimits) => {
      const buffer = make(limits);
      open.push(buffer);
      return buffer;
    };
    afterEach(() => {
      for (const b of open.splice(0)) b.close();
    });

    it("starts empty", () => {
      const b = fresh();
      expect(b.depth()).toBe(0);
      expect(b.oldest()).toBeNull();
      expect(b.lastAck()).toBeNull();
      expect(b.dropped()).toBe(0);
      expect(b.nextBatch(-1, 10)).toEqual([]);
      expect(b.stats()).toEqual({ depth: 0, oldest: null, lastAck: null, dropped: 0, nextSeq: 0 });
    });

    it("gives rising seqs from 0 and returns the buffered fix", () => {
      const b = fresh();
      const first = b.put(fixAt(0));
      const second = b.put(fixAt(1));
      expect(first).toEqual({ ...fixAt(0), seq: 0 });
      expect(second.seq).toBe(1);
      expect(b.depth()).toBe(2);
      expect(b.oldest()).toEqual(first);
      expect(b.stats().nextSeq).toBe(2);
    });

    it("keeps every optional field, leaves absent ones out and ignores unknown keys", () => {
      const b = fresh();
      const full = { ...fixAt(0), speed: 12.5, heading: 359.9, accuracy: 3, altitude: -12.25 };
      b.put({ ...full, color: "red" } as NewFix);
      b.put(fixAt(1));
      const [a, c] = b.nextBatch(-1, 10);
      expect(a).toEqual({ ...full, seq: 0 });
      expect(c).toEqual({ ...fixAt(1), seq: 1 });
      expect(Object.keys(c ?? {}).sort()).toEqual(["latitude", "longitude", "seq", "ts"]);
    });

    it("hands out batches oldest first, after a given seq, up to a limit", () => {
      const b = fresh();
      for (let i = 0; i < 10; i++) b.put(fixAt(i));
      expect(seqs(b.nextBatch(-1, 4))).toEqual([0, 1, 2, 3]);
      expect(seqs(b.nextBatch(3, 4))).toEqual([4, 5, 6, 7]);
      expect(seqs(b.nextBatch(7, 4))).toEqual([8, 9]);
      expect(b.nextBatch(9, 4)).toEqual([]);
      // Handing out a batch does not remove it: it stays until acknowledged.
      expect(b.depth()).toBe(10);
      expect(b.nextBatch(-1, 1)[0]).toEqual({ ...fixAt(0), seq: 0 });
    });

    it("removes an acknowledged range and records the last ack", () => {
      const b = fresh();
      for (let i = 0; i < 10; i++) b.put(fixAt(i));
      expect(b.ack(0, 3, T0 + 5)).toBe(4);
      expect(b.depth()).toBe(6);
      expect(b.oldest()?.seq).toBe(4);
      expect(b.lastAck()).toEqual({ seq: 3, at: T0 + 5 });
      expect(seqs(b.nextBatch(-1, 100))).toEqual([4, 5, 6, 7, 8, 9]);
      // Acks may come out of order and overlap what is already gone.
      expect(b.ack(7, 8, T0 + 6)).toBe(2);
      expect(b.ack(2, 5, T0 + 7)).toBe(2);
      expect(seqs(b.nextBatch(-1, 100))).toEqual([6, 9]);
      expect(b.lastAck()).toEqual({ seq: 5, at: T0 + 7 });
      expect(b.ack(100, 200, T0 + 8)).toBe(0);
      expect(b.depth()).toBe(2);
    });

    it("keeps giving new seqs once emptied", () => {
      const b = fresh();
      for (let i = 0; i < 3; i++) b.put(fixAt(i));
      b.ack(0, 2, T0);
      expect(b.depth()).toBe(0);
      expect(b.oldest()).toBeNull();
      expect(b.put(fixAt(3)).seq).toBe(3);
    });

    it("drops the oldest fixes beyond its limit and counts them", () => {
      const b = fresh({ maxFixes: 3 });
      for (let i = 0; i < 5; i++) b.put(fixAt(i));
      expect(b.depth()).toBe(3);
      expect(b.dropped()).toBe(2);
      expect(seqs(b.nextBatch(-1, 10))).toEqual([2, 3, 4]);
      expect(b.oldest()?.seq).toBe(2);
      // Acking a range that was partly dropped removes only what is still there.
      expect(b.ack(0, 2, T0)).toBe(1);
      b.put(fixAt(5));
      expect(seqs(b.nextBatch(-1, 10))).toEqual([3, 4, 5]);
      expect(b.stats()).toMatchObject({ depth: 3, dropped: 2, nextSeq: 6 });
    });

    it("refuses a limit that is not a positive integer", () => {
      expect(() => fresh({ maxFixes: 0 })).toThrow(RangeError);
      expect(() => fresh({ maxFixes: 1.5 })).toThrow(RangeError);
    });

    it("drains a backlog of 5000 in ordered batches of 1000", () => {
      const b = fresh();
      for (let i = 0; i < 5000; i++) b.put(fixAt(i));
      const seen: number[] = [];
      let after = -1;
      for (;;) {
        const batch = b.nextBatch(after, 1000);
        if (batch.length === 0) break;
        expect(batch.length).toBeLessThanOrEqual(1000);
        seen.push(...seqs(batch));
        after = batch[batch.length - 1]?.seq ?? after;
      }
      expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
      let at = 0;
      while (b.depth() > 0) {
        const batch = b.nextBatch(-1, 1000);
        b.ack(batch[0]?.seq ?? 0, batch[batch.length - 1]?.seq ?? 0, T0 + at++);
      }
      expect(b.lastAck()?.seq).toBe(4999);
    });

    it("behaves like a simple model under any sequence of operations", () => {
      type Op =
        | { kind: "put" }
        | { kind: "ack"; from: number; len: number }
        | { kind: "batch"; after: number; limit: number };
      const op = fc.oneof(
        fc.constant<Op>({ kind: "put" }),
        fc.record({
          kind: fc.constant("ack" as const),
          from: fc.integer({ min: -1, max: 60 }),
          len: fc.integer({ min: 0, max: 8 }),
        }),
        fc.record({
          kind: fc.constant("batch" as const),
          after: fc.integer({ min: -1, max: 60 }),
          limit: fc.integer({ min: 1, max: 10 }),
        }),
      );
      fc.assert(
        fc.property(
          fc.array(op, { maxLength: 120 }),
          fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
          (ops, maxFixes) => {
            const b = make(maxFixes === undefined ? {} : { maxFixes });
            try {
              let model: BufferedFix[] = [];
              let next = 0;
              let dropped = 0;
              let lastAck: { seq: number; at: number } | null = null;
              let clock = T0;
              for (const o of ops) {
                if (o.kind === "put") {
                  const fix = { ...fixAt(next), seq: next };
                  expect(b.put(fixAt(next))).toEqual(fix);
                  next++;
                  model.push(fix);
                  if (maxFixes !== undefined && model.length > maxFixes) {
                    dropped += model.length - maxFixes;
                    model = model.slice(model.length - maxFixes);
                  }
                } else if (o.kind === "ack") {
                  const to = o.from + o.len;
                  const before = model.length;
                  model = model.filter((f) => f.seq < o.from || f.seq > to);
                  clock++;
                  expect(b.ack(o.from, to, clock)).toBe(before - model.length);
                  lastAck = { seq: to, at: clock };
                } else {
                  const want = model.filter((f) => f.seq > o.after).slice(0, o.limit);
                  expect(b.nextBatch(o.after, o.limit)).toEqual(want);
                }
                expect(b.depth()).toBe(model.length);
              }
              expect(b.stats()).toEqual({
                depth: model.length,
                oldest: model[0] ?? null,
                lastAck,
                dropped,
                nextSeq: next,
              });
            } finally {
              b.close();
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });
}

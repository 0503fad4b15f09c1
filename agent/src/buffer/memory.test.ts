import { describe, expect, it } from "vitest";
import { bufferContract, fixAt } from "./buffer.contract.ts";
import { MemoryBuffer } from "./memory.ts";

bufferContract("memory", (limits) => new MemoryBuffer(limits));

describe("MemoryBuffer", () => {
  it("can start at a given seq", () => {
    const b = new MemoryBuffer({ firstSeq: 41 });
    expect(b.put(fixAt(0)).seq).toBe(41);
    expect(b.nextBatch(40, 5).map((f) => f.seq)).toEqual([41]);
  });

  it("stays small and fast over a long life of put and ack", () => {
    const b = new MemoryBuffer({ maxFixes: 10_000 });
    for (let i = 0; i < 200_000; i++) {
      const fix = b.put(fixAt(i));
      if (i % 3 === 2) b.ack(fix.seq - 2, fix.seq, i);
    }
    expect(b.depth()).toBe(2);
    // The slot array was compacted as fixes were acknowledged.
    expect((b as unknown as { slots: unknown[] }).slots.length).toBeLessThan(3000);
  });

  it("refuses use after close", () => {
    const b = new MemoryBuffer();
    b.close();
    expect(() => b.put(fixAt(0))).toThrow(/closed/);
  });
});

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

  it("keeps working over a long life of put and ack, the acknowledged fixes gone", () => {
    const b = new MemoryBuffer({ maxFixes: 10_000 });
    for (let i = 0; i < 200_000; i++) {
      const fix = b.put(fixAt(i));
      if (i % 3 === 2) b.ack(fix.seq - 2, fix.seq, i);
    }
    // Far more fixes went through than the limit holds, and none was dropped for room.
    expect(b.depth()).toBe(2);
    expect(b.dropped()).toBe(0);
    // What is left is the two newest, in order, and nothing acknowledged comes back.
    expect(b.nextBatch(-1, 10).map((f) => f.seq)).toEqual([199_998, 199_999]);
    const next = b.put(fixAt(200_000));
    expect(next.seq).toBe(200_000);
    b.ack(199_998, 200_000, 200_000);
    expect(b.depth()).toBe(0);
    expect(b.nextBatch(-1, 10)).toEqual([]);
  });

  it("refuses use after close", () => {
    const b = new MemoryBuffer();
    b.close();
    expect(() => b.put(fixAt(0))).toThrow(/closed/);
  });
});

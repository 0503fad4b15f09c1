// The retained-message bound: counts topics and bytes, lets replacements and clears through.

import { describe, expect, it } from "vitest";
import { RetainedLedger } from "./retained-ledger.ts";

describe("RetainedLedger", () => {
  it("refuses a new topic beyond the count, but lets an existing one be replaced", () => {
    const ledger = new RetainedLedger({ maxMessages: 2, maxBytes: 1000 });
    expect(ledger.admit("a", 10)).toBe(true);
    expect(ledger.admit("b", 10)).toBe(true);
    expect(ledger.admit("c", 10)).toBe(false);
    expect(ledger.admit("a", 20)).toBe(true);
    expect([ledger.messages, ledger.bytes]).toEqual([2, 30]);
  });

  it("refuses what would pass the bytes in all, counting a replacement's difference only", () => {
    const ledger = new RetainedLedger({ maxMessages: 10, maxBytes: 100 });
    expect(ledger.admit("a", 60)).toBe(true);
    expect(ledger.admit("b", 50)).toBe(false);
    expect(ledger.admit("a", 100)).toBe(true);
    expect(ledger.admit("a", 101)).toBe(false);
    expect([ledger.messages, ledger.bytes]).toEqual([1, 100]);
  });

  it("frees the room of a cleared topic (an empty retained payload)", () => {
    const ledger = new RetainedLedger({ maxMessages: 1, maxBytes: 100 });
    expect(ledger.admit("a", 50)).toBe(true);
    expect(ledger.admit("b", 1)).toBe(false);
    expect(ledger.admit("a", 0)).toBe(true);
    expect(ledger.admit("nothing-there", 0)).toBe(true);
    expect([ledger.messages, ledger.bytes]).toEqual([0, 0]);
    expect(ledger.admit("b", 1)).toBe(true);
  });
});

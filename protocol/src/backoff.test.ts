// The shared backoff: doubling bounds up to the cap, full jitter, reset.

import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.ts";

describe("Backoff", () => {
  it("doubles its bound up to the cap, with full jitter", () => {
    const top = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999999 });
    const bounds = Array.from({ length: 9 }, () => top.next());
    expect(bounds).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999]);
    const low = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0 });
    expect(low.next()).toBe(0);
  });

  it("starts over after a reset", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
    expect([b.next(), b.next(), b.next()]).toEqual([50, 100, 200]);
    b.reset();
    expect(b.next()).toBe(50);
  });

  it("spreads a fleet's retries over the whole window", () => {
    const delays = Array.from({ length: 10_000 }, () =>
      new Backoff({ initialMs: 1000, maxMs: 30_000 }).next(),
    );
    const perTenth = new Array(10).fill(0);
    for (const d of delays) perTenth[Math.floor(d / 100)]++;
    for (const n of perTenth) expect(n).toBeGreaterThan(800);
  });

  it("refuses bounds that make no sense", () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError);
  });
});

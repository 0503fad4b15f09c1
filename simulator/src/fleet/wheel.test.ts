// The timer wheel: each member once per period, at the end of its slot, one timer in all.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TimerWheel } from "./wheel.ts";

describe("TimerWheel", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands each member over once per period, just after its phase", () => {
    const calls: [number, number][] = [];
    const wheel = new TimerWheel({
      periodMs: 1000,
      slotMs: 20,
      onSlot: (members, now) => {
        for (const m of members) calls.push([m, now - 1_000_000]);
      },
    });
    wheel.add(0, 0);
    wheel.add(1, 10);
    wheel.add(2, 500);
    wheel.add(3, 1990); // phase taken modulo the period: 990
    wheel.start(Date.now());
    vi.advanceTimersByTime(2000);
    wheel.stop();
    vi.advanceTimersByTime(2000);
    expect(calls).toEqual([
      [0, 20],
      [1, 20],
      [2, 520],
      [3, 1000],
      [0, 1020],
      [1, 1020],
      [2, 1520],
      [3, 2000],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("after a stall visits each slot once, with the current time", () => {
    let now = 1_000_000;
    const calls: number[] = [];
    const wheel = new TimerWheel({
      periodMs: 100,
      slotMs: 10,
      now: () => now,
      onSlot: (members) => calls.push(...members),
    });
    for (let m = 0; m < 10; m++) wheel.add(m, m * 10);
    wheel.start(now);
    now += 1000; // the event loop was blocked for ten periods
    vi.advanceTimersByTime(10);
    wheel.stop();
    expect(calls.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

// The reconnection wait: uniform below a cap that doubles per failure up to the maximum.

import { describe, expect, it } from "vitest";
import { reconnectDelay } from "./reconnect-backoff.ts";

describe("reconnectDelay", () => {
  const backoff = { minMs: 500, maxMs: 30_000 };

  it("draws from zero to a cap that doubles per failure", () => {
    expect(reconnectDelay(backoff, 0, () => 0)).toBe(0);
    expect(reconnectDelay(backoff, 0, () => 1)).toBe(500);
    expect(reconnectDelay(backoff, 3, () => 1)).toBe(4000);
    expect(reconnectDelay(backoff, 3, () => 0.5)).toBe(2000);
  });

  it("never waits longer than the maximum, however many failures", () => {
    expect(reconnectDelay(backoff, 6, () => 1)).toBe(30_000);
    expect(reconnectDelay(backoff, 10_000, () => 1)).toBe(30_000);
  });
});

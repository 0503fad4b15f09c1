import { describe, expect, it } from "vitest";
import { idGenerator } from "./ids.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("idGenerator", () => {
  it("makes UUIDv7s that sort in creation order within one millisecond", () => {
    const next = idGenerator();
    const ids = Array.from({ length: 5000 }, () => next(1_790_000_000_000));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("stays above the highest stored id after a restart or a clock step back", () => {
    const first = idGenerator();
    const stored = first(1_790_000_000_500);
    const restarted = idGenerator(stored);
    const later = [restarted(1_790_000_000_000), restarted(1_790_000_000_500)];
    for (const id of later) expect(id > stored).toBe(true);
    expect(later[1] && later[0] && later[1] > later[0]).toBe(true);
  });

  it("moves on with the clock", () => {
    const next = idGenerator();
    const a = next(1_790_000_000_000);
    const b = next(1_790_000_000_001);
    expect(b > a).toBe(true);
    expect(b.slice(0, 13)).not.toBe(a.slice(0, 13));
  });
});

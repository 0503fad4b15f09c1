// MemoryFenceIndex: the shared FenceIndex contract at several rebuild cadences, plus its own API.

import { describe, expect, it } from "vitest";
import type { Fence } from "./fence.ts";
import { fenceIndexContract } from "./fence-index.contract.ts";
import { MemoryFenceIndex } from "./memory-index.ts";

// Default cadence (changes mostly in the overlay), a rebuild on every change, and a mix.
fenceIndexContract("MemoryFenceIndex", () => new MemoryFenceIndex());
fenceIndexContract(
  "MemoryFenceIndex, rebuilt on every change",
  () => new MemoryFenceIndex({ minRebuildBatch: 1 }),
);
fenceIndexContract(
  "MemoryFenceIndex, rebuilt every 3 changes",
  () => new MemoryFenceIndex({ minRebuildBatch: 3 }),
);

function square(id: string, x: number, y: number, size = 1): Fence {
  const ring: [number, number][] = [
    [x, y],
    [x + size, y],
    [x + size, y + size],
    [x, y + size],
    [x, y],
  ];
  return { id, name: id, polygons: [[ring]] };
}

describe("MemoryFenceIndex", () => {
  it("reuses the array passed to coveringPoint", () => {
    const index = new MemoryFenceIndex();
    index.upsert(square("b", 0, 0, 2));
    index.upsert(square("a", 1, 1, 2));
    const out = ["stale"];
    expect(index.coveringPoint(1.5, 1.5, out)).toBe(out);
    expect(out).toEqual(["a", "b"]);
    expect(index.coveringPoint(9, 9, out)).toEqual([]);
  });

  it("serves as the fence catalogue: get and fences", () => {
    const index = new MemoryFenceIndex();
    const first = square("a", 0, 0);
    index.upsert(first);
    const second = { ...square("a", 5, 5), dwell_s: 30 };
    index.upsert(second);
    index.upsert(square("b", 2, 2));
    expect(index.get("a")).toBe(second);
    expect(index.get("zzz")).toBeUndefined();
    expect([...index.fences()].map((f) => f.id).sort()).toEqual(["a", "b"]);
    index.remove("a");
    expect(index.get("a")).toBeUndefined();
  });

  it("loads a catalogue in bulk, later entries replacing earlier ones with the same id", () => {
    const index = new MemoryFenceIndex();
    index.load([square("a", 0, 0), square("b", 3, 3), square("a", 6, 6)]);
    expect(index.size).toBe(2);
    expect(
      index.covering([
        [0.5, 0.5],
        [6.5, 6.5],
        [3.5, 3.5],
      ]),
    ).toEqual([[], ["a"], ["b"]]);
  });

  it("stays exact through thousands of changes with 10k fences held", () => {
    const index = new MemoryFenceIndex();
    const fences = Array.from({ length: 10_000 }, (_, i) =>
      square(`f${i}`, i % 100, Math.floor(i / 100)),
    );
    index.load(fences);
    for (let i = 0; i < 3_000; i++) {
      const id = `f${(i * 7919) % 10_000}`;
      if (i % 3 === 2) index.remove(id);
      else index.upsert(square(id, ((i * 13) % 100) + 0.25, ((i * 29) % 100) + 0.25, 0.5));
    }
    const expected = new Map<string, Fence>(fences.map((f) => [f.id, f]));
    for (let i = 0; i < 3_000; i++) {
      const id = `f${(i * 7919) % 10_000}`;
      if (i % 3 === 2) expected.delete(id);
      else expected.set(id, square(id, ((i * 13) % 100) + 0.25, ((i * 29) % 100) + 0.25, 0.5));
    }
    expect(index.size).toBe(expected.size);
    for (let k = 0; k < 2_000; k++) {
      const x = ((k * 37) % 400) / 4 + 0.125;
      const y = ((k * 91) % 400) / 4 + 0.125;
      const want = [...expected.values()]
        .filter((f) => {
          const [x0, y0] = f.polygons[0]?.[0]?.[0] ?? [0, 0];
          const [x1, y1] = f.polygons[0]?.[0]?.[2] ?? [0, 0];
          return x0 <= x && x <= x1 && y0 <= y && y <= y1;
        })
        .map((f) => f.id)
        .sort();
      expect(index.coveringPoint(x, y)).toEqual(want);
    }
  });

  it("reports nothing for a NaN point", () => {
    const index = new MemoryFenceIndex();
    index.upsert(square("a", 0, 0));
    expect(index.coveringPoint(Number.NaN, 0.5)).toEqual([]);
  });
});

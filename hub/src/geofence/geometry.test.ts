// The exact predicate and point-in-polygon test that FenceIndex lookups rest on.

import { describe, expect, it } from "vitest";
import type { Fence } from "./fence.ts";
import { compileFence, geometryCovers } from "./geometry.ts";
import { orient2d } from "./orient.ts";

const ULP = 2 ** -53;

/** The exact orientation sign for coordinates that are integer multiples of 2^-53. */
function exactSign(ax: number, ay: number, bx: number, by: number, cx: number, cy: number) {
  const s = (v: number) => BigInt(v / ULP);
  const det = (s(ax) - s(cx)) * (s(by) - s(cy)) - (s(ay) - s(cy)) * (s(bx) - s(cx));
  return det > 0n ? 1 : det < 0n ? -1 : 0;
}

describe("orient2d", () => {
  it("gives the exact sign near a line where plain floating point gets it wrong", () => {
    // Shewchuk's example: points a few ulps off the line through (12, 12) and (24, 24).
    let naiveWrong = 0;
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 64; j++) {
        const px = 0.5 + i * ULP;
        const py = 0.5 + j * ULP;
        const exact = exactSign(12, 12, 24, 24, px, py);
        expect(Math.sign(orient2d(12, 12, 24, 24, px, py))).toBe(exact);
        const naive = (24 - 12) * (py - 12) - (24 - 12) * (px - 12);
        if (Math.sign(naive) !== exact) naiveWrong++;
      }
    }
    // The case is only a test if the naive formula fails on it.
    expect(naiveWrong).toBeGreaterThan(0);
  });

  it("is positive to the left, negative to the right, zero on the line", () => {
    expect(orient2d(0, 0, 1, 0, 0.5, 1)).toBeGreaterThan(0);
    expect(orient2d(0, 0, 1, 0, 0.5, -1)).toBeLessThan(0);
    expect(orient2d(0, 0, 1, 0, 7, 0)).toBe(0);
    expect(orient2d(-118.26, 34.04, -118.26, 34.04, -118.2, 34.1)).toBe(0);
  });

  it("stays exact at tiny scales (well above underflow)", () => {
    const t = 2 ** -400;
    expect(orient2d(0, 0, t, t, 2 * t, 2 * t)).toBe(0);
    expect(Math.sign(orient2d(0, 0, t, t, 2 * t, 3 * t))).toBe(1);
    expect(
      Math.sign(orient2d(1, 1, 1 + 2 ** -52, 1 + 2 ** -52, 1 + 2 ** -51, 1 + 3 * 2 ** -52)),
    ).toBe(1);
  });
});

describe("geometryCovers", () => {
  const fence = (polygons: Fence["polygons"]) => compileFence({ polygons });

  it("puts a point exactly on a long diagonal edge inside, and ulps away on the correct side", () => {
    // Counter-clockwise triangle whose first edge runs along y = x, interior above it.
    const triangle = fence([
      [
        [
          [0.25, 0.25],
          [24, 24],
          [0.25, 24],
          [0.25, 0.25],
        ],
      ],
    ]);
    for (let i = 0; i < 32; i++) {
      for (let j = 0; j < 32; j++) {
        const px = 0.5 + i * ULP;
        const py = 0.5 + j * ULP;
        expect(geometryCovers(triangle, px, py)).toBe(j >= i);
      }
    }
  });

  it("closes a ring that was left open", () => {
    const open = fence([
      [
        [
          [0, 0],
          [2, 0],
          [2, 2],
          [0, 2],
        ],
      ],
    ]);
    expect(geometryCovers(open, 1, 1)).toBe(true);
    expect(geometryCovers(open, 0, 1)).toBe(true);
    expect(geometryCovers(open, 3, 1)).toBe(false);
  });

  it("treats a point level with a vertex consistently (no double counting)", () => {
    // A diamond: the horizontal ray through the side vertices passes exactly through them.
    const diamond = fence([
      [
        [
          [2, 0],
          [4, 2],
          [2, 4],
          [0, 2],
          [2, 0],
        ],
      ],
    ]);
    expect(geometryCovers(diamond, 2, 2)).toBe(true);
    expect(geometryCovers(diamond, -1, 2)).toBe(false);
    expect(geometryCovers(diamond, 5, 2)).toBe(false);
    expect(geometryCovers(diamond, -1, 0)).toBe(false);
    expect(geometryCovers(diamond, 2, 4)).toBe(true);
  });

  it("ignores a polygon with no shell", () => {
    const empty = fence([
      [],
      [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [0, 0],
        ],
      ],
    ]);
    expect(empty.polygons).toHaveLength(1);
    expect(geometryCovers(empty, 0.75, 0.5)).toBe(true);
  });
});

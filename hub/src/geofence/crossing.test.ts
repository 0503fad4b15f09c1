// The crossing maths on hand-made shapes: where a segment runs inside a polygon, through holes,
// along edges, past vertices, and through more stretches than MAX_SPANS.

import { describe, expect, it } from "vitest";
import { type CrossingSpan, crossableShape, MAX_SPANS } from "./crossing.ts";
import type { Position, Ring } from "./fence.ts";

function rect(x0: number, y0: number, x1: number, y1: number): Ring {
  return [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
    [x0, y0],
  ];
}

const square = crossableShape({ polygons: [[rect(0, 0, 10, 10)]] });
const donut = crossableShape({ polygons: [[rect(0, 0, 10, 10), rect(4, 4, 6, 6)]] });
const twoParts = crossableShape({ polygons: [[rect(0, 0, 2, 2)], [rect(4, 0, 6, 2)]] });
// Two squares sharing the edge x = 2: one shape with no gap between them.
const touching = crossableShape({ polygons: [[rect(0, 0, 2, 2)], [rect(2, 0, 4, 2)]] });
const diamond = crossableShape({
  polygons: [
    [
      [
        [0, -1],
        [1, 0],
        [0, 1],
        [-1, 0],
        [0, -1],
      ],
    ],
  ],
});

function close(actual: CrossingSpan[], expected: [number, number][]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((span, i) => {
    const [enter, exit] = expected[i] as [number, number];
    expect(span.enter).toBeCloseTo(enter, 12);
    expect(span.exit).toBeCloseTo(exit, 12);
  });
}

describe("PolygonShape.spans", () => {
  it("gives the stretch inside a square crossed straight through", () => {
    close(square.spans(-10, 5, 20, 5), [[1 / 3, 2 / 3]]);
    close(square.spans(20, 5, -10, 5), [[1 / 3, 2 / 3]]);
  });

  it("gives nothing for a segment that misses, or whose bbox alone meets the shape", () => {
    expect(square.spans(-5, -5, -1, 20)).toEqual([]);
    expect(diamond.spans(0.6, 0.6, 2, 2)).toEqual([]);
  });

  it("reaches the segment's ends when they are inside or on the boundary", () => {
    close(square.spans(5, 5, 20, 5), [[0, 1 / 3]]);
    expect(square.spans(-10, 5, 0, 5)).toEqual([]);
    close(square.spans(-10, 5, 5, 5), [[2 / 3, 1]]);
    close(square.spans(1, 1, 2, 2), [[0, 1]]);
  });

  it("gives one pair for each stretch inside a polygon with a hole", () => {
    close(donut.spans(-10, 5, 20, 5), [
      [10 / 30, 14 / 30],
      [16 / 30, 20 / 30],
    ]);
  });

  it("gives one pair for each part of a MultiPolygon, and merges parts that share an edge", () => {
    close(twoParts.spans(-1, 1, 7, 1), [
      [1 / 8, 3 / 8],
      [5 / 8, 7 / 8],
    ]);
    close(touching.spans(-1, 1, 5, 1), [[1 / 6, 5 / 6]]);
  });

  it("counts running along an edge as inside (the boundary covers), touching a corner as nothing", () => {
    close(square.spans(-5, 0, 15, 0), [[0.25, 0.75]]);
    close(donut.spans(-5, 4, 15, 4), [[0.25, 0.75]]);
    close(diamond.spans(-1, 2, 1, 0), [[0.5, 1]]);
    expect(diamond.spans(-2, 1, 2, 1)).toEqual([]);
    expect(square.spans(-1, 1, 1, -1)).toEqual([]);
    close(square.spans(-1, 11, 1, 9), [[0.5, 1]]);
  });

  it("passes through a vertex into the shape", () => {
    close(diamond.spans(0, -2, 0, 2), [[0.25, 0.75]]);
    close(diamond.spans(-2, 0, 2, 0), [[0.25, 0.75]]);
  });

  it("reports at most MAX_SPANS, the last from the next entry to the last exit", () => {
    // A comb: teeth 1 wide, 1 apart, hanging from a bar at the top.
    const teeth = 40;
    const ring: Position[] = [[0, 10]];
    for (let k = 0; k < teeth; k++) {
      ring.push([2 * k, 0], [2 * k + 1, 0], [2 * k + 1, 9]);
      if (k < teeth - 1) ring.push([2 * k + 2, 9]);
    }
    ring.push([2 * teeth - 1, 10], [0, 10]);
    const comb = crossableShape({ polygons: [[ring]] });
    const spans = comb.spans(-1, 5, 2 * teeth, 5);
    expect(spans).toHaveLength(MAX_SPANS);
    const length = 2 * teeth + 1;
    expect(spans[0]?.enter).toBeCloseTo(1 / length, 12);
    expect(spans[0]?.exit).toBeCloseTo(2 / length, 12);
    const last = spans[MAX_SPANS - 1] as CrossingSpan;
    expect(last.enter).toBeCloseTo((2 * (MAX_SPANS - 1) + 1) / length, 12);
    expect(last.exit).toBeCloseTo((2 * teeth) / length, 12);
  });

  it("treats a segment of no length as its point", () => {
    close(square.spans(5, 5, 5, 5), [[0, 1]]);
    expect(square.spans(-5, 5, -5, 5)).toEqual([]);
  });
});

// The behaviour every FenceIndex must show, as one vitest suite that any implementation's test file
// registers: `fenceIndexContract("memory", () => new MemoryFenceIndex())`.
//
// Fixed cases pin ST_Covers semantics; property tests compare the index with a brute-force
// reference under random churn. Generated geometry sits on a half-unit grid of small numbers, so
// every product is exact in doubles and points land on edges and vertices often.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Fence, Position, Ring } from "./fence.ts";
import type { FenceIndex, LonLat } from "./fence-index.ts";

export interface FenceIndexContractOptions {
  /** Releases what `make` acquired (tables, connections); called after every index is done with. */
  cleanup?: (index: FenceIndex) => unknown;
  /** Runs per property; lower it for slow backends. Default 100. */
  numRuns?: number;
}

/** Registers the FenceIndex contract suite for one implementation. */
export function fenceIndexContract(
  name: string,
  make: () => FenceIndex | Promise<FenceIndex>,
  options: FenceIndexContractOptions = {},
): void {
  const numRuns = options.numRuns ?? 100;

  /** Makes an index holding `fences`, runs `use` on it, and cleans up whatever happens. */
  async function withIndex(fences: readonly Fence[], use: (index: FenceIndex) => Promise<void>) {
    const index = await make();
    try {
      for (const fence of fences) await index.upsert(fence);
      await use(index);
    } finally {
      await options.cleanup?.(index);
    }
  }

  async function covering(index: FenceIndex, points: readonly LonLat[]): Promise<string[][]> {
    return await index.covering(points);
  }

  describe(`FenceIndex contract: ${name}`, () => {
    const squareWithHole = fence("A", [[rect(0, 0, 10, 10), rect(4, 4, 6, 6)]]);
    const triangle = fence("T", [[ring([20, 0], [24, 0], [20, 4])]]);
    const twoParts = fence("M", [[rect(30, 0, 32, 2)], [rect(34, 0, 36, 2)]]);
    const island = fence("I", [[rect(4.5, 4.5, 5.5, 5.5)]]);
    const clockwise = fence("C", [[ring([40, 0], [40, 2], [42, 2], [42, 0])]]);
    const overlapping = ["zeta", "alpha", "Mid", "10", "9"].map((id, k) =>
      fence(id, [[rect(50 + k, 0, 60 + k, 10)]]),
    );
    const downtown = fence("downtown-la", [
      [ring([-118.26, 34.04], [-118.23, 34.04], [-118.23, 34.06], [-118.26, 34.06])],
    ]);

    // Each case: the fences held, then points with the ids expected to cover them.
    const cases: [string, Fence[], Probe[]][] = [
      [
        "a point inside a fence is covered, a point outside is not",
        [squareWithHole, triangle],
        [probe(1, 1, "A"), probe(21, 1, "T"), probe(-1, -1), probe(11, 5), probe(23, 3)],
      ],
      [
        "a point on an edge is covered (horizontal, vertical, diagonal edges)",
        [squareWithHole, triangle],
        [
          probe(5, 0, "A"),
          probe(0, 5, "A"),
          probe(10, 7.5, "A"),
          probe(22, 2, "T"),
          probe(21, 3, "T"),
        ],
      ],
      [
        "a point on a vertex is covered",
        [squareWithHole, triangle],
        [probe(0, 0, "A"), probe(10, 10, "A"), probe(24, 0, "T"), probe(20, 4, "T")],
      ],
      [
        "a point strictly inside a hole is not covered",
        [squareWithHole],
        [probe(5, 5), probe(4.5, 5.5)],
      ],
      [
        "a point on a hole's edge or vertex is covered",
        [squareWithHole],
        [
          probe(4, 5, "A"),
          probe(6, 5.5, "A"),
          probe(5, 4, "A"),
          probe(4, 4, "A"),
          probe(6, 6, "A"),
        ],
      ],
      [
        "a fence inside another fence's hole is found",
        [squareWithHole, island],
        [probe(5, 5, "I"), probe(4.25, 5), probe(4, 5, "A")],
      ],
      [
        "every part of a MultiPolygon is covered, the gap between them is not",
        [twoParts],
        [probe(31, 1, "M"), probe(35, 1, "M"), probe(33, 1), probe(32, 1, "M"), probe(36, 2, "M")],
      ],
      [
        "overlapping fences are all returned, sorted by id",
        overlapping,
        [
          probe(55, 5, "10", "9", "Mid", "alpha", "zeta"),
          probe(50.5, 5, "zeta"),
          probe(63.5, 5, "9"),
        ],
      ],
      [
        "a clockwise exterior ring is accepted",
        [clockwise],
        [probe(41, 1, "C"), probe(42, 1, "C"), probe(43, 1)],
      ],
      [
        "real-world coordinates work",
        [downtown],
        [
          probe(-118.24, 34.05, "downtown-la"),
          probe(-118.26, 34.04, "downtown-la"),
          probe(-118.24, 34.04, "downtown-la"),
          probe(-118.2, 34.05),
        ],
      ],
    ];

    it.each(cases)("%s", async (_name, fences, probes) => {
      await withIndex(fences, async (index) => {
        const points = probes.map((p) => p.point);
        expect(await covering(index, points)).toEqual(probes.map((p) => p.ids));
      });
    });

    // Circles and corridors: probes 1 m inside or outside the edge, far beyond any difference
    // between two implementations of the same sphere (see sphere.ts).
    const ring500 = circle("O", [10, 50], 500);
    // Its first segment runs along a meridian (a great circle), so distances east of it are exact.
    const route = corridor(
      "K",
      [
        [20, 50],
        [20, 50.1],
        [20.1, 50.1],
      ],
      300,
    );
    const shapeCases: [string, Fence[], Probe[]][] = [
      [
        "a circle covers points within its radius",
        [ring500, fence("P", [[rect(9.999, 49.999, 10.001, 50.001)]])],
        [
          probe(10, 50, "O", "P"),
          probe(10, north(50, 499), "O"),
          probe(10, north(50, 501)),
          probe(10, north(50, -499), "O"),
          probe(10.005, 50, "O"),
          probe(10.008, 50),
        ],
      ],
      [
        "a corridor covers points within half its width of the line",
        [route],
        [
          probe(east(20, 50.05, 149), 50.05, "K"),
          probe(east(20, 50.05, -149), 50.05, "K"),
          probe(east(20, 50.05, 151), 50.05),
          probe(20, north(50, -149), "K"),
          probe(20, north(50, -151)),
          probe(20.05, 50.05),
        ],
      ],
      [
        "a circle across the antimeridian covers both sides",
        [circle("D", [179.999, 0], 10_000)],
        [probe(-179.95, 0, "D"), probe(179.95, 0, "D"), probe(-179.9, 0)],
      ],
    ];

    it.each(shapeCases)("%s", async (_name, fences, probes) => {
      await withIndex(fences, async (index) => {
        const points = probes.map((p) => p.point);
        expect(await covering(index, points)).toEqual(probes.map((p) => p.ids));
      });
    });

    it("changes a fence's kind on upsert: polygon, circle, corridor", async () => {
      await withIndex([fence("S", [[rect(0, 0, 1, 1)]])], async (index) => {
        const points: LonLat[] = [
          [0.5, 0.5],
          [5, 5],
          [7, 7],
        ];
        expect(await covering(index, points)).toEqual([["S"], [], []]);
        await index.upsert(circle("S", [5, 5], 100));
        expect(await covering(index, points)).toEqual([[], ["S"], []]);
        await index.upsert(
          corridor(
            "S",
            [
              [7, 6.99],
              [7, 7.01],
            ],
            10,
          ),
        );
        expect(await covering(index, points)).toEqual([[], [], ["S"]]);
        expect(index.size).toBe(1);
      });
    });

    it("replaces a fence's geometry on upsert with the same id", async () => {
      await withIndex([fence("R", [[rect(0, 0, 2, 2)]])], async (index) => {
        await index.upsert(fence("R", [[rect(5, 5, 7, 7)]]));
        expect(index.size).toBe(1);
        expect(
          await covering(index, [
            [1, 1],
            [6, 6],
          ]),
        ).toEqual([[], ["R"]]);
      });
    });

    it("forgets a removed fence, and ignores an unknown id", async () => {
      await withIndex([squareWithHole, triangle], async (index) => {
        await index.remove("A");
        await index.remove("no-such-fence");
        expect(index.size).toBe(1);
        expect(
          await covering(index, [
            [1, 1],
            [21, 1],
          ]),
        ).toEqual([[], ["T"]]);
        await index.remove("T");
        expect(index.size).toBe(0);
        expect(await covering(index, [[21, 1]])).toEqual([[]]);
      });
    });

    it("answers many points in one call, in order", async () => {
      await withIndex([squareWithHole, triangle, twoParts], async (index) => {
        const points: LonLat[] = [];
        for (let x = -1; x <= 37; x += 0.5) points.push([x, 1]);
        const expected = points.map((p) =>
          [squareWithHole, triangle, twoParts]
            .filter((f) => referenceCovers(f, p))
            .map((f) => f.id)
            .sort(),
        );
        expect(await covering(index, points)).toEqual(expected);
      });
    });

    it("finds the crossing fences whose bbox meets a segment's box, and only those", async () => {
      const crossing = (f: Fence): Fence => ({ ...f, detect_crossing: true });
      const far = crossing(fence("far", [[rect(100, 100, 101, 101)]]));
      const fences = [crossing(squareWithHole), crossing(twoParts), triangle, far];
      await withIndex(fences, async (index) => {
        expect(
          await index.crossingCandidates([
            [-5, 5, 40, 5.5], // across A and T's bbox (T does not detect), above M
            [-5, 1, 40, 1.5], // across A, T and M
            [32.5, 0.5, 33.5, 1.5], // between M's parts: inside its bbox
            [50, 50, 60, 60], // nothing
            [4.5, 4.5, 5.5, 5.5], // inside A's hole: still A's bbox
          ]),
        ).toEqual([["A"], ["A", "M"], ["M"], [], ["A"]]);
        expect(await index.crossingCandidates([])).toEqual([]);
        // Turned off by an upsert, and gone with a remove.
        await index.upsert({ ...squareWithHole, detect_crossing: false });
        await index.remove("M");
        expect(await index.crossingCandidates([[-5, 1, 40, 1.5]])).toEqual([[]]);
        await index.upsert(crossing(triangle));
        expect(await index.crossingCandidates([[-5, 1, 40, 1.5]])).toEqual([["T"]]);
        expect(await covering(index, [[21, 1]])).toEqual([["T"]]);
      });
    });

    it("answers an empty index and an empty query", async () => {
      await withIndex([], async (index) => {
        expect(index.size).toBe(0);
        expect(await covering(index, [[0, 0]])).toEqual([[]]);
        expect(await covering(index, [])).toEqual([]);
      });
    });

    it("agrees with a brute-force reference under random upserts, removes and queries", async () => {
      const ids = ["a", "b", "c", "aa", "B", "10", "9"];
      await fc.assert(
        fc.asyncProperty(fc.array(operation(ids, 20), { minLength: 1, maxLength: 40 }), (ops) =>
          checkAgainstReference([], ops, 20),
        ),
        { numRuns },
      );
    });

    it("agrees with a brute-force reference with hundreds of fences under churn", async () => {
      const extra = ["x", "y", "z"];
      const arbitrary = fc
        .array(fenceShape(100), { minLength: 100, maxLength: 300 })
        .chain((shapes) => {
          const ids = [...shapes.map((_, i) => `f${i}`), ...extra];
          return fc.tuple(
            fc.constant(shapes.map((polygons, i) => fence(`f${i}`, polygons))),
            fc.array(operation(ids, 100), { minLength: 10, maxLength: 60 }),
          );
        });
      await fc.assert(
        fc.asyncProperty(arbitrary, ([initial, ops]) => checkAgainstReference(initial, ops, 100)),
        { numRuns: Math.max(1, Math.ceil(numRuns / 10)) },
      );
    });
  });

  /** Applies the operations to a fresh index and to a Map, comparing every answer. */
  async function checkAgainstReference(
    initial: readonly Fence[],
    ops: readonly Operation[],
    world: number,
  ): Promise<void> {
    const reference = new Map(initial.map((f) => [f.id, f]));
    const everSeen = new Map(reference);
    await withIndex(initial, async (index) => {
      for (const op of ops) {
        if (op.kind === "upsert") {
          await index.upsert(op.fence);
          reference.set(op.fence.id, op.fence);
          everSeen.set(op.fence.id, op.fence);
        } else if (op.kind === "remove") {
          await index.remove(op.id);
          reference.delete(op.id);
        } else {
          expect(await covering(index, op.points)).toEqual(referenceCovering(reference, op.points));
        }
        expect(index.size).toBe(reference.size);
      }
      // Finally probe where mistakes hide: every vertex and edge midpoint of every fence ever
      // held (removed and replaced ones included), and the corners of the world.
      const probes: LonLat[] = [
        [-1, -1],
        [world, world / 2],
      ];
      for (const f of everSeen.values()) probes.push(...interestingPoints(f));
      expect(await covering(index, probes)).toEqual(referenceCovering(reference, probes));
    });
  }
}

interface Probe {
  point: LonLat;
  ids: string[];
}

/** A point and the ids (already sorted) of the fences expected to cover it. */
function probe(lon: number, lat: number, ...ids: string[]): Probe {
  return { point: [lon, lat], ids };
}

type Operation =
  | { kind: "upsert"; fence: Fence }
  | { kind: "remove"; id: string }
  | { kind: "query"; points: LonLat[] };

function operation(ids: readonly string[], world: number): fc.Arbitrary<Operation> {
  const id = fc.constantFrom(...ids);
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(id, fenceShape(world))
        .map(([i, polygons]): Operation => ({ kind: "upsert", fence: fence(i, polygons) })),
    },
    { weight: 1, arbitrary: id.map((i): Operation => ({ kind: "remove", id: i })) },
    {
      weight: 2,
      arbitrary: fc
        .array(gridPoint(world), { minLength: 1, maxLength: 30 })
        .map((points): Operation => ({ kind: "query", points })),
    },
  );
}

/** A point on the half-unit grid over everything fenceShape(world) can cover, with a margin. */
function gridPoint(world: number): fc.Arbitrary<LonLat> {
  return fc
    .tuple(
      fc.integer({ min: -2, max: 4 * world + 24 }),
      fc.integer({ min: -2, max: 2 * world + 10 }),
    )
    .map(([x, y]): LonLat => [x / 2, y / 2]);
}

/** One or two valid polygons (rectangle, diamond or right triangle; some with a hole), disjoint. */
function fenceShape(world: number): fc.Arbitrary<Ring[][]> {
  const at = fc.integer({ min: 0, max: world - 12 });
  const size = fc.integer({ min: 1, max: 8 });
  const polygon = fc.oneof(
    fc.tuple(at, at, size, size, fc.boolean()).map(([x, y, w, h, holed]) => {
      const rings = [rect(x, y, x + w, y + h)];
      if (holed && w >= 3 && h >= 3) rings.push(rect(x + 1, y + 1, x + w - 1.5, y + h - 1));
      return rings;
    }),
    fc.tuple(at, at, size, size, fc.boolean()).map(([x, y, rx, ry, holed]) => {
      const [cx, cy] = [x + 8, y + 8];
      const rings = [ring([cx + rx, cy], [cx, cy + ry], [cx - rx, cy], [cx, cy - ry])];
      if (holed && rx >= 4 && ry >= 4) rings.push(rect(cx - 1, cy - 1, cx + 1, cy + 0.5));
      return rings;
    }),
    fc.tuple(at, at, size, size).map(([x, y, a, b]) => [ring([x, y], [x + a, y], [x, y + b])]),
  );
  // A polygon spans at most x ∈ [0, world + 4]; the second is moved clear of the first.
  return fc
    .array(polygon, { minLength: 1, maxLength: 2 })
    .map((parts) =>
      parts.map((rings, k) => (k === 0 ? rings : rings.map((r) => shift(r, world + 6)))),
    );
}

function interestingPoints(f: Fence): LonLat[] {
  const points: LonLat[] = [];
  for (const rings of f.polygons) {
    for (const r of rings) {
      for (let i = 0; i + 1 < r.length; i++) {
        const [ax, ay] = r[i] as Position;
        const [bx, by] = r[i + 1] as Position;
        points.push([ax, ay], [(ax + bx) / 2, (ay + by) / 2], [ax + 0.25, ay + 0.25]);
      }
    }
  }
  return points;
}

function referenceCovering(fences: ReadonlyMap<string, Fence>, points: readonly LonLat[]) {
  return points.map((p) =>
    [...fences.values()]
      .filter((f) => referenceCovers(f, p))
      .map((f) => f.id)
      .sort(),
  );
}

type Edge = readonly [Position, Position];
const edgeCache = new WeakMap<Fence, Edge[][]>();

/** Each polygon's edges (shell and holes together), worked out once per fence. */
function polygonEdges(f: Fence): Edge[][] {
  let edges = edgeCache.get(f);
  if (edges === undefined) {
    edges = f.polygons.map((rings) =>
      rings.flatMap((r) => r.slice(1).map((b, i): Edge => [r[i] as Position, b])),
    );
    edgeCache.set(f, edges);
  }
  return edges;
}

/** Textbook crossing-number test with an explicit on-boundary check; exact on the test grid. */
function referenceCovers(f: Fence, [x, y]: LonLat): boolean {
  return polygonEdges(f).some((edges) => {
    let inside = false;
    for (const [[ax, ay], [bx, by]] of edges) {
      const onLine = (bx - ax) * (y - ay) - (by - ay) * (x - ax) === 0;
      const inBox =
        Math.min(ax, bx) <= x &&
        x <= Math.max(ax, bx) &&
        Math.min(ay, by) <= y &&
        y <= Math.max(ay, by);
      if (onLine && inBox) return true;
      if (ay > y !== by > y && x < ax + ((y - ay) * (bx - ax)) / (by - ay)) inside = !inside;
    }
    return inside;
  });
}

function fence(id: string, polygons: Ring[][]): Fence {
  return { id, name: `fence ${id}`, polygons };
}

function circle(id: string, center: Position, radius_m: number): Fence {
  return { id, name: `circle ${id}`, polygons: [], circle: { center, radius_m } };
}

function corridor(id: string, line: Position[], width_m: number): Fence {
  return { id, name: `corridor ${id}`, polygons: [], corridor: { line, width_m } };
}

/** The latitude `metres` north of `lat` along a meridian, on the sphere of radius 6371008.77 m. */
function north(lat: number, metres: number): number {
  return lat + (metres / 6_371_008.771_415) * (180 / Math.PI);
}

/** The longitude whose point at `lat` is `metres` (great-circle) east of the meridian `lon`. */
function east(lon: number, lat: number, metres: number): number {
  const angle = metres / 6_371_008.771_415;
  const phi = (lat * Math.PI) / 180;
  return lon + (Math.asin(Math.sin(angle) / Math.cos(phi)) * 180) / Math.PI;
}

/** A closed ring through the given positions. */
function ring(...positions: Position[]): Ring {
  return [...positions, positions[0] as Position];
}

/** A counter-clockwise axis-aligned rectangle. */
function rect(x0: number, y0: number, x1: number, y1: number): Ring {
  return ring([x0, y0], [x1, y0], [x1, y1], [x0, y1]);
}

function shift(r: Ring, dx: number): Ring {
  return r.map(([x, y]): Position => [x + dx, y]);
}

import { describe, expect, it } from "vitest";
import { CIRCLE_VERTICES, circleOf, circleRing, distanceM } from "./circle.ts";

describe("circles as polygons", () => {
  it("makes a closed counter-clockwise ring whose vertices lie on the radius", () => {
    const center = [13.4, 52.5];
    const ring = circleRing(center, 500);
    expect(ring).toHaveLength(CIRCLE_VERTICES + 1);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    for (const p of ring) expect(distanceM(center, p)).toBeCloseTo(500, 0);
    // Shoelace sum is positive for a counter-clockwise ring in lng/lat.
    let area = 0;
    for (let i = 0; i < ring.length - 1; i++) {
      const [x1 = 0, y1 = 0] = ring[i] ?? [];
      const [x2 = 0, y2 = 0] = ring[i + 1] ?? [];
      area += x1 * y2 - x2 * y1;
    }
    expect(area).toBeGreaterThan(0);
  });

  it("recovers the centre and radius of a drawn ring", () => {
    const { center, radiusM } = circleOf(circleRing([-118.24, 34.05], 1234, 48));
    expect(center[0]).toBeCloseTo(-118.24, 4);
    expect(center[1]).toBeCloseTo(34.05, 4);
    expect(radiusM).toBeCloseTo(1234, -1);
  });
});

// The demo's pieces: valid sample geofences laid out for a quick first event, port fallback.

import net from "node:net";
import { MemoryFenceIndex, validateGeometry } from "@locus/hub";
import { MotionModel, trackFixes } from "@locus/simulator";
import { afterEach, describe, expect, it } from "vitest";
import { DEMO_BBOX, DEMO_BLOCK_M, DEMO_FENCES } from "./fences.ts";
import { choosePort, portFree } from "./ports.ts";

describe("demo geofences", () => {
  it("are valid, inside the box, and include a MultiPolygon and a polygon with a hole", () => {
    for (const fence of DEMO_FENCES) {
      const check = validateGeometry(fence.geometry);
      expect(check.ok, `${fence.properties.name}: ${JSON.stringify(check)}`).toBe(true);
      const positions = JSON.stringify(fence.geometry.coordinates)
        .match(/-?\d+(\.\d+)?,-?\d+(\.\d+)?/g)
        ?.map((p) => p.split(",").map(Number)) as number[][];
      for (const [lon, lat] of positions) {
        expect(lon).toBeGreaterThan(DEMO_BBOX.west);
        expect(lon).toBeLessThan(DEMO_BBOX.east);
        expect(lat).toBeGreaterThan(DEMO_BBOX.south);
        expect(lat).toBeLessThan(DEMO_BBOX.north);
      }
    }
    expect(DEMO_FENCES.some((f) => f.geometry.type === "MultiPolygon")).toBe(true);
    expect(
      DEMO_FENCES.some((f) => f.geometry.type === "Polygon" && f.geometry.coordinates.length > 1),
    ).toBe(true);
    expect(new Set(DEMO_FENCES.map((f) => f.properties.name)).size).toBe(DEMO_FENCES.length);
  });

  it("are crossed by the demo fleet within seconds", () => {
    const index = new MemoryFenceIndex();
    DEMO_FENCES.forEach((f, i) => {
      const check = validateGeometry(f.geometry);
      if (!check.ok) throw new Error("invalid");
      index.upsert({ id: String(i), name: f.properties.name, polygons: check.polygons });
    });
    const model = new MotionModel({ kind: "grid", bbox: DEMO_BBOX, blockM: DEMO_BLOCK_M }, 3);
    let insideAtStart = 0;
    let changedWithin30s = 0;
    for (let v = 0; v < 200; v++) {
      const fixes = trackFixes(model, 1, v, 30, 1000);
      const sets = fixes.map((f) => index.coveringPoint(f.longitude, f.latitude).join());
      if (sets[0] !== "") insideAtStart++;
      if (sets.some((s) => s !== sets[0])) changedWithin30s++;
    }
    // First fixes inside a fence give enter events at once; crossings follow.
    expect(insideAtStart).toBeGreaterThanOrEqual(20);
    expect(changedWithin30s).toBeGreaterThanOrEqual(20);
  });
});

describe("choosePort", () => {
  let blocker: net.Server | null = null;
  afterEach(async () => {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    blocker = null;
  });

  it("keeps a free default and falls back to a free port, saying so, when it is taken", async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, "127.0.0.1", () => resolve()));
    const address = blocker.address();
    const taken = typeof address === "object" && address ? address.port : 0;
    expect(await portFree("127.0.0.1", taken)).toBe(false);
    const fallback = await choosePort("LOCUS_MQTT_PORT", "127.0.0.1", taken);
    expect(fallback.port).toBe(0);
    expect(fallback.note).toMatch(new RegExp(`port ${taken} .* in use.*LOCUS_MQTT_PORT`));

    await new Promise<void>((resolve) => blocker?.close(() => resolve()));
    blocker = null;
    expect(await choosePort("LOCUS_MQTT_PORT", "127.0.0.1", taken)).toEqual({
      port: taken,
      note: null,
    });
  });
});

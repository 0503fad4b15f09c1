// Geofence properties nested deeper than the hub allows get a 400 naming the limit, never a 500
// from a stack overflow, on create and replace; nesting within the limit is stored as sent.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PROPERTIES_DEPTH } from "./geofence-feature.ts";
import { call, errorMessage, polygonFeature, startApi, type TestApi } from "./test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await startApi();
});
afterAll(async () => {
  await t.close();
});

/** A Feature whose property `deep` nests `levels` arrays or objects, as JSON text (built as text:
 *  JSON.stringify would itself overflow on the deepest). */
function nestedBody(levels: number, kind: "array" | "object"): string {
  const [open, close] = kind === "array" ? ["[", "]"] : ['{"a":', "}"];
  const deep = `${open.repeat(levels)}1${close.repeat(levels)}`;
  const feature = JSON.stringify(polygonFeature("deep", undefined, { deep: "HERE" }));
  return feature.replace('"HERE"', deep);
}

const json = { "content-type": "application/json" };

describe("geofence properties nesting", () => {
  it.each([
    ["arrays", 10_000, "array"],
    ["objects", 3_000, "object"],
    ["arrays one level past the limit", MAX_PROPERTIES_DEPTH, "array"],
  ] as const)("refuses %s nested %i deep with a 400 naming the limit", async (_, levels, kind) => {
    const r = await call(t.app, "POST", "/api/v1/geofences", nestedBody(levels, kind), json);
    expect(errorMessage(r, 400)).toMatch(
      new RegExp(`body/properties is nested more than ${MAX_PROPERTIES_DEPTH} levels`),
    );
  });

  it("refuses it on replace too, leaving the stored geofence as it was", async () => {
    const created = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("keep"));
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    const r = await call(t.app, "PUT", `/api/v1/geofences/${id}`, nestedBody(5_000, "array"), json);
    expect(errorMessage(r, 400)).toMatch(/nested more than 32 levels/);
    const read = await call(t.app, "GET", `/api/v1/geofences/${id}`);
    expect(read.json().properties.name).toBe("keep");
  });

  it("stores properties nested right up to the limit", async () => {
    // The properties object is level 1, so `deep` may hold 31 more.
    const levels = MAX_PROPERTIES_DEPTH - 1;
    const r = await call(t.app, "POST", "/api/v1/geofences", nestedBody(levels, "array"), json);
    expect(r.statusCode).toBe(201);
    let value: unknown = r.json().properties.deep;
    let depth = 0;
    while (Array.isArray(value)) {
      value = value[0];
      depth++;
    }
    expect([depth, value]).toEqual([levels, 1]);
  });
});

describe("detect_crossing", () => {
  it("is stored and returned as sent, on create and on replace", async () => {
    const r = await call(
      t.app,
      "POST",
      "/api/v1/geofences",
      polygonFeature("gate", undefined, { detect_crossing: true }),
    );
    expect(r.statusCode).toBe(201);
    const id = r.json().id;
    expect(r.json().properties.detect_crossing).toBe(true);
    expect((await t.store.getGeofence(id))?.detect_crossing).toBe(true);
    const off = polygonFeature("gate", undefined, { detect_crossing: false });
    const replaced = await call(t.app, "PUT", `/api/v1/geofences/${id}`, off);
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json().properties.detect_crossing).toBe(false);
    expect((await t.store.getGeofence(id))?.detect_crossing).toBe(false);
  });

  it.each([["yes"], [1], [null], [{}]])("refuses %j with a 400 naming the property", async (v) => {
    const body = polygonFeature("gate", undefined, { detect_crossing: v });
    const r = await call(t.app, "POST", "/api/v1/geofences", body);
    expect(errorMessage(r, 400)).toMatch(/detect_crossing/);
  });

  it.each([
    ["a circle", { type: "Point", coordinates: [10, 50] }, { radius_m: 100 }],
    [
      "a corridor",
      {
        type: "LineString",
        coordinates: [
          [10, 50],
          [10.01, 50],
        ],
      },
      { width_m: 60 },
    ],
  ])("accepts it on %s, on create and replace", async (_, geometry, shape) => {
    const feature = (detect_crossing: boolean) => ({
      type: "Feature",
      geometry,
      properties: { name: "round", ...shape, detect_crossing },
    });
    const created = await call(t.app, "POST", "/api/v1/geofences", feature(true));
    expect(created.statusCode).toBe(201);
    expect(created.json().properties.detect_crossing).toBe(true);
    const id = created.json().id;
    expect((await t.store.getGeofence(id))?.detect_crossing).toBe(true);
    const replaced = await call(t.app, "PUT", `/api/v1/geofences/${id}`, feature(false));
    expect(replaced.statusCode).toBe(200);
    expect((await t.store.getGeofence(id))?.detect_crossing).toBe(false);
  });
});

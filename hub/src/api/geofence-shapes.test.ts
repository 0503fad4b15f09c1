// Circles (a Point with radius_m) and corridors (a LineString with width_m) through the geofence
// routes over a real SQLite store: stored and returned as sent, kind changes on PUT, and a 400
// naming the problem for every bad shape.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, errorMessage, polygonFeature, startApi, type TestApi } from "./test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await startApi();
});
afterAll(async () => {
  await t.close();
});

function circleFeature(name: string, center: unknown = [-118.2437, 34.0522], extra = {}) {
  return {
    type: "Feature",
    geometry: { type: "Point", coordinates: center },
    properties: { name, radius_m: 250, ...extra },
  };
}

function corridorFeature(name: string, line: unknown, extra: Record<string, unknown> = {}) {
  return {
    type: "Feature",
    geometry: { type: "LineString", coordinates: line },
    properties: { name, width_m: 40, ...extra },
  };
}

const ROUTE = [
  [-118.25, 34.05],
  [-118.24, 34.051],
  [-118.23, 34.05],
];

describe("circles and corridors through the API", () => {
  it("stores a circle as a Point with radius_m and returns it as sent", async () => {
    const created = await call(
      t.app,
      "POST",
      "/api/v1/geofences",
      circleFeature("depot", [-118.2437, 34.0522, 80], { hysteresis_m: 10, colour: "blue" }),
    );
    expect(created.statusCode).toBe(201);
    const feature = created.json();
    expect(feature.geometry).toEqual({ type: "Point", coordinates: [-118.2437, 34.0522] });
    expect(feature.properties).toMatchObject({ name: "depot", radius_m: 250, hysteresis_m: 10 });
    expect((await call(t.app, "GET", `/api/v1/geofences/${feature.id}`)).json()).toEqual(feature);
    const record = t.fences.fences.get(feature.id);
    expect(record?.circle).toEqual({ center: [-118.2437, 34.0522], radius_m: 250 });
    expect(record?.polygons).toEqual([]);
    const list = (await call(t.app, "GET", "/api/v1/geofences")).json();
    expect(list.features).toContainEqual(feature);
  });

  it("stores a corridor as a LineString with width_m, repeated positions dropped", async () => {
    const line = [ROUTE[0], ROUTE[0], ...ROUTE.slice(1)];
    const created = await call(t.app, "POST", "/api/v1/geofences", corridorFeature("road", line));
    expect(created.statusCode).toBe(201);
    const feature = created.json();
    expect(feature.geometry).toEqual({ type: "LineString", coordinates: ROUTE });
    expect(feature.properties.width_m).toBe(40);
    expect(t.fences.fences.get(feature.id)?.corridor).toEqual({ line: ROUTE, width_m: 40 });
  });

  it("changes a geofence's kind on PUT: circle, polygon, corridor, circle", async () => {
    const { id } = (await call(t.app, "POST", "/api/v1/geofences", circleFeature("k"))).json();
    const bodies = [polygonFeature("k"), corridorFeature("k", ROUTE), circleFeature("k")];
    const kinds = [];
    for (const body of bodies) {
      const replaced = await call(t.app, "PUT", `/api/v1/geofences/${id}`, body);
      expect(replaced.statusCode).toBe(200);
      kinds.push(replaced.json().geometry.type);
      const stored = (await call(t.app, "GET", `/api/v1/geofences/${id}`)).json();
      expect(stored.geometry).toEqual(replaced.json().geometry);
    }
    expect(kinds).toEqual(["Polygon", "LineString", "Point"]);
    expect(t.fences.fences.get(id)?.circle?.radius_m).toBe(250);
    expect(t.fences.fences.get(id)?.corridor).toBeUndefined();
  });

  it("takes a corridor too big for the main thread's parser limit (checked as any big body)", async () => {
    const line = Array.from({ length: 5000 }, (_, i) => [-118 + i * 1e-4, 34 + (i % 7) * 1e-5]);
    const body = corridorFeature("long", line);
    expect(JSON.stringify(body).length).toBeGreaterThan(64 * 1024);
    const created = await call(t.app, "POST", "/api/v1/geofences", body);
    expect(created.statusCode).toBe(201);
    expect(created.json().geometry.coordinates).toHaveLength(5000);
    const bad = corridorFeature("long", [...line, [200, 0]]);
    expect(errorMessage(await call(t.app, "POST", "/api/v1/geofences", bad), 400)).toContain(
      "geometry.coordinates[5000]",
    );
  });

  const bad: [string, unknown, RegExp][] = [
    [
      "a Point without radius_m",
      { ...circleFeature("x"), properties: { name: "x" } },
      /properties\.radius_m: radius_m is required: a Point is a circle/,
    ],
    [
      "a radius of 0",
      circleFeature("x", undefined, { radius_m: 0 }),
      /from 1 to 100000, found the number 0/,
    ],
    [
      "a radius over 100 km",
      circleFeature("x", undefined, { radius_m: 100_001 }),
      /from 1 to 100000/,
    ],
    ["a radius as text", circleFeature("x", undefined, { radius_m: "5" }), /found the string "5"/],
    [
      "width_m on a Point",
      circleFeature("x", undefined, { width_m: 5 }),
      /width_m belongs to a corridor/,
    ],
    ["a Point out of range", circleFeature("x", [10, 91]), /geometry\.coordinates has latitude 91/],
    [
      "a Point that is not a position",
      circleFeature("x", [[1, 2]]),
      /geometry\.coordinates must be a position/,
    ],
    [
      "radius_m on a polygon",
      polygonFeature("x", undefined, { radius_m: 50 }),
      /radius_m applies only to a circle/,
    ],
    [
      "width_m on a polygon",
      polygonFeature("x", undefined, { width_m: 50 }),
      /width_m applies only to a corridor/,
    ],
    [
      "a LineString without width_m",
      { ...corridorFeature("x", ROUTE), properties: { name: "x" } },
      /width_m is required: a LineString is a corridor/,
    ],
    ["a width of 0.5 m", corridorFeature("x", ROUTE, { width_m: 0.5 }), /from 1 to 100000/],
    [
      "radius_m on a LineString",
      corridorFeature("x", ROUTE, { radius_m: 5 }),
      /radius_m belongs to a circle/,
    ],
    [
      "a LineString of one distinct position",
      corridorFeature("x", [ROUTE[0], ROUTE[0]]),
      /at least 2 distinct positions, found 1/,
    ],
    ["a LineString that is not an array", corridorFeature("x", 5), /must be an array of positions/],
    [
      "a segment half way round the globe",
      corridorFeature("x", [
        [0, 0],
        [180, 0],
      ]),
      /spans more than 179° of a great circle/,
    ],
  ];

  it.each(bad)("answers 400 for %s", async (_name, body, message) => {
    const response = await call(t.app, "POST", "/api/v1/geofences", body);
    expect(errorMessage(response, 400)).toMatch(message);
  });

  it("counts a corridor's positions against the vertex limit", async () => {
    const small = await startApi({ maxVertices: 3 });
    try {
      const line = [...ROUTE, [-118.22, 34.05]];
      const response = await call(
        small.app,
        "POST",
        "/api/v1/geofences",
        corridorFeature("x", line),
      );
      expect(errorMessage(response, 400)).toContain("geometry has 4 vertices; the limit is 3");
      const ok = await call(small.app, "POST", "/api/v1/geofences", corridorFeature("x", ROUTE));
      expect(ok.statusCode).toBe(201);
    } finally {
      await small.close();
    }
  });
});

// Geofence routes over a real SQLite store: CRUD, geometry rules, properties, size limits, paging.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateGeometry } from "../geofence/validate.ts";
import {
  call,
  errorMessage,
  polygonFeature,
  square,
  startApi,
  type TestApi,
} from "./test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await startApi();
});
afterAll(async () => {
  await t.close();
});

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("geofence CRUD", () => {
  it("creates, reads, replaces and deletes a geofence, keeping the engine in step", async () => {
    const created = await call(
      t.app,
      "POST",
      "/api/v1/geofences",
      polygonFeature("downtown-la", square(-118.24, 34.05), { colour: "red", tags: ["a", 1] }),
    );
    expect(created.statusCode).toBe(201);
    const feature = created.json();
    expect(feature).toMatchObject({
      type: "Feature",
      geometry: { type: "Polygon", coordinates: [square(-118.24, 34.05)] },
      properties: { name: "downtown-la", colour: "red", tags: ["a", 1] },
    });
    expect(typeof feature.id).toBe("string");
    expect(feature.properties.created_at).toMatch(RFC3339);
    expect(feature.properties.updated_at).toBe(feature.properties.created_at);
    expect(created.headers.location).toBe(`/api/v1/geofences/${feature.id}`);
    expect(t.fences.has(feature.id)).toBe(true);

    const read = await call(t.app, "GET", `/api/v1/geofences/${feature.id}`);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(feature);

    // A fetched Feature can be sent back as is; the hub's times in it are ignored.
    const replacement = {
      ...feature,
      geometry: { type: "Polygon", coordinates: [square(-118.3, 34.1)] },
      properties: { ...feature.properties, name: "moved", created_at: "2000-01-01T00:00:00Z" },
    };
    const replaced = await call(t.app, "PUT", `/api/v1/geofences/${feature.id}`, replacement);
    expect(replaced.statusCode).toBe(200);
    const after = replaced.json();
    expect(after.id).toBe(feature.id);
    expect(after.properties).toMatchObject({ name: "moved", colour: "red" });
    expect(after.properties.created_at).toBe(feature.properties.created_at);
    expect(after.geometry.coordinates).toEqual([square(-118.3, 34.1)]);
    expect(t.fences.fences.get(feature.id)?.name).toBe("moved");

    const deleted = await call(t.app, "DELETE", `/api/v1/geofences/${feature.id}`);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe("");
    expect(t.fences.has(feature.id)).toBe(false);
    errorMessage(await call(t.app, "GET", `/api/v1/geofences/${feature.id}`), 404);
    errorMessage(await call(t.app, "DELETE", `/api/v1/geofences/${feature.id}`), 404);
  });

  it("answers 404 for unknown ids on GET, PUT and DELETE", async () => {
    const id = "01900000-0000-7000-8000-000000000000";
    expect(errorMessage(await call(t.app, "GET", `/api/v1/geofences/${id}`), 404)).toContain(id);
    errorMessage(await call(t.app, "PUT", `/api/v1/geofences/${id}`, polygonFeature("x")), 404);
    errorMessage(await call(t.app, "DELETE", `/api/v1/geofences/${id}`), 404);
  });

  it("refuses a PUT whose body id differs from the path", async () => {
    const { id } = (await call(t.app, "POST", "/api/v1/geofences", polygonFeature("a"))).json();
    const r = await call(t.app, "PUT", `/api/v1/geofences/${id}`, {
      ...polygonFeature("b"),
      id: "other",
    });
    expect(errorMessage(r, 400)).toMatch(/body\/id/);
  });

  it("accepts the GeoJSON media type", async () => {
    const r = await call(t.app, "POST", "/api/v1/geofences", JSON.stringify(polygonFeature("g")), {
      "content-type": "application/geo+json",
    });
    expect(r.statusCode).toBe(201);
  });
});

describe("geometry", () => {
  it("normalises a clockwise exterior ring to counter-clockwise", async () => {
    const ccw = square(10, 10);
    const cw = [...ccw].reverse();
    const r = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("cw", cw));
    expect(r.statusCode).toBe(201);
    const ring = r.json().geometry.coordinates[0] as number[][];
    let area2 = 0;
    for (let i = 0; i + 1 < ring.length; i++) {
      const [x1, y1] = ring[i] as number[];
      const [x2, y2] = ring[i + 1] as number[];
      area2 += (x1 as number) * (y2 as number) - (x2 as number) * (y1 as number);
    }
    expect(area2).toBeGreaterThan(0);
    expect(ring).toHaveLength(5);
  });

  it("keeps a MultiPolygon a MultiPolygon", async () => {
    const hole = [...square(0, 0, 0.5)].reverse();
    const body = {
      type: "Feature",
      geometry: {
        type: "MultiPolygon",
        coordinates: [[square(0, 0, 1), hole], [square(5, 5)]],
      },
      properties: { name: "two parts" },
    };
    const r = await call(t.app, "POST", "/api/v1/geofences", body);
    expect(r.statusCode).toBe(201);
    const geometry = r.json().geometry;
    expect(geometry.type).toBe("MultiPolygon");
    expect(geometry.coordinates).toHaveLength(2);
    expect(geometry.coordinates[0]).toHaveLength(2);
    const read = await call(t.app, "GET", `/api/v1/geofences/${r.json().id}`);
    expect(read.json().geometry).toEqual(geometry);
  });

  it.each([
    [
      "a self-intersecting ring",
      [
        [0, 0],
        [1, 1],
        [1, 0],
        [0, 1],
        [0, 0],
      ],
      /cross/,
    ],
    [
      "an unclosed ring",
      [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
      ],
      /clos/,
    ],
    [
      "a longitude out of range",
      [
        [0, 0],
        [181, 0],
        [1, 1],
        [0, 0],
      ],
      /181|longitude|range/i,
    ],
  ])("refuses %s with a message naming it", async (_what, ring, pattern) => {
    const r = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("bad", ring));
    const message = errorMessage(r, 400);
    expect(message).toMatch(/^body\/geometry/);
    expect(message).toMatch(pattern);
  });

  it.each([
    [{ type: "Point", coordinates: [0, 0] }, /radius_m is required/],
    [{ type: "MultiPoint", coordinates: [[0, 0]] }, /"Polygon" or "MultiPolygon" \(or "Point"/],
    [{ type: "Polygon" }, /coordinates/],
    ["not an object", /geometry/],
  ])("refuses the geometry %j", async (geometry, pattern) => {
    const r = await call(t.app, "POST", "/api/v1/geofences", {
      type: "Feature",
      geometry,
      properties: { name: "x" },
    });
    expect(errorMessage(r, 400)).toMatch(pattern);
  });

  // A closed ring of n positions (the closing one included) on a circle.
  function circle(n: number): number[][] {
    const ring: number[][] = [];
    for (let i = 0; i < n - 1; i++) {
      const a = (2 * Math.PI * i) / (n - 1);
      ring.push([Math.cos(a), Math.sin(a)]);
    }
    ring.push(ring[0] as number[]);
    return ring;
  }

  it("refuses more than 100,000 vertices", async () => {
    const r = await call(
      t.app,
      "POST",
      "/api/v1/geofences",
      polygonFeature("huge", circle(100_001)),
    );
    expect(errorMessage(r, 400)).toMatch(/100000|100,000/);
  });

  it("accepts 100,000 vertices and gives them back", async () => {
    const ring = circle(100_000);
    const r = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("max", ring));
    expect(r.statusCode).toBe(201);
    const read = await call(t.app, "GET", `/api/v1/geofences/${r.json().id}`);
    // Compared as text: a deep equality over 100,000 positions is slow.
    expect(JSON.stringify(read.json().geometry.coordinates)).toBe(JSON.stringify([ring]));
    // The answer to a big geometry is built from the worker's JSON text: byte for byte what the
    // serializer writes for the same geofence.
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(r.body).toBe(read.body);
  });

  it("checks big geometries on the worker as it checks small ones, and answers the same", async () => {
    // Clockwise with an altitude, so that the worker's normalisation shows in the answer.
    const ring = circle(5_000)
      .reverse()
      .map(([x, y]) => [(x ?? 0) + 10, y ?? 0, 7]);
    // Closed, and crossing itself: the worker's message must be validateGeometry's.
    const crossing = [...circle(5_000).slice(0, -1), [2, 2], [0.5, -2], [1, 0]];
    const geometry = { type: "MultiPolygon", coordinates: [[ring], [crossing]] };
    const verdict = validateGeometry(geometry);
    if (verdict.ok) throw new Error("the crossing ring should be refused");
    expect(verdict.problem.path).toMatch(/^geometry\.coordinates\[1\]/);
    const bad = await call(t.app, "POST", "/api/v1/geofences", {
      type: "Feature",
      properties: { name: "bad" },
      geometry,
    });
    expect(errorMessage(bad, 400)).toBe(`body/${verdict.problem.path}: ${verdict.problem.message}`);

    const created = await call(
      t.app,
      "POST",
      "/api/v1/geofences",
      polygonFeature("big", square(0, 0)),
    );
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    const replaced = await call(t.app, "PUT", `/api/v1/geofences/${id}`, {
      type: "Feature",
      properties: { name: "big", colour: "blue" },
      geometry: { type: "MultiPolygon", coordinates: [[ring]] },
    });
    expect(replaced.statusCode).toBe(200);
    const read = await call(t.app, "GET", `/api/v1/geofences/${id}`);
    expect(replaced.body).toBe(read.body);
    const expected = [[[...ring].reverse().map(([x, y]) => [x, y])]];
    expect(JSON.stringify(read.json().geometry)).toBe(
      JSON.stringify({ type: "MultiPolygon", coordinates: expected }),
    );
    expect(read.json().properties).toMatchObject({ name: "big", colour: "blue" });
  });
});

describe("feature and properties", () => {
  it.each([
    [{ ...polygonFeature("x"), type: "FeatureCollection" }, /body\/type must be "Feature"/],
    [{ type: "Feature", geometry: polygonFeature("x").geometry }, /body\/properties is required/],
    [{ ...polygonFeature("x"), properties: {} }, /body\/properties\/name is required/],
    [polygonFeature(""), /body\/properties\/name/],
    [polygonFeature("n".repeat(201)), /body\/properties\/name.*200/],
    [{ ...polygonFeature("x"), properties: { name: 5 } }, /body\/properties\/name must be string/],
  ])("refuses a bad feature (%#)", async (body, pattern) => {
    expect(errorMessage(await call(t.app, "POST", "/api/v1/geofences", body), 400)).toMatch(
      pattern,
    );
  });

  it("accepts a name of 200 characters, and of one", async () => {
    for (const name of ["n".repeat(200), "n"]) {
      const r = await call(t.app, "POST", "/api/v1/geofences", polygonFeature(name));
      expect(r.statusCode).toBe(201);
      expect(r.json().properties.name).toBe(name);
    }
  });

  it("stores the jitter settings and returns them as sent", async () => {
    const props = { hysteresis_m: 25, max_accuracy_m: 50.5, dwell_s: 300 };
    const r = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("j", undefined, props));
    expect(r.statusCode).toBe(201);
    expect(r.json().properties).toMatchObject(props);
    const record = await t.store.getGeofence(r.json().id);
    expect(record).toMatchObject(props);
    const plain = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("plain"));
    expect(await t.store.getGeofence(plain.json().id)).toMatchObject({
      hysteresis_m: null,
      max_accuracy_m: null,
      dwell_s: null,
    });
  });

  it.each([
    [{ hysteresis_m: -1 }, /hysteresis_m must be >= 0/],
    [{ hysteresis_m: 10_001 }, /hysteresis_m/],
    [{ hysteresis_m: "5" }, /hysteresis_m must be number/],
    [{ max_accuracy_m: 0 }, /max_accuracy_m must be > 0/],
    [{ max_accuracy_m: null }, /max_accuracy_m/],
    [{ dwell_s: 0 }, /dwell_s must be > 0/],
    [{ dwell_s: 31 * 24 * 3600 }, /dwell_s/],
  ])("refuses the jitter settings %j", async (props, pattern) => {
    const r = await call(t.app, "POST", "/api/v1/geofences", polygonFeature("j", undefined, props));
    expect(errorMessage(r, 400)).toMatch(pattern);
  });

  it("refuses user properties over 16 KiB of JSON", async () => {
    const r = await call(
      t.app,
      "POST",
      "/api/v1/geofences",
      polygonFeature("big", undefined, { note: "x".repeat(17 * 1024) }),
    );
    expect(errorMessage(r, 400)).toMatch(/body\/properties.*16384/);
  });

  it("answers 413 with the error shape for a body over the limit", async () => {
    const small = await startApi({ bodyLimitBytes: 2048 });
    try {
      const body = polygonFeature("big", undefined, { note: "x".repeat(4096) });
      const r = await call(small.app, "POST", "/api/v1/geofences", body);
      expect(errorMessage(r, 413)).toMatch(/2048 bytes/);
      expect(r.json().error).toBe("Payload Too Large");
    } finally {
      await small.close();
    }
  });
});

describe("paging", () => {
  it("walks 250 geofences with a cursor, each exactly once, in creation order", async () => {
    const paged = await startApi();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 250; i++) {
        const r = await call(paged.app, "POST", "/api/v1/geofences", polygonFeature(`g${i}`));
        ids.push(r.json().id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const url = `/api/v1/geofences?limit=100${cursor ? `&cursor=${cursor}` : ""}`;
        const r = await call(paged.app, "GET", url);
        expect(r.statusCode).toBe(200);
        const page = r.json();
        expect(page.type).toBe("FeatureCollection");
        seen.push(...page.features.map((f: { id: string }) => f.id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor !== undefined);
      expect(pages).toBe(3);
      expect(seen).toEqual(ids);

      const all = (await call(paged.app, "GET", "/api/v1/geofences")).json();
      expect(all.features).toHaveLength(100);
      const exact = (await call(paged.app, "GET", "/api/v1/geofences?limit=250")).json();
      expect(exact.features).toHaveLength(250);
      expect(exact.next_cursor).toBeUndefined();
    } finally {
      await paged.close();
    }
  });

  it.each([
    ["limit=1001", /limit must be <= 1000.*not clamped/],
    ["limit=0", /limit must be >= 1/],
    ["limit=ten", /limit must be integer/],
    ["cursor=%%%", /cursor/],
    ["cursor=bm90IGEgY3Vyc29y=", /cursor/],
    [`cursor=${Buffer.from("a b").toString("base64url")}`, /cursor/],
  ])("refuses %s", async (query, pattern) => {
    const r = await call(t.app, "GET", `/api/v1/geofences?${query}`);
    expect(errorMessage(r, 400)).toMatch(pattern);
  });
});

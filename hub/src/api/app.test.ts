// The application as a whole: authentication, public pages, docs, health, metrics and error shape.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  call,
  errorMessage,
  polygonFeature,
  startApi,
  type TestApi,
  TOKEN,
} from "./test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await startApi();
});
afterAll(async () => {
  await t.close();
});

const PROTECTED: [string, string][] = [
  ["GET", "/api/v1/geofences"],
  ["POST", "/api/v1/geofences"],
  ["GET", "/api/v1/geofences/some-id"],
  ["PUT", "/api/v1/geofences/some-id"],
  ["DELETE", "/api/v1/geofences/some-id"],
  ["GET", "/api/v1/vehicles"],
  ["GET", "/api/v1/vehicles/truck-01"],
  ["GET", "/api/v1/vehicles/truck-01/locations"],
  ["GET", "/api/v1/events"],
  ["GET", "/metrics"],
];

describe("authentication", () => {
  it.each(PROTECTED)("%s %s without a token is 401", async (method, url) => {
    const r = await t.app.inject({ method: method as "GET", url });
    expect(errorMessage(r, 401)).toMatch(/missing bearer token.*Authorization: Bearer/);
    expect(r.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it.each(PROTECTED)("%s %s with a wrong token is 401", async (method, url) => {
    const r = await call(t.app, method as "GET", url, undefined, {
      authorization: `Bearer ${TOKEN}x`,
    });
    expect(errorMessage(r, 401)).toMatch(/wrong bearer token/);
  });

  it.each(["Basic dXNlcjpwYXNz", "Bearer", `Token ${TOKEN}`, `Bearer ${TOKEN} extra`, ""])(
    "Authorization %j is 401",
    async (authorization) => {
      const r = await call(t.app, "GET", "/api/v1/geofences", undefined, { authorization });
      errorMessage(r, 401);
    },
  );

  it("lets the right token through, with any case of the scheme", async () => {
    expect((await call(t.app, "GET", "/api/v1/geofences")).statusCode).toBe(200);
    const r = await call(t.app, "GET", "/api/v1/events", undefined, {
      authorization: `bearer ${TOKEN}`,
    });
    expect(r.statusCode).toBe(200);
  });

  it("checks the token before the body", async () => {
    const r = await t.app.inject({
      method: "POST",
      url: "/api/v1/geofences",
      payload: polygonFeature("x"),
    });
    errorMessage(r, 401);
    expect((await call(t.app, "GET", "/api/v1/geofences")).json().features).toEqual([]);
  });
});

describe("public pages", () => {
  it("GET / is the live map page, with a strict Content-Security-Policy", async () => {
    const r = await t.app.inject({ url: "/" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/html/);
    expect(r.headers["content-security-policy"]).toMatch(/default-src 'self'/);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.body).toContain('id="login"');
    expect(r.body).toMatch(/<script type="module" src="\/map\/app-[^"]+\.js"><\/script>/);
  });

  it("serves the docs UI and its assets without a token", async () => {
    const page = await t.app.inject({ url: "/docs" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toMatch(/swagger-ui/i);
    const css = await t.app.inject({ url: "/docs/static/swagger-ui.css" });
    expect(css.statusCode).toBe(200);
    const init = await t.app.inject({ url: "/docs/static/swagger-initializer.js" });
    expect(init.statusCode).toBe(200);
  });

  it("GET /api/v1/health needs no token: 200 when ok, 503 when not", async () => {
    const ok = await t.app.inject({ url: "/api/v1/health" });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ status: "ok", checks: { broker: "ok", store: "ok" } });

    t.health = { ok: false, checks: { broker: "connection refused", store: "ok" } };
    try {
      const down = await t.app.inject({ url: "/api/v1/health" });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({
        status: "unavailable",
        checks: { broker: "connection refused", store: "ok" },
      });
    } finally {
      t.health = { ok: true, checks: { broker: "ok", store: "ok" } };
    }
  });
});

describe("OpenAPI", () => {
  it("is served without a token and documents every route of the contract", async () => {
    const r = await t.app.inject({ url: "/openapi.json" });
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    const methods = (path: string) => Object.keys(doc.paths[path] ?? {}).sort();
    expect(methods("/api/v1/geofences")).toEqual(["get", "post"]);
    expect(methods("/api/v1/geofences/{id}")).toEqual(["delete", "get", "put"]);
    expect(methods("/api/v1/vehicles")).toEqual(["get", "post"]);
    expect(methods("/api/v1/vehicles/{id}")).toEqual(["delete", "get"]);
    expect(methods("/api/v1/vehicles/{id}/credentials")).toEqual(["post"]);
    expect(methods("/api/v1/clients")).toEqual(["get", "post"]);
    expect(methods("/api/v1/clients/{name}")).toEqual(["delete"]);
    expect(methods("/api/v1/tokens")).toEqual(["get", "post"]);
    expect(methods("/api/v1/tokens/{name}")).toEqual(["delete"]);
    expect(methods("/api/v1/vehicles/{id}/locations")).toEqual(["get"]);
    expect(methods("/api/v1/events")).toEqual(["get"]);
    expect(methods("/api/v1/health")).toEqual(["get"]);
    expect(methods("/metrics")).toEqual(["get"]);
    expect(methods("/")).toEqual(["get"]);
  });

  it("declares bearer auth, and waives it only where the contract does", async () => {
    const doc = (await t.app.inject({ url: "/openapi.json" })).json();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: "http",
      scheme: "bearer",
    });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/api/v1/health"].get.security).toEqual([]);
    expect(doc.paths["/"].get.security).toEqual([]);
    expect(doc.paths["/api/v1/events"].get.security).toBeUndefined();
    expect(doc.paths["/metrics"].get.security).toBeUndefined();
  });

  it("documents query limits and response shapes", async () => {
    const doc = (await t.app.inject({ url: "/openapi.json" })).json();
    const params = doc.paths["/api/v1/events"].get.parameters as {
      name: string;
      schema: Record<string, unknown>;
    }[];
    expect(params.map((p) => p.name).sort()).toEqual(
      ["from", "geofence_id", "limit", "to", "type", "vehicle_id"].sort(),
    );
    expect(params.find((p) => p.name === "limit")?.schema).toMatchObject({
      maximum: 10_000,
      default: 1000,
    });
    const created = doc.paths["/api/v1/geofences"].post.responses["201"];
    expect(created.content["application/json"].schema.properties.id).toBeDefined();
  });
});

describe("metrics", () => {
  it("GET /metrics answers the registry's text with its content type", async () => {
    const r = await call(t.app, "GET", "/metrics");
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe(t.deps.metrics.contentType);
    expect(r.body).toBe(await t.deps.metrics.metrics());
  });
});

describe("errors", () => {
  it("an unknown route is 404 JSON, with or without a token", async () => {
    expect(errorMessage(await call(t.app, "GET", "/api/v1/nothing"), 404)).toMatch(/\/docs/);
    errorMessage(await t.app.inject({ url: "/nothing/here" }), 404);
  });

  it("a body that is not JSON is 415", async () => {
    const r = await call(t.app, "POST", "/api/v1/geofences", "name=x", {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(errorMessage(r, 415)).toMatch(/application\/json/);
    const text = await call(t.app, "POST", "/api/v1/geofences", "hi", {
      "content-type": "text/plain",
    });
    errorMessage(text, 415);
  });

  it("malformed JSON is 400", async () => {
    const r = await call(t.app, "POST", "/api/v1/geofences", '{"type":', {
      "content-type": "application/json",
    });
    expect(errorMessage(r, 400)).toMatch(/not valid JSON/);
  });

  it("an empty JSON body is no body: fine for DELETE, 400 for POST", async () => {
    const json = { "content-type": "application/json" };
    const del = await call(t.app, "DELETE", "/api/v1/geofences/none", "", json);
    expect(errorMessage(del, 404)).toMatch(/no geofence/);
    const post = await call(t.app, "POST", "/api/v1/geofences", "", json);
    expect(errorMessage(post, 400)).toMatch(/^body must be object/);
  });

  it("a prototype-polluting body is 400", async () => {
    const r = await call(t.app, "POST", "/api/v1/geofences", '{"__proto__":{"x":1}}', {
      "content-type": "application/json",
    });
    errorMessage(r, 400);
  });

  it("a failing store is 500 'internal error' without details", async () => {
    const broken = await startApi();
    try {
      await broken.store.close();
      const r = await call(broken.app, "GET", "/api/v1/geofences");
      expect(errorMessage(r, 500)).toBe("internal error");
      expect(r.body).not.toMatch(/at .*\.ts/);
    } finally {
      await broken.close();
    }
  });
});

// The live map's files as the hub serves them: types, caching, policy, and nothing outside them.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentSecurityPolicy, rootPage } from "./root.ts";

let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-web-"));
  fs.mkdirSync(path.join(dir, "map"));
  fs.writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>map</title>");
  fs.writeFileSync(path.join(dir, "map", "app-abc.js"), `console.log(${"1+".repeat(2000)}1);`);
  fs.writeFileSync(path.join(dir, "map", "land-1.geojson"), '{"type":"FeatureCollection"}');
  fs.writeFileSync(path.join(dir, "secret.txt"), "not served");
  app = Fastify();
  await app.register(rootPage, { styleUrl: null, webDir: dir, build: false });
});

afterAll(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the map's files", () => {
  it("serves the page uncached and hashed assets for good, with their types", async () => {
    const page = await app.inject({ url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["cache-control"]).toBe("no-cache");
    const js = await app.inject({ url: "/map/app-abc.js" });
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toMatch(/immutable/);
    const geo = await app.inject({ url: "/map/land-1.geojson" });
    expect(geo.headers["content-type"]).toBe("application/geo+json");
  });

  it("compresses text for clients that accept gzip and answers 304 to a known etag", async () => {
    const zipped = await app.inject({
      url: "/map/app-abc.js",
      headers: { "accept-encoding": "gzip" },
    });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.rawPayload.length).toBeLessThan(4000);
    const again = await app.inject({
      url: "/map/app-abc.js",
      headers: { "if-none-match": String(zipped.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
  });

  it("sends the security headers on every answer", async () => {
    for (const url of ["/", "/map/app-abc.js", "/map/config.json", "/map/missing.js"]) {
      const r = await app.inject({ url, headers: { host: "hub.example:3000" } });
      expect(r.headers["x-content-type-options"]).toBe("nosniff");
      const csp = String(r.headers["content-security-policy"]);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("connect-src 'self' ws://hub.example:3000 wss://hub.example:3000");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    }
  });

  it("serves nothing outside the built files", async () => {
    for (const url of [
      "/map/..%2Fsecret.txt",
      "/map/%2e%2e/secret.txt",
      "/map/../secret.txt",
      "/secret.txt",
    ]) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
      expect(r.body).not.toContain("not served");
    }
  });

  it("tells the page which style to use", async () => {
    const r = await app.inject({ url: "/map/config.json" });
    expect(r.json()).toEqual({ style_url: null });
  });
});

describe("with an online style", () => {
  it("writes the style's address into the page, escaped", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-web-style-"));
    fs.mkdirSync(path.join(dir, "map"));
    fs.writeFileSync(
      path.join(dir, "index.html"),
      '<head><meta name="locus-map-style" content=""></head>',
    );
    const styled = Fastify();
    try {
      const url = 'https://tiles.example/style.json?key=a&b="c"';
      await styled.register(rootPage, { styleUrl: url, webDir: dir, build: false });
      const page = await styled.inject({ url: "/" });
      expect(page.body).toContain(
        '<meta name="locus-map-style" content="https://tiles.example/style.json?key=a&#38;b=&#34;c&#34;">',
      );
      expect((await styled.inject({ url: "/map/config.json" })).json()).toEqual({ style_url: url });
    } finally {
      await styled.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("without a build", () => {
  it("serves a page that says how to build the map", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "locus-web-empty-"));
    const bare = Fastify();
    try {
      await bare.register(rootPage, { styleUrl: null, webDir: empty });
      const r = await bare.inject({ url: "/" });
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain("npm run build:web");
      expect(r.headers["content-security-policy"]).toContain("default-src 'self'");
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("contentSecurityPolicy", () => {
  it("leaves out a Host header that is not a plain host and port", () => {
    expect(contentSecurityPolicy("evil; script-src *", null)).not.toContain("evil");
    expect(contentSecurityPolicy("[::1]:3000", null)).toContain("ws://[::1]:3000");
  });

  it("lets an online style fetch from https hosts, and from its own origin over http", () => {
    expect(contentSecurityPolicy("h:1", "https://tiles.example/style.json")).toMatch(
      /connect-src 'self' ws:\/\/h:1 wss:\/\/h:1 https:;/,
    );
    expect(contentSecurityPolicy("h:1", "http://10.0.0.5:8080/style.json")).toMatch(
      /connect-src 'self' ws:\/\/h:1 wss:\/\/h:1 https: http:\/\/10\.0\.0\.5:8080;/,
    );
  });
});

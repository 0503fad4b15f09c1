// Generated requests against every REST route (CONTRACT §5) over a real SQLite store: arbitrary
// JSON bodies, query strings, path ids, content types, methods and tokens. Whatever arrives, the
// API never answers 5xx, every 4xx is the contract's error JSON, and the app keeps answering.
// fast-check prints the seed and the shrunk request of a failure; FC_SEED=<seed> replays it,
// FC_RUNS_SCALE=n runs longer.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auth,
  body,
  contentType,
  fill,
  otherMethod,
  pathId,
  queryString,
  ROUTES,
  route,
} from "./fuzz-arbitraries.ts";
import {
  allStatuses,
  checkAnswer,
  closeFuzzApi,
  fuzzApi,
  inject,
  openFuzzApi,
  type Request,
  roundTrip,
  runs,
} from "./fuzz-harness.ts";

beforeAll(openFuzzApi);
afterAll(closeFuzzApi);

describe("the REST API under generated requests", () => {
  it("answers the router's own refusals in the error shape (found by these properties)", async () => {
    // Fastify answers these before any route runs, by default with a body of its own.
    const cases: [string, number][] = [
      ["/api/v1/geofences/%zz", 400],
      ["/api/v1/vehicles/%E0%A4%A/locations", 400],
      [`/api/v1/geofences/${"x".repeat(101)}`, 414],
    ];
    for (const [url, status] of cases) {
      for (const a of ["admin", "none"] as const) {
        const response = await inject({ method: "GET", url, auth: a });
        expect(response.statusCode, url).toBe(status);
        checkAnswer({ method: "GET", url, auth: a }, response);
        expect(response.json().message.length, url).toBeLessThan(300);
      }
    }
  });

  it("answers arbitrary JSON bodies on every route without a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        body,
        contentType,
        auth,
        async ([method, template], payload, ct, a) => {
          await roundTrip({
            method,
            url: fill(template, "truck-01"),
            auth: a,
            payload,
            contentType: ct,
            known: true,
          });
        },
      ),
      runs(400),
    );
  });

  it("refuses a body over the size limit with 413 in the error shape", async () => {
    const big = `{"id":"${"x".repeat(fuzzApi().t.deps.bodyLimitBytes)}"}`;
    for (const [method, url] of [
      ["POST", "/api/v1/vehicles"],
      ["POST", "/api/v1/geofences"],
      ["PUT", `/api/v1/geofences/${fuzzApi().fenceId}`],
    ] as const) {
      const request: Request = {
        method,
        url,
        auth: "admin",
        payload: big,
        contentType: "application/json",
      };
      const response = await inject(request);
      expect(response.statusCode, url).toBe(413);
      checkAnswer(request, response);
    }
  });

  it("answers arbitrary query strings on every route without a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(route, queryString, auth, async ([method, template], query, a) => {
        const url = `${fill(template, "truck-01")}${query}`;
        const isWrite = method === "POST" || method === "PUT";
        await roundTrip({
          method,
          url,
          auth: a,
          known: true,
          ...(isWrite ? { payload: "{}", contentType: "application/json" } : {}),
        });
      }),
      runs(400),
    );
  });

  it("answers arbitrary path ids without a 5xx", async () => {
    const idRoutes = fc.constantFrom(...ROUTES.filter(([, p]) => p.includes(":id")));
    await fc.assert(
      fc.asyncProperty(
        idRoutes,
        pathId,
        queryString,
        auth,
        async ([method, template], id, query, a) => {
          // Longer parameters than the router's limit (100) are no route.
          const known = /^[A-Za-z0-9_-]{1,100}$/.test(id);
          await roundTrip({ method, url: `${fill(template, id)}${query}`, auth: a, known });
        },
      ),
      runs(400),
    );
  });

  it("answers any method on any route, with or without a body, without a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        otherMethod,
        fc.option(body, { nil: undefined }),
        fc.option(contentType, { nil: undefined }),
        auth,
        async ([routeMethod, template], method, payload, ct, a) => {
          const known = method === routeMethod || (method === "HEAD" && routeMethod === "GET");
          const request: Request = { method, url: fill(template, "truck-01"), auth: a, known };
          if (payload !== undefined) request.payload = payload;
          if (ct !== undefined) request.contentType = ct;
          await roundTrip(request);
        },
      ),
      runs(250),
    );
  });

  it("answers bodies with odd transfer headers without a 5xx", async () => {
    const extra = fc.record(
      {
        "content-length": fc.oneof(
          fc.nat({ max: 100_000 }).map(String),
          fc.constantFrom("-1", "abc", "1e3", ""),
        ),
        "content-encoding": fc.constantFrom("gzip", "br", "deflate", "identity", "x-unknown", ""),
        accept: fc.constantFrom("text/html", "application/xml", "*/*", "", "application/json;q=0"),
        "accept-charset": fc.constantFrom("utf-16", "latin1", ""),
        "x-forwarded-for": fc.constantFrom("::1", "garbage", "1.2.3.4, 5.6.7.8"),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        route,
        body,
        extra,
        auth,
        async ([method, template], payload, headers, a) => {
          await roundTrip({
            method,
            url: fill(template, "truck-01"),
            auth: a,
            payload,
            contentType: "application/json",
            headers,
            known: true,
          });
        },
      ),
      runs(200),
    );
  });

  it("reached the handlers: the generators got past the token and the parser", () => {
    // A generator that only ever met the token check or the JSON parser would test nothing.
    const got = allStatuses();
    for (const code of [200, 400, 401, 403, 404, 414, 415]) {
      expect(got.get(code) ?? 0, `${code}: ${JSON.stringify([...got])}`).toBeGreaterThan(0);
    }
  });
});

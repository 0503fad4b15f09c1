// Generated account requests over a real SQLite store: near-valid vehicle registrations, MQTT
// clients and REST tokens, and racing registrations, rotations and deletions of the same names.
// Conflicts are 409 or 404 in the error shape, never a 5xx.
// fast-check prints the seed of a failure; FC_SEED=<seed> replays it, FC_RUNS_SCALE=n runs longer.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountBody, validClient, validToken, validVehicle } from "./fuzz-arbitraries.ts";
import {
  type Auth,
  checkAnswer,
  checkPaging,
  closeFuzzApi,
  count,
  inject,
  type Method,
  openFuzzApi,
  type Request,
  roundTrip,
  runs,
  statuses,
} from "./fuzz-harness.ts";

beforeAll(openFuzzApi);
afterAll(closeFuzzApi);

describe("the account routes under generated requests", () => {
  it("answers near-valid vehicles, clients and tokens without a 5xx", async () => {
    const write = fc.oneof(
      fc.tuple(
        fc.constantFrom<[Method, string]>(
          ["POST", "/api/v1/vehicles"],
          ["POST", "/api/v1/clients"],
          ["POST", "/api/v1/tokens"],
        ),
        accountBody,
      ),
      fc.tuple(fc.constant<[Method, string]>(["POST", "/api/v1/vehicles"]), validVehicle),
      fc.tuple(fc.constant<[Method, string]>(["POST", "/api/v1/clients"]), validClient),
      fc.tuple(fc.constant<[Method, string]>(["POST", "/api/v1/tokens"]), validToken),
    );
    await fc.assert(
      fc.asyncProperty(
        write,
        fc.constantFrom<Auth>("admin", "admin", "admin", "read"),
        async ([[method, url], value], a) => {
          await roundTrip({
            method,
            url,
            auth: a,
            payload: JSON.stringify(value),
            contentType: "application/json",
            known: true,
          });
        },
      ),
      runs(250),
    );
  });

  it("answers concurrent account requests on the same names without a 5xx", async () => {
    // Racing registrations, rotations and deletions of a few names: a conflict is a 409 or 404,
    // never an unhandled constraint error.
    const names = fc.constantFrom("race-a", "race-b", "race-c");
    const op = fc.oneof(
      fc
        .tuple(fc.constant<Method>("POST"), names)
        .map(([m, n]) => ({ method: m, url: "/api/v1/vehicles", payload: { id: n } })),
      names.map((n) => ({ method: "POST" as Method, url: `/api/v1/vehicles/${n}/credentials` })),
      names.map((n) => ({ method: "DELETE" as Method, url: `/api/v1/vehicles/${n}?purge=true` })),
      names.map((n) => ({
        method: "POST" as Method,
        url: "/api/v1/clients",
        payload: { name: n, role: "events" },
      })),
      names.map((n) => ({ method: "DELETE" as Method, url: `/api/v1/clients/${n}` })),
      names.map((n) => ({
        method: "POST" as Method,
        url: "/api/v1/tokens",
        payload: { name: n, role: "read" },
      })),
      names.map((n) => ({ method: "DELETE" as Method, url: `/api/v1/tokens/${n}` })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 12 }), async (ops) => {
        const requests: Request[] = ops.map((o) => ({ ...o, auth: "admin", known: true }));
        const responses = await Promise.all(requests.map(inject));
        responses.forEach((response, i) => {
          const request = requests[i] as Request;
          count(request, response.statusCode);
          checkAnswer(request, response);
        });
        const after = await inject({
          method: "GET",
          url: "/api/v1/geofences?limit=1",
          auth: "admin",
        });
        expect(after.statusCode).toBe(200);
      }),
      runs(150),
    );
  });

  it("pages through what the properties created: every vehicle, client and token once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), async (limit) => {
        expect(await checkPaging("/api/v1/vehicles", "vehicles", "id", limit)).toBeGreaterThan(
          limit,
        );
        expect(await checkPaging("/api/v1/clients", "clients", "name", limit)).toBeGreaterThan(
          limit,
        );
        expect(await checkPaging("/api/v1/tokens", "tokens", "name", limit)).toBeGreaterThan(limit);
      }),
      runs(10),
    );
  });

  it("reached the handlers: the generators got past the token and the parser", () => {
    // A generator that only ever met the token check or the JSON parser would test nothing.
    const expected: [string, string, number[]][] = [
      ["POST", "/api/v1/vehicles", [201, 400, 403, 409]],
      ["POST", "/api/v1/clients", [201, 400, 409]],
      ["POST", "/api/v1/tokens", [201, 400, 409]],
      ["DELETE", "/api/v1/vehicles/:id", [204, 404]],
      ["DELETE", "/api/v1/clients/:id", [204, 404]],
    ];
    for (const [method, path, codes] of expected) {
      const got = statuses(method, path);
      for (const code of codes)
        expect(got.has(code), `${method} ${path} ${code}: ${[...got]}`).toBe(true);
    }
  });
});

// The harness of the API fuzz tests: an app over a real SQLite store with rows to find, requests
// sent with a chosen token, and the checks every answer must pass whatever the request.

import { buildEvent, type Fix } from "@locus/protocol";
import type fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import { polygonFeature, startApi, type TestApi, TOKEN } from "./test-support.ts";

// Seeded, so that every CI run draws what the coverage checks were seen to reach (unseeded, an
// unlucky draw can miss a case under load); FC_SEED=random draws afresh, for a longer hunt.
const SEED = process.env.FC_SEED === "random" ? undefined : Number(process.env.FC_SEED ?? 20261206);
/** FC_RUNS_SCALE=10 runs each property ten times as often, for a longer hunt. */
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);
/** Bounded so the file runs in well under a minute on a busy two-core machine. */
export function runs(numRuns: number): fc.Parameters<unknown> {
  const n = Math.max(1, Math.round(numRuns * SCALE));
  return SEED === undefined ? { numRuns: n } : { numRuns: n, seed: SEED };
}

const T0 = Date.UTC(2026, 10, 24, 20);

/** A short history for truck-01 with an enter and an exit, so list queries have rows to page. */
async function seedHistory(): Promise<void> {
  const fixes: Fix[] = Array.from({ length: 5 }, (_, i) => ({
    vehicle_id: "truck-01",
    latitude: 34.05,
    longitude: -118.24 + i * 0.01,
    ts: T0 + i * 1000,
    ts_given: true,
    seq: i,
  }));
  const last = fixes[4] as Fix;
  await ingest(t.store, fixes, () => ({
    vehicles: [
      { vehicle_id: "truck-01", state: { last_ts: last.ts, inside: new Map() }, last_fix: last },
    ],
    events: [
      buildEvent({ type: "enter", geofence_id: fenceId }, fixes[0] as Fix, "fuzz-fence", T0),
      buildEvent({ type: "exit", geofence_id: fenceId }, last, "fuzz-fence", T0 + 5000),
    ],
  }));
}

let t: TestApi;
let readToken: string;
let fenceId: string;

/** The app under test, and what openFuzzApi set up in it. */
export function fuzzApi(): { t: TestApi; fenceId: string } {
  return { t, fenceId };
}

/**
 * Starts an app on a fresh store with a read token, a geofence, and a registered vehicle
 * (truck-01) with a short history and two events, so generated requests meet real rows.
 */
export async function openFuzzApi(): Promise<void> {
  t = await startApi();
  const token = await inject({
    method: "POST",
    url: "/api/v1/tokens",
    payload: { name: "fuzz-reader-7f3c9a", role: "read" },
    auth: "admin",
  });
  expect(token.statusCode).toBe(201);
  readToken = token.json().token;
  const fence = await inject({
    method: "POST",
    url: "/api/v1/geofences",
    payload: polygonFeature("fuzz-fence"),
    auth: "admin",
  });
  expect(fence.statusCode).toBe(201);
  fenceId = fence.json().id;
  const vehicle = await inject({
    method: "POST",
    url: "/api/v1/vehicles",
    payload: { id: "truck-01" },
    auth: "admin",
  });
  expect(vehicle.statusCode).toBe(201);
  await seedHistory();
  const events = await inject({ method: "GET", url: "/api/v1/events", auth: "admin" });
  expect(events.json().events).toHaveLength(2);
}

export async function closeFuzzApi(): Promise<void> {
  await t?.close();
}

export type Auth = "admin" | "read" | "none" | "garbage" | { header: string };

export type Method = "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH";

export interface Request {
  method: Method;
  url: string;
  auth: Auth;
  payload?: string | object;
  contentType?: string;
  /** More headers, e.g. a Content-Length that does not match or an encoding nobody decodes. */
  headers?: Record<string, string>;
  /** Whether method and path name a route of this API (with a well-formed id). */
  known?: boolean;
}

/** Sends a request as `auth`: the admin token, the read token, none, or a given header. */
export function inject(request: Request): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (request.auth === "admin") headers.authorization = `Bearer ${TOKEN}`;
  if (request.auth === "read") headers.authorization = `Bearer ${readToken}`;
  if (request.auth === "garbage") headers.authorization = "Bearer not-a-token";
  if (typeof request.auth === "object") headers.authorization = request.auth.header;
  if (request.contentType !== undefined) headers["content-type"] = request.contentType;
  Object.assign(headers, request.headers);
  const options: InjectOptions = { method: request.method, url: request.url, headers };
  if (request.payload !== undefined) options.payload = request.payload;
  return t.app.inject(options);
}

const ERROR_KEYS = "error,message,statusCode";

/** The properties every answer keeps, whatever the request. */
export function checkAnswer(request: Request, response: LightMyRequestResponse): void {
  const status = response.statusCode;
  const where = `${request.method} ${request.url} → ${status} ${response.body.slice(0, 300)}`;
  expect(status, where).toBeLessThan(500);
  if (status >= 400 && request.method !== "HEAD") {
    let body: unknown;
    try {
      body = JSON.parse(response.body);
    } catch {
      throw new Error(`not JSON: ${where}`);
    }
    const b = body as Record<string, unknown>;
    expect(Object.keys(b).sort().join(","), where).toBe(ERROR_KEYS);
    expect(b.statusCode, where).toBe(status);
    expect(typeof b.error === "string" && b.error.length > 0, where).toBe(true);
    expect(typeof b.message === "string" && b.message.length >= 10, where).toBe(true);
  }
  const path = request.url.split("?")[0] ?? "";
  // The pages that hold no data load without a token (CONTRACT §5).
  const isPublic = /^\/(api\/v1\/health|openapi\.json|docs(\/.*)?)?\/?$/.test(path);
  const unauthenticated =
    request.auth === "none" || request.auth === "garbage" || typeof request.auth === "object";
  if (unauthenticated && !isPublic) {
    // A path that is no route is refused whatever the token; a route asks for the token first.
    if (request.known) expect(status, where).toBe(401);
    else expect(status, where).toBeGreaterThanOrEqual(400);
  }
  if (request.auth === "read" && !["GET", "HEAD"].includes(request.method) && !isPublic) {
    expect(status < 200 || status >= 300, where).toBe(true);
  }
}

/** How often each status was answered, by method and route: the generators must reach handlers. */
const seen = new Map<string, number>();
export function count(request: Request, status: number): void {
  const path = (request.url.split("?")[0] ?? "").replace(/^(\/api\/v1\/[a-z]+\/)[^/]+/, "$1:id");
  const key = `${request.method} ${path} ${status}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
}
/** How often each status was answered so far to `method` on `path` (ids written `:id`). */
export function statuses(method: string, path: string): Map<number, number> {
  const prefix = `${method} ${path} `;
  const counts = new Map<number, number>();
  for (const [key, n] of seen) {
    if (key.startsWith(prefix)) counts.set(Number(key.slice(prefix.length)), n);
  }
  return counts;
}

/**
 * Walks a list route page by page with `limit`, following next_cursor, and checks the walk lists
 * the items of one big page exactly once, in the same order, and then ends. Answers the count.
 */
export async function checkPaging(
  path: string,
  listKey: string,
  idKey: string,
  limit: number,
): Promise<number> {
  const all = await inject({ method: "GET", url: `${path}?limit=1000`, auth: "admin" });
  expect(all.statusCode).toBe(200);
  const ids = (all.json()[listKey] as Record<string, string>[]).map((item) => item[idKey]);
  const complete = all.json().next_cursor === undefined;
  const walked: (string | undefined)[] = [];
  let cursor: string | undefined;
  do {
    const query = cursor === undefined ? `limit=${limit}` : `limit=${limit}&cursor=${cursor}`;
    const response = await inject({ method: "GET", url: `${path}?${query}`, auth: "admin" });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    const items = body[listKey] as Record<string, string>[];
    walked.push(...items.map((item) => item[idKey]));
    cursor = body.next_cursor;
    // A page is full unless it is the last; a walk longer than the list is a loop.
    if (cursor !== undefined) expect(items.length).toBe(limit);
    else expect(items.length).toBeLessThanOrEqual(limit);
    expect(walked.length).toBeLessThanOrEqual(complete ? ids.length : 100_000);
  } while (cursor !== undefined);
  expect(walked.slice(0, ids.length)).toEqual(ids);
  if (complete) expect(walked).toHaveLength(ids.length);
  return walked.length;
}

/** How often each status was answered so far, over all routes. */
export function allStatuses(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [key, n] of seen) {
    const status = Number(key.slice(key.lastIndexOf(" ") + 1));
    counts.set(status, (counts.get(status) ?? 0) + n);
  }
  return counts;
}

/** Sends the request, checks the answer, then checks the app still lists geofences. */
export async function roundTrip(request: Request): Promise<void> {
  const response = await inject(request);
  count(request, response.statusCode);
  checkAnswer(request, response);
  const after = await inject({ method: "GET", url: "/api/v1/geofences?limit=1", auth: "admin" });
  expect(after.statusCode).toBe(200);
}

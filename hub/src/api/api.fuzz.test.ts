// Generated requests against every REST route (CONTRACT §5) over a real SQLite store: arbitrary
// JSON bodies, query strings, path ids, content types and tokens. Whatever arrives, the API never
// answers 5xx, every 4xx is the contract's error JSON, and the app keeps answering afterwards.
// fast-check prints the seed and the shrunk request of a failure; FC_SEED=<seed> replays it,
// FC_RUNS_SCALE=n runs longer.

import { buildEvent, type Fix } from "@locus/protocol";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import { polygonFeature, startApi, type TestApi, TOKEN } from "./test-support.ts";

const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
/** FC_RUNS_SCALE=10 runs each property ten times as often, for a longer hunt. */
const SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);
/** Bounded so the file runs in well under a minute on a busy two-core machine. */
function runs(numRuns: number): fc.Parameters<unknown> {
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

beforeAll(async () => {
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
});
afterAll(async () => {
  await t?.close();
});

type Auth = "admin" | "read" | "none" | "garbage" | { header: string };

interface Request {
  method: "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH";
  url: string;
  auth: Auth;
  payload?: string | object;
  contentType?: string;
  /** Whether method and path name a route of this API (with a well-formed id). */
  known?: boolean;
}

function inject(request: Request): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (request.auth === "admin") headers.authorization = `Bearer ${TOKEN}`;
  if (request.auth === "read") headers.authorization = `Bearer ${readToken}`;
  if (request.auth === "garbage") headers.authorization = "Bearer not-a-token";
  if (typeof request.auth === "object") headers.authorization = request.auth.header;
  if (request.contentType !== undefined) headers["content-type"] = request.contentType;
  const options: InjectOptions = { method: request.method, url: request.url, headers };
  if (request.payload !== undefined) options.payload = request.payload;
  return t.app.inject(options);
}

const ERROR_KEYS = "error,message,statusCode";

/** The properties every answer keeps, whatever the request. */
function checkAnswer(request: Request, response: LightMyRequestResponse): void {
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
  const isHealth = path === "/api/v1/health" || path === "/api/v1/health/";
  const unauthenticated =
    request.auth === "none" || request.auth === "garbage" || typeof request.auth === "object";
  if (unauthenticated && !isHealth) {
    // A path that is no route is refused whatever the token; a route asks for the token first.
    if (request.known) expect(status, where).toBe(401);
    else expect(status, where).toBeGreaterThanOrEqual(400);
  }
  if (request.auth === "read" && !["GET", "HEAD"].includes(request.method) && !isHealth) {
    expect(status < 200 || status >= 300, where).toBe(true);
  }
}

/** How often each status was answered, by method and route: the generators must reach handlers. */
const seen = new Map<string, number>();
function count(request: Request, status: number): void {
  const path = (request.url.split("?")[0] ?? "").replace(/^(\/api\/v1\/[a-z]+\/)[^/]+/, "$1:id");
  const key = `${request.method} ${path} ${status}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
}
function statuses(method: string, path: string): Set<number> {
  const prefix = `${method} ${path} `;
  return new Set(
    [...seen.keys()].filter((k) => k.startsWith(prefix)).map((k) => Number(k.slice(prefix.length))),
  );
}

/** Sends the request, checks the answer, then checks the app still lists geofences. */
async function roundTrip(request: Request): Promise<void> {
  const response = await inject(request);
  count(request, response.statusCode);
  checkAnswer(request, response);
  const after = await inject({ method: "GET", url: "/api/v1/geofences?limit=1", auth: "admin" });
  expect(after.statusCode).toBe(200);
}

// ---- building blocks -------------------------------------------------------------------------

/** Authorization headers that are not a known token: malformed, near misses, very long. */
const wrongAuthorization = fc
  .oneof(
    fc.constantFrom(
      "Bearer",
      "Bearer ",
      "bearer",
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer  ${TOKEN} extra`,
      `Basic ${Buffer.from(`admin:${TOKEN}`).toString("base64")}`,
      `Token ${TOKEN}`,
      TOKEN,
    ),
    fc
      .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) })
      .map((x) => `Bearer ${x}`),
    fc.nat({ max: 20_000 }).map((n) => `Bearer ${"t".repeat(n)}`),
  )
  .map((header) => ({ header }));
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<Auth>("admin", "admin", "read", "none", "garbage") },
  { weight: 1, arbitrary: wrongAuthorization },
);

/** encodeURIComponent, with lone surrogates (which it refuses) sent as invalid UTF-8. */
function encode(text: string): string {
  return text
    .split(/([\ud800-\udfff])/u)
    .map((part, i) => (i % 2 === 1 ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");
}

/** Strings that tend to break things: unicode, control characters, very long, number-like. */
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-0",
    "0x10",
    "null",
    "undefined",
    "true",
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "hasOwnProperty",
    "..",
    "../..",
    "%00",
    "\u0000",
    "\ud800",
    "truck-01",
    "2026-11-24T20:00:00Z",
    "2026-13-45T25:61:61Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
  ),
  fc.nat({ max: 20_000 }).map((n) => "x".repeat(n)),
);

const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  -(2 ** 63),
  2 ** 64,
  5e-324,
  -0,
  0.1 + 0.2,
);

/** JSON text that JSON.stringify would never write: big exponents, deep nesting, duplicates. */
const rawJsonText = fc.oneof(
  fc.constantFrom(
    "1e400",
    "-1e400",
    "[1e400, -1e400]",
    '{"id": 1e400}',
    '{"limit": 1e999}',
    "123456789012345678901234567890",
    '{"a":1,"a":2}',
    '{"__proto__": {"admin": true}}',
    '{"constructor": {"prototype": {"admin": true}}}',
    '{"id":"truck-02","__proto__":{"x":1}}',
    '{"name":"n","role":"read","__proto__":null}',
    "[]",
    "{}",
    "null",
    '""',
    "0",
    "\ufeff{}",
    "{",
    '{"a":',
    "[1,]",
    "NaN",
    "Infinity",
    "'single'",
    '{"name":"\\ud800"}',
    '{"id":"\\u0000"}',
  ),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`),
  fc.integer({ min: 1, max: 20_000 }).map((n) => "[".repeat(n)),
);

/** Arbitrary JSON values, with the keys and values the routes look at mixed in. */
const KEYS = [
  "id",
  "name",
  "role",
  "type",
  "geometry",
  "properties",
  "coordinates",
  "radius_m",
  "width_m",
  "__proto__",
  "constructor",
  "prototype",
];
const jsonBody: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(null, true, false),
    fc.double(),
    hugeNumber,
    nastyString,
    fc.array(tie("value"), { maxLength: 5 }),
    tie("object"),
  ),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), tie("value"), {
    maxKeys: 6,
  }),
})).value;

/** A body as sent: a value JSON-encoded by us, or raw text. */
const body = fc.oneof(
  { weight: 3, arbitrary: jsonBody.map((v) => JSON.stringify(v) ?? "null") },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: rawJsonText },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "application/geo+json",
      "application/json; charset=utf-8",
      "application/json; charset=utf-16",
      "application/json;;;",
      "APPLICATION/JSON",
      "text/plain",
      "text/html",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/gpx+xml",
      "application/octet-stream",
      "",
      ";",
      "*/*",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

/** A path segment as a client might send it: encoded, raw, or malformed percent-encoding. */
const pathId = fc.oneof(
  nastyString.map(encode),
  fc.constantFrom(
    "truck-01",
    "..",
    "%2e%2e",
    "a%2Fb",
    "a/b",
    "%",
    "%zz",
    "%E0%A4%A",
    "%C0%AF",
    "%00",
    "%ff",
    "a%20b",
    "-",
    "_",
    ".",
  ),
  fc.nat({ max: 10_000 }).map((n) => "a".repeat(n)),
);

const QUERY_KEYS = [
  "limit",
  "cursor",
  "from",
  "to",
  "vehicle_id",
  "geofence_id",
  "type",
  "purge",
  "limit[]",
  "cursor[0]",
];
const queryValue = fc.oneof(
  nastyString.map(encode),
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1",
    "1000",
    "1001",
    "10000",
    "10001",
    "1.5",
    "1e3",
    "0x10",
    "99999999999999999999",
    "true",
    "false",
    "TRUE",
    "enter",
    "exit",
    "%",
    "%zz",
    "%E0%A4%A",
    "%FF%FE",
    "abc%",
    "dHJ1Y2stMDE",
    "dHJ1Y2stMDE=",
    "____",
    "2026-11-24T20:00:00Z",
    "2026-11-24T20:00:00%2B01:00",
    "2026-11-24T20:00:00+01:00",
  ),
);
const queryPair = fc.oneof(
  fc.tuple(fc.constantFrom(...QUERY_KEYS), queryValue).map(([k, v]) => `${k}=${v}`),
  fc.constantFrom(...QUERY_KEYS),
  fc.tuple(fc.string({ maxLength: 8 }).map(encode), queryValue).map(([k, v]) => `${k}=${v}`),
  fc.constantFrom("=", "&", "==", "%=%", "__proto__=1", "constructor[prototype][x]=1"),
);
const queryString = fc
  .array(queryPair, { maxLength: 6 })
  .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.join("&")}`));

/** Stands for a number JSON.stringify cannot write; `jsonText` writes it as 1e999 (Infinity). */
const HUGE = "\u0000huge";
function jsonText(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replaceAll(JSON.stringify(HUGE), "1e999");
}

const number = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -200, max: 200, noNaN: true }) },
  { weight: 1, arbitrary: hugeNumber },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(HUGE, "1", null, true, [], {}, "NaN") },
);
const position = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(number, number) },
  { weight: 1, arbitrary: fc.array(number, { maxLength: 4 }) },
  { weight: 1, arbitrary: jsonBody },
);
/** A counter-clockwise square somewhere on the map: a ring that is fine. */
const square = fc
  .tuple(
    fc.double({ min: -179, max: 179, noNaN: true }),
    fc.double({ min: -89, max: 89, noNaN: true }),
  )
  .map(([lon, lat]) => [
    [lon, lat],
    [lon + 0.5, lat],
    [lon + 0.5, lat + 0.5],
    [lon, lat + 0.5],
    [lon, lat],
  ]);
/** Rings: random positions (often crossing themselves), closed or not, and squares. */
const ring = fc.oneof(
  fc
    .tuple(fc.array(position, { maxLength: 8 }), fc.boolean())
    .map(([ps, close]) => (close && ps.length > 0 ? [...ps, ps[0]] : ps)),
  square,
);
const polygonCoords = fc.array(ring, { maxLength: 3 });
const geometry = fc.oneof(
  polygonCoords.map((coordinates) => ({ type: "Polygon", coordinates })),
  fc
    .array(polygonCoords, { maxLength: 3 })
    .map((coordinates) => ({ type: "MultiPolygon", coordinates })),
  fc
    .tuple(fc.constantFrom("Point", "LineString", "GeometryCollection", "polygon", ""), jsonBody)
    .map(([type, coordinates]) => ({ type, coordinates })),
  jsonBody,
);
const geofenceProperties = fc.record(
  {
    name: fc.oneof(nastyString, jsonBody),
    radius_m: number,
    width_m: number,
    hysteresis_m: number,
    max_accuracy_m: number,
    dwell_s: number,
    created_at: nastyString,
    extra: jsonBody,
  },
  { requiredKeys: [] },
);
/**
 * Rings on a small grid: repeated points, collinear runs, touching and crossing edges, spikes and
 * holes that share edges with their shell are common here, as they never are with random doubles.
 */
const gridPosition = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(-180, 180, 179.999999, 0),
      fc.constantFrom(-90, 90, 0, 1e-300),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer(),
    ),
  },
);
const gridRing = fc
  .tuple(fc.array(gridPosition, { minLength: 0, maxLength: 10 }), fc.nat({ max: 9 }))
  .map(([ps, open]) => (open === 0 || ps.length === 0 ? ps : [...ps, ps[0]]));
const gridGeofence = fc
  .tuple(
    fc.array(fc.array(gridRing, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([polygons, multi]) => ({
    type: "Feature",
    geometry: multi
      ? { type: "MultiPolygon", coordinates: polygons }
      : { type: "Polygon", coordinates: polygons[0] },
    properties: { name: "grid" },
  }));

type Ring = number[][];
function orient(a: number[], b: number[], c: number[]): number {
  const v =
    ((b[0] as number) - (a[0] as number)) * ((c[1] as number) - (a[1] as number)) -
    ((b[1] as number) - (a[1] as number)) * ((c[0] as number) - (a[0] as number));
  return Math.sign(v);
}
/** Whether two segments cross at a point inside both (not merely touch). */
function properlyCross(a: number[], b: number[], c: number[], d: number[]): boolean {
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  return o1 * o2 < 0 && o3 * o4 < 0;
}
/** The first problem with an accepted ring by CONTRACT §5, or null. */
function ringProblem(ring: Ring): string | null {
  if (ring.length < 4) return "fewer than 4 positions";
  if (JSON.stringify(ring[0]) !== JSON.stringify(ring[ring.length - 1])) return "not closed";
  const n = ring.length - 1;
  for (let i = 0; i < n; i++) {
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue; // neighbours across the closing point
      if (
        properlyCross(
          ring[i] as number[],
          ring[i + 1] as number[],
          ring[j] as number[],
          ring[j + 1] as number[],
        )
      ) {
        return `edges ${i} and ${j} cross`;
      }
    }
  }
  return null;
}
/** Whether `p` is inside or on `ring` (even-odd, boundary included). */
function covers(ring: Ring, p: number[]): boolean {
  const [x, y] = p as [number, number];
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    if (
      orient([xj, yj], [xi, yi], [x, y]) === 0 &&
      Math.min(xi, xj) <= x &&
      x <= Math.max(xi, xj) &&
      Math.min(yi, yj) <= y &&
      y <= Math.max(yi, yj)
    ) {
      return true;
    }
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
/** The first problem with an accepted geometry, checked independently of the hub's code. */
function geometryProblem(geometry: { type: string; coordinates: unknown }): string | null {
  const polygons = (
    geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates
  ) as Ring[][];
  for (const [p, rings] of polygons.entries()) {
    for (const [r, ring] of rings.entries()) {
      const problem = ringProblem(ring);
      if (problem !== null) return `polygon ${p} ring ${r}: ${problem}`;
      if (r > 0 && !ring.every((pt) => covers(rings[0] as Ring, pt))) {
        return `polygon ${p} hole ${r} is outside its shell`;
      }
    }
  }
  return null;
}

/** Geofences the API should store: a square, a name, and settings within their ranges. */
const validGeofence = fc.record({
  type: fc.constant("Feature"),
  geometry: square.map((r) => ({ type: "Polygon", coordinates: [r] })),
  properties: fc.record(
    {
      name: fc.string({ minLength: 1, maxLength: 200 }),
      hysteresis_m: fc.double({ min: 0, max: 100, noNaN: true }),
      dwell_s: fc.integer({ min: 1, max: 3600 }),
      note: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ["name"] },
  ),
});
/** GeoJSON Features that are almost right: the bodies that reach the geometry checks. */
const nearGeofence = fc
  .record(
    {
      type: fc.oneof(fc.constant("Feature"), nastyString),
      geometry,
      properties: fc.oneof({ weight: 5, arbitrary: geofenceProperties }, jsonBody),
      id: nastyString,
    },
    { requiredKeys: ["geometry", "properties"] },
  )
  .map((f) => ({ type: "Feature", ...f }));
const geofenceBody = fc.oneof(validGeofence, nearGeofence);

const accountName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const roleValue = fc.oneof(
  fc.constantFrom("events", "observer", "admin", "read", "ADMIN", ""),
  jsonBody,
);
const accountBody = fc.record(
  {
    id: fc.oneof(accountName, nastyString, jsonBody),
    name: fc.oneof(accountName, nastyString, jsonBody),
    role: roleValue,
    extra: jsonBody,
  },
  { requiredKeys: [] },
);

const validVehicle = fc.record(
  { id: accountName, name: fc.string({ minLength: 1, maxLength: 200 }) },
  { requiredKeys: ["id"] },
);
const validClient = fc.record({ name: accountName, role: fc.constantFrom("events", "observer") });
const validToken = fc.record({ name: accountName, role: fc.constantFrom("admin", "read") });

// ---- routes ----------------------------------------------------------------------------------

type Method = Request["method"];
/** The routes of CONTRACT §5 this hub serves; `:id` is filled with a generated segment. */
const ROUTES: [Method, string][] = [
  ["GET", "/api/v1/geofences"],
  ["POST", "/api/v1/geofences"],
  ["GET", "/api/v1/geofences/:id"],
  ["PUT", "/api/v1/geofences/:id"],
  ["DELETE", "/api/v1/geofences/:id"],
  ["GET", "/api/v1/vehicles"],
  ["POST", "/api/v1/vehicles"],
  ["GET", "/api/v1/vehicles/:id"],
  ["GET", "/api/v1/vehicles/:id/locations"],
  ["POST", "/api/v1/vehicles/:id/credentials"],
  ["DELETE", "/api/v1/vehicles/:id"],
  ["GET", "/api/v1/events"],
  ["GET", "/api/v1/clients"],
  ["POST", "/api/v1/clients"],
  ["DELETE", "/api/v1/clients/:id"],
  ["GET", "/api/v1/tokens"],
  ["POST", "/api/v1/tokens"],
  ["DELETE", "/api/v1/tokens/:id"],
  ["GET", "/api/v1/health"],
  ["GET", "/metrics"],
];
const route = fc.constantFrom(...ROUTES);
const otherMethod = fc.constantFrom<Method>("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH");

function fill(template: string, id: string): string {
  return template.replace(":id", id);
}

// ---- properties ------------------------------------------------------------------------------

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
    const big = `{"id":"${"x".repeat(t.deps.bodyLimitBytes)}"}`;
    for (const [method, url] of [
      ["POST", "/api/v1/vehicles"],
      ["POST", "/api/v1/geofences"],
      ["PUT", `/api/v1/geofences/${fenceId}`],
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

  it("answers near-valid geofences, vehicles, clients and tokens without a 5xx", async () => {
    const write = fc.oneof(
      fc.tuple(
        fc.constantFrom<[Method, string]>(
          ["POST", "/api/v1/geofences"],
          ["PUT", "/api/v1/geofences/:id"],
        ),
        geofenceBody,
      ),
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
        async ([[method, template], value], a) => {
          await roundTrip({
            method,
            url: fill(template, fenceId),
            auth: a,
            payload: jsonText(value),
            contentType: "application/json",
            known: true,
          });
        },
      ),
      runs(400),
    );
  });

  it("judges degenerate geometry on a grid with a 201 or a 400, and stores what it accepts", async () => {
    await fc.assert(
      fc.asyncProperty(gridGeofence, fc.boolean(), async (feature, put) => {
        const request: Request = {
          method: put ? "PUT" : "POST",
          url: put ? `/api/v1/geofences/${fenceId}` : "/api/v1/geofences",
          auth: "admin",
          payload: feature,
          known: true,
        };
        const response = await inject(request);
        count(request, response.statusCode);
        checkAnswer(request, response);
        expect([200, 201, 400], response.body).toContain(response.statusCode);
        if (response.statusCode < 300) {
          const id = response.json().id as string;
          const again = await inject({
            method: "GET",
            url: `/api/v1/geofences/${id}`,
            auth: "admin",
          });
          expect(again.statusCode).toBe(200);
          expect(again.json().geometry).toEqual(response.json().geometry);
          expect(t.fences.has(id)).toBe(true);
          // What the hub accepted, sent back, is a geometry CONTRACT §5 allows.
          expect(
            geometryProblem(response.json().geometry),
            JSON.stringify(feature.geometry),
          ).toBeNull();
        }
      }),
      runs(300),
    );
    // Both outcomes occurred: the grid reaches the checks and gets past them.
    expect(statuses("POST", "/api/v1/geofences").has(201)).toBe(true);
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

  it("answers concurrent changes to one geofence without a 5xx", async () => {
    const op = fc.constantFrom<Method>("GET", "PUT", "PUT", "DELETE");
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 10 }), async (methods) => {
        const created = await inject({
          method: "POST",
          url: "/api/v1/geofences",
          auth: "admin",
          payload: polygonFeature("race"),
        });
        expect(created.statusCode).toBe(201);
        const url = `/api/v1/geofences/${created.json().id}`;
        const requests: Request[] = methods.map((method) => ({
          method,
          url,
          auth: "admin",
          known: true,
          ...(method === "PUT" ? { payload: polygonFeature("race-2") } : {}),
        }));
        const responses = await Promise.all(requests.map(inject));
        responses.forEach((response, i) => {
          const request = requests[i] as Request;
          checkAnswer(request, response);
          expect([200, 204, 404], response.body).toContain(response.statusCode);
        });
        // Deleted means gone for good: no PUT brings it back, and the engine does not know it.
        const deleted = responses.some(
          (r, i) => requests[i]?.method === "DELETE" && r.statusCode === 204,
        );
        const after = await inject({ method: "GET", url, auth: "admin" });
        if (deleted) {
          expect(after.statusCode).toBe(404);
          expect(t.fences.has(created.json().id)).toBe(false);
        } else {
          expect(after.statusCode).toBe(200);
        }
      }),
      runs(100),
    );
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

  it("reached the handlers: successes and refusals of several kinds on the write routes", () => {
    // A generator that only ever met the token check or the JSON parser would test nothing.
    for (const [method, path] of [
      ["POST", "/api/v1/geofences"],
      ["POST", "/api/v1/vehicles"],
      ["POST", "/api/v1/tokens"],
      ["POST", "/api/v1/clients"],
      ["GET", "/api/v1/events"],
    ] as const) {
      const got = statuses(method, path);
      expect(
        [...got].some((s) => s >= 200 && s < 300),
        `${method} ${path}: ${[...got]}`,
      ).toBe(true);
      expect(got.has(400), `${method} ${path}: ${[...got]}`).toBe(true);
      expect(got.has(401), `${method} ${path}: ${[...got]}`).toBe(true);
    }
    // The races met each other.
    expect(statuses("POST", "/api/v1/vehicles").has(409)).toBe(true);
    expect(statuses("DELETE", "/api/v1/vehicles/:id").has(404)).toBe(true);
  });
});

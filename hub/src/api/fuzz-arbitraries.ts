// Generators of hostile requests for the API fuzz tests: tokens, strings, JSON bodies, content
// types, path segments, query strings, account bodies, and the routes of CONTRACT §5.

import fc from "fast-check";
import type { Auth, Method } from "./fuzz-harness.ts";
import { TOKEN } from "./test-support.ts";

/** Authorization headers that are not a known token: malformed, near misses, very long. */
export const wrongAuthorization = fc
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
export const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<Auth>("admin", "admin", "read", "none", "garbage") },
  { weight: 1, arbitrary: wrongAuthorization },
);

/** encodeURIComponent, with lone surrogates (which it refuses) sent as invalid UTF-8. */
export function encode(text: string): string {
  return text
    .split(/([\ud800-\udfff])/u)
    .map((part, i) => (i % 2 === 1 ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");
}

/** Strings that tend to break things: unicode, control characters, very long, number-like. */
export const nastyString = fc.oneof(
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

export const hugeNumber = fc.constantFrom(
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
export const jsonBody: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
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
export const body = fc.oneof(
  { weight: 3, arbitrary: jsonBody.map((v) => JSON.stringify(v) ?? "null") },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: rawJsonText },
);

export const contentType = fc.oneof(
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
export const pathId = fc.oneof(
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
export const queryString = fc
  .array(queryPair, { maxLength: 6 })
  .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.join("&")}`));

/** Stands for a number JSON.stringify cannot write; `jsonText` writes it as 1e999 (Infinity). */
export const HUGE = "\u0000huge";
export function jsonText(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replaceAll(JSON.stringify(HUGE), "1e999");
}

export const accountName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const roleValue = fc.oneof(
  fc.constantFrom("events", "observer", "admin", "read", "ADMIN", ""),
  jsonBody,
);
export const accountBody = fc.record(
  {
    id: fc.oneof(accountName, nastyString, jsonBody),
    name: fc.oneof(accountName, nastyString, jsonBody),
    role: roleValue,
    extra: jsonBody,
  },
  { requiredKeys: [] },
);

export const validVehicle = fc.record(
  { id: accountName, name: fc.string({ minLength: 1, maxLength: 200 }) },
  { requiredKeys: ["id"] },
);
export const validClient = fc.record({
  name: accountName,
  role: fc.constantFrom("events", "observer"),
});
export const validToken = fc.record({ name: accountName, role: fc.constantFrom("admin", "read") });

/** The routes of CONTRACT §5 this hub serves; `:id` is filled with a generated segment. */
export const ROUTES: [Method, string][] = [
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
  ["GET", "/"],
  ["GET", "/openapi.json"],
  ["GET", "/docs"],
];
export const route = fc.constantFrom(...ROUTES);
export const otherMethod = fc.constantFrom<Method>("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH");

export function fill(template: string, id: string): string {
  return template.replace(":id", id);
}

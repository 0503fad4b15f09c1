// Test support: fast-check arbitraries read from the protocol's TypeBox schemas, so the property
// tests that hold the decoders to the schemas generate what the spec says, and follow it when it
// changes. Covers the JSON Schema subset the protocol's schemas use.
import fc from "fast-check";
import type { TSchema } from "typebox";
import Value from "typebox/value";
import { MAX_TS_MS, MIN_TS_MS } from "./time.ts";

/** Arbitraries to use instead of the schema's for the named object properties. */
export type Overrides = Record<string, fc.Arbitrary<unknown>>;

/** Longest array generated; a schema's maxItems above this is tried by hand-made cases instead. */
const MAX_GENERATED_ITEMS = 8;

type Node = Record<string, unknown>;

/** Values `schema` accepts. */
export function validValue(schema: TSchema, overrides: Overrides = {}): fc.Arbitrary<unknown> {
  return fromNode(schema as unknown as Node, overrides);
}

function fromNode(node: Node, overrides: Overrides): fc.Arbitrary<unknown> {
  const arb = fromKeywords(node, overrides);
  // A refinement is code, not a keyword: generate from the keywords, keep what it accepts.
  return "~refine" in node ? arb.filter((v) => Value.Check(node as unknown as TSchema, v)) : arb;
}

function fromKeywords(node: Node, overrides: Overrides): fc.Arbitrary<unknown> {
  if (Array.isArray(node.anyOf)) {
    return fc.oneof(...(node.anyOf as Node[]).map((n) => fromNode(n, overrides)));
  }
  if ("const" in node) return fc.constant(node.const);
  switch (node.type) {
    case "null":
      return fc.constant(null);
    case "number":
      return number(node);
    case "integer":
      return integer(node);
    case "string":
      return string(node);
    case "array":
      return array(node, overrides);
    case "object":
      return object(node, overrides);
    default:
      throw new Error(`no arbitrary for schema ${JSON.stringify(node)}`);
  }
}

function number(node: Node): fc.Arbitrary<number> {
  const min = (node.minimum as number | undefined) ?? -Number.MAX_VALUE;
  const max = (node.maximum as number | undefined) ?? Number.MAX_VALUE;
  // The bounds themselves are where a decoder's < and <= differ.
  return fc.oneof(
    fc.double({ min, max, noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(min, max),
  );
}

function integer(node: Node): fc.Arbitrary<number> {
  const min = (node.minimum as number | undefined) ?? Number.MIN_SAFE_INTEGER;
  const max = (node.maximum as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
}

function string(node: Node): fc.Arbitrary<string> {
  if (node.format === "date-time") return rfc3339();
  if (typeof node.pattern === "string") return fc.stringMatching(new RegExp(node.pattern));
  return fc.string({ maxLength: 40 });
}

function array(node: Node, overrides: Overrides): fc.Arbitrary<unknown[]> {
  const minLength = (node.minItems as number | undefined) ?? 0;
  const maxLength = Math.min(
    (node.maxItems as number | undefined) ?? Infinity,
    MAX_GENERATED_ITEMS,
  );
  return fc.array(fromNode(node.items as Node, overrides), { minLength, maxLength });
}

// Unknown fields are part of a valid payload unless the schema forbids them.
const unknownField = fc.string({ maxLength: 8 });

function object(node: Node, overrides: Overrides): fc.Arbitrary<Record<string, unknown>> {
  const properties = node.properties as Record<string, Node>;
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, sub] of Object.entries(properties)) {
    record[name] = overrides[name] ?? fromNode(sub, overrides);
  }
  const known = fc.record(record, { requiredKeys: (node.required as string[] | undefined) ?? [] });
  if (node.additionalProperties === false) return known;
  const extra = fc.dictionary(
    unknownField.filter((k) => !(k in properties)),
    fc.jsonValue({ maxDepth: 1 }),
    { maxKeys: 2 },
  );
  return fc.tuple(extra, known).map(([e, k]) => ({ ...e, ...k }));
}

// Leap seconds as RFC 3339 writes them: the last second of a UTC day, in any offset.
const LEAP_SECONDS = [
  "2016-12-31T23:59:60Z",
  "2016-12-31T23:59:60.5Z",
  "2017-01-01T00:59:60+01:00",
  "2016-12-31t18:59:60-05:00",
];

/**
 * RFC 3339 date-times in the forms a device may write: any offset, `t`/`z` in either case, no
 * fraction or any number of fraction digits; around MIN_TS_MS..MAX_TS_MS, a little past both.
 */
export function rfc3339(): fc.Arbitrary<string> {
  const instant = fc.oneof(
    fc.integer({ min: MIN_TS_MS, max: MAX_TS_MS }),
    fc.integer({ min: MIN_TS_MS - 86_400_000, max: MIN_TS_MS + 86_400_000 }),
    fc.integer({ min: MAX_TS_MS - 86_400_000, max: MAX_TS_MS }),
  );
  const offsetMinutes = fc.oneof(
    fc.constant(0),
    fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
  );
  const written = fc
    .record({
      ms: instant,
      offset: offsetMinutes,
      zulu: fc.boolean(),
      lower: fc.boolean(),
      withFraction: fc.boolean(),
      extraDigits: fc.stringMatching(/^[0-9]{0,9}$/),
    })
    .map(({ ms, offset, zulu, lower, withFraction, extraDigits }) => {
      const off = zulu ? 0 : offset;
      const local = new Date(ms + off * 60_000).toISOString(); // "YYYY-MM-DDTHH:MM:SS.mmmZ"
      if (!/^\d{4}-/.test(local)) return local; // years beyond 0..9999: no RFC 3339 form
      const frac = withFraction ? `.${local.slice(20, 23)}${extraDigits}` : "";
      let zone = "Z";
      if (!zulu) {
        const a = Math.abs(off);
        const hh = String(Math.floor(a / 60)).padStart(2, "0");
        const mm = String(a % 60).padStart(2, "0");
        zone = `${off < 0 ? "-" : "+"}${hh}:${mm}`;
      }
      const text = `${local.slice(0, 19)}${frac}${zone}`;
      return lower ? text.replace("T", "t").replace("Z", "z") : text;
    });
  return fc.oneof({ weight: 9, arbitrary: written }, fc.constantFrom(...LEAP_SECONDS));
}

/** `text` with one character deleted, replaced or inserted: the near misses a parser gets wrong. */
function nearMiss(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const ch = fc.constantFrom(..."0123456789-:.+TtZz []/\u00a0\u0660");
  return fc
    .tuple(text, fc.nat(), fc.constantFrom("delete", "replace", "insert"), ch)
    .map(([s, at, edit, c]) => {
      const i = at % (s.length + 1);
      if (edit === "delete") return s.slice(0, i) + s.slice(i + 1);
      if (edit === "replace") return s.slice(0, i) + c + s.slice(i + 1);
      return s.slice(0, i) + c + s.slice(i);
    });
}

/** Stands for Infinity in a value to stringify; `toJsonText` writes it as 1e999. */
export const INFINITY = "\u0000+inf";
/** Stands for -Infinity, written as -1e999. */
export const NEG_INFINITY = "\u0000-inf";

/** JSON text of `value`, with the infinity stand-ins written as numbers that parse to ±Infinity. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll(JSON.stringify(INFINITY), "1e999")
    .replaceAll(JSON.stringify(NEG_INFINITY), "-1e999");
}

/**
 * Values a field of a protocol payload might wrongly carry: other JSON types, numbers at and just
 * past the bounds the schemas use, and times that are almost RFC 3339 or just out of range.
 */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom(null, true, false, "", "1", [], {}, [1], { a: 1 }, INFINITY, NEG_INFINITY),
  fc.constantFrom(-0, 0, 1.5, -1, -1e-300, 2 ** 53, 2 ** 53 - 1, 1e308, -1e308),
  fc
    .constantFrom(-90, 90, -180, 180, 360)
    .chain((b) => fc.constantFrom(b, b + 1e-9, b - 1e-9, b * (1 + Number.EPSILON))),
  fc.constantFrom(MIN_TS_MS - 1, MAX_TS_MS, MAX_TS_MS + 1, 1.5e15),
  nearMiss(rfc3339()),
  rfc3339().map((s) => `${s}[Europe/Paris]`),
  fc.constantFrom(
    "2026-11-24",
    "2026-11-24T20:00:01",
    "2026-11-24 20:00:01Z",
    "2026-02-29T00:00:00Z",
    "2026-11-24T24:00:00Z",
    "2026-11-24T20:00:60Z",
    "1970-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59-00:01",
    "0000-01-01T00:00:00Z",
    "+002026-11-24T20:00:01Z",
    "2026-11-24T20:00:01.Z",
    "2026-11-24T20:00:01Z[u-ca=iso8601]",
  ),
  fc.stringMatching(/^[A-Za-z0-9_.-]{0,66}$/),
);

/**
 * Objects from `valid` with one to three fields taken out or given a wrong value; `fields` are
 * the names worth touching (unknown names are tried too).
 */
export function mutated(
  valid: fc.Arbitrary<unknown>,
  fields: readonly string[],
): fc.Arbitrary<Record<string, unknown>> {
  const edit = fc.record({
    field: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...fields) }, unknownField),
    value: fc.option(wrongValue, { freq: 5, nil: undefined }), // undefined: take the field out
  });
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([v, edits]) => {
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    for (const { field, value } of edits) {
      if (value === undefined) delete o[field];
      else
        Object.defineProperty(o, field, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return o;
  });
}

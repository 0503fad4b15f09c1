// Worker thread entry: parses a big geofence request body and validates its geometry off the main
// thread, so a 100,000-vertex geofence does not hold up ingestion while it is read and checked.

import { parentPort } from "node:worker_threads";
import secureJson from "secure-json-parse";
import { Value } from "typebox/value";
import { GeometrySchema } from "../api/schemas.ts";
import { flattenPolygons } from "./flat-polygons.ts";
import type { GeometryJob, GeometryJobResult } from "./geometry-pool.ts";
import { validateGeometry } from "./validate.ts";
import { isShapeGeometry } from "./validate-shape.ts";

/** As fastify's own JSON parser: `__proto__` and `constructor.prototype` keys are refused. */
const PARSE_OPTIONS = { protoAction: "error", constructorAction: "error" } as const;

/** The smallest closed ring the schema takes, standing in for the checked coordinates. */
const RING = [
  [0, 0],
  [0, 0],
  [0, 0],
  [0, 0],
];

/**
 * Replaces the objects and arrays nested deeper than `keep` levels (the body counting as 1) by
 * `{}`: nothing reads so deep but a depth bound, which still finds an object there, and the
 * structured clone that carries the body back recurses. Walks without recursion.
 */
function cutDeeperThan(body: object, keep: number): void {
  const stack: { value: object; depth: number }[] = [{ value: body, depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const container = top.value as Record<string, unknown>;
    for (const [key, child] of Object.entries(container)) {
      if (typeof child !== "object" || child === null) continue;
      if (top.depth + 1 > keep) container[key] = {};
      else stack.push({ value: child, depth: top.depth + 1 });
    }
  }
}

function run(job: GeometryJob): { result: GeometryJobResult; transfer: ArrayBuffer[] } {
  const { id } = job;
  let body: unknown;
  try {
    body = secureJson.parse(job.text, null, PARSE_OPTIONS);
  } catch {
    return { result: { id, kind: "unparsable" }, transfer: [] };
  }
  try {
    // Not a Feature at all: the main thread parses it and the schema says what is wrong.
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return { result: { id, kind: "checked" }, transfer: [] };
    }
    if (!("geometry" in body)) {
      cutDeeperThan(body, job.keepDepth);
      return { result: { id, kind: "checked", body }, transfer: [] };
    }
    const sent = body.geometry;
    // A circle or a corridor is checked on the main thread (in linear time): it parses the text.
    if (isShapeGeometry(sent)) return { result: { id, kind: "checked" }, transfer: [] };
    const check = validateGeometry(sent, { maxVertices: job.maxVertices });
    if (!check.ok) return { result: { id, kind: "invalid", problem: check.problem }, transfer: [] };
    const flat = flattenPolygons(check.polygons);
    const geometry = {
      flat,
      vertexCount: check.vertexCount,
      // Produced here so that neither the store nor the answer stringifies the geometry again.
      polygonsJson: JSON.stringify(check.polygons),
    };
    const transfer = [flat.coords.buffer, flat.ringEnds.buffer, flat.polygonEnds.buffer];
    // The route's schema judges the rest of the Feature on the main thread; its geometry part is
    // judged here, and a geometry it would refuse (validateGeometry lets no such one through
    // today) is left for the main thread to parse and judge as sent.
    if (!Value.Check(GeometrySchema, sent)) {
      return { result: { id, kind: "checked", geometry }, transfer: transfer as ArrayBuffer[] };
    }
    const { coordinates: _, ...others } = sent as { coordinates: unknown; type: string };
    const standIn = { ...others, coordinates: others.type === "Polygon" ? [RING] : [[RING]] };
    const rest: Record<string, unknown> = { ...body, geometry: standIn };
    cutDeeperThan(rest, job.keepDepth);
    return {
      result: { id, kind: "checked", body: rest, geometry },
      transfer: transfer as ArrayBuffer[],
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { result: { id, kind: "failed", message }, transfer: [] };
  }
}

const port = parentPort;
if (port === null) throw new Error("geometry-worker.ts runs as a worker thread only");
port.on("message", (job: GeometryJob) => {
  const { result, transfer } = run(job);
  port.postMessage(result, transfer);
});

// Worker thread entry: validates the geometry of a geofence request body off the main thread,
// so a 100,000-vertex geofence does not hold up ingestion while it is checked.

import { parentPort } from "node:worker_threads";
import { flattenPolygons } from "./flat-polygons.ts";
import type { GeometryJob, GeometryJobResult } from "./geometry-pool.ts";
import { validateGeometry } from "./validate.ts";

function run(job: GeometryJob): { result: GeometryJobResult; transfer: ArrayBuffer[] } {
  try {
    // The main thread has parsed the same text already: it is known to be JSON with a geometry.
    const body = JSON.parse(job.text) as { geometry?: unknown };
    const check = validateGeometry(body.geometry, { maxVertices: job.maxVertices });
    if (!check.ok)
      return { result: { id: job.id, kind: "invalid", problem: check.problem }, transfer: [] };
    const flat = flattenPolygons(check.polygons);
    const result: GeometryJobResult = {
      id: job.id,
      kind: "valid",
      flat,
      vertexCount: check.vertexCount,
      // Produced here so that neither the store nor the answer stringifies the geometry again.
      polygonsJson: JSON.stringify(check.polygons),
    };
    const transfer = [flat.coords.buffer, flat.ringEnds.buffer, flat.polygonEnds.buffer];
    return { result, transfer: transfer as ArrayBuffer[] };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { result: { id: job.id, kind: "failed", message }, transfer: [] };
  }
}

const port = parentPort;
if (port === null) throw new Error("geometry-worker.ts runs as a worker thread only");
port.on("message", (job: GeometryJob) => {
  const { result, transfer } = run(job);
  port.postMessage(result, transfer);
});

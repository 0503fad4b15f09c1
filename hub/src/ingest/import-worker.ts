// The worker thread that reads one GPX import (import-offload.ts starts it): building the XML
// document and its GeoJSON takes about a second per 10,000 points, time the hub's event loop must
// spend on live fixes instead.

import { parentPort, workerData } from "node:worker_threads";
import { ImportError, type ImportFormat, type ImportOptions, parseImport } from "./import-parse.ts";

export interface ImportJob {
  format: ImportFormat;
  text: string;
  vehicleId: string;
  options: ImportOptions;
}

export type ImportJobResult =
  | { ok: true; result: ReturnType<typeof parseImport> }
  | { ok: false; status: 400 | 413 | 503 | 500; message: string };

const job = workerData as ImportJob;
let answer: ImportJobResult;
try {
  answer = { ok: true, result: parseImport(job.format, job.text, job.vehicleId, job.options) };
} catch (err) {
  answer =
    err instanceof ImportError
      ? { ok: false, status: err.status, message: err.message }
      : { ok: false, status: 500, message: err instanceof Error ? err.message : String(err) };
}
parentPort?.postMessage(answer);

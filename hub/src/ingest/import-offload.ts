// Reads GPX imports on a worker thread, one thread per import and a bound on how many run at
// once, so that a large file never holds up the event loop that takes live fixes. GeoJSON and
// JSON arrays are read in place: JSON.parse of the largest import allowed takes well under the
// time of one GPX point in a thousand.

import { type ResourceLimits, Worker } from "node:worker_threads";
import {
  ImportError,
  type ImportFormat,
  type ImportOptions,
  type ParsedImport,
  parseImport,
} from "./import-parse.ts";
import type { ImportJob, ImportJobResult } from "./import-worker.ts";

/** GPX imports read at once; one more is refused (the client sends it again later). */
export const MAX_CONCURRENT_GPX = 2;

/** A worker's heap: a 16 MiB GPX file's document and GeoJSON fit in it with room to spare. */
const RESOURCE_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 1024 };

/**
 * Starts the worker on one job. Under TypeScript (npm start, vitest) its entry is the .ts file
 * beside this one, imported once tsx's loader is registered in the worker; in the bundled image
 * it is import-worker.mjs beside main.mjs (infra/hub/bundle.mjs builds it).
 */
function startWorker(job: ImportJob): Worker {
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./import-worker.mjs", import.meta.url), {
      workerData: job,
      resourceLimits: RESOURCE_LIMITS,
    });
  }
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./import-worker.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}));`;
  return new Worker(boot, { eval: true, workerData: job, resourceLimits: RESOURCE_LIMITS });
}

export class ImportReader {
  #running = 0;

  /** Reads an import: GPX on a worker thread, the JSON forms here. Throws ImportError. */
  async read(
    format: ImportFormat,
    text: string,
    vehicleId: string,
    options: ImportOptions,
  ): Promise<ParsedImport> {
    if (format !== "gpx") return parseImport(format, text, vehicleId, options);
    if (this.#running >= MAX_CONCURRENT_GPX) {
      throw new ImportError(
        503,
        `${this.#running} GPX imports are being read: send this one again in a moment`,
      );
    }
    this.#running++;
    try {
      return await this.#offThread({ format, text, vehicleId, options });
    } finally {
      this.#running--;
    }
  }

  #offThread(job: ImportJob): Promise<ParsedImport> {
    return new Promise((resolve, reject) => {
      const worker = startWorker(job);
      let settled = false;
      worker.once("message", (answer: ImportJobResult) => {
        settled = true;
        void worker.terminate();
        if (answer.ok) resolve(answer.result);
        else if (answer.status === 500)
          reject(new Error(`reading the GPX file failed: ${answer.message}`));
        else reject(new ImportError(answer.status, answer.message));
      });
      worker.once("error", (err) => {
        if (settled) return;
        settled = true;
        reject(
          err.message.includes("memory")
            ? new ImportError(
                413,
                "the GPX file needs more memory to read than an import may take: split it",
              )
            : err,
        );
      });
      worker.once("exit", (code) => {
        if (!settled) {
          settled = true;
          reject(new Error(`the GPX reader stopped (exit code ${code})`));
        }
      });
    });
  }
}

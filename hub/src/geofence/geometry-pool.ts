// Parses big geofence bodies and runs validateGeometry on a worker thread, so reading, checking
// (and stringifying) 100,000 vertices never blocks the event loop that acknowledges fixes. One
// worker, started on first use and again after it dies; a bounded number of jobs may wait for it.

import { type ResourceLimits, Worker } from "node:worker_threads";
import type { MultiPolygonCoords } from "./fence.ts";
import { type FlatPolygons, nestPolygons } from "./flat-polygons.ts";
import type { GeometryProblem } from "./validate.ts";

/** A request body (JSON text) to parse and check, as sent to the worker. */
export interface GeometryJob {
  id: number;
  text: string;
  maxVertices: number;
  /** Levels of the body kept as sent; objects and arrays deeper are answered as `{}`. */
  keepDepth: number;
}

/** A valid geometry, normalised: coordinates as transferred buffers and as JSON text. */
interface FlatGeometry {
  flat: FlatPolygons;
  vertexCount: number;
  polygonsJson: string;
}

/** The worker's answer (see OffloadedCheck). */
export type GeometryJobResult =
  | { id: number; kind: "unparsable" }
  | { id: number; kind: "checked"; body?: unknown; geometry?: FlatGeometry }
  | { id: number; kind: "invalid"; problem: GeometryProblem }
  | { id: number; kind: "failed"; message: string };

/** validateGeometry's answer for a valid geometry, the polygons already as JSON text. */
export interface OffloadedGeometry {
  polygons: MultiPolygonCoords;
  vertexCount: number;
  polygonsJson: string;
}

/**
 * What the worker made of a body:
 * - `unparsable`: not JSON, or JSON with a prototype-poisoning key (fastify's parser refuses both);
 * - `invalid`: the body has a `geometry` and validateGeometry refuses it;
 * - `checked`: `geometry` is set when the body has a valid one. `body` is the parsed body with the
 *   geometry's coordinates replaced by a small stand-in the schema takes, and objects nested
 *   deeper than `keepDepth` replaced by `{}`; it is absent when the caller must parse the text
 *   itself (a body that is no object, or a geometry the schema must judge as sent).
 */
export type OffloadedCheck =
  | { kind: "unparsable" }
  | { kind: "invalid"; problem: GeometryProblem }
  | { kind: "checked"; body?: unknown; geometry?: OffloadedGeometry };

/** Thrown by check() when as many jobs as allowed are pending: the caller answers 503. */
export class GeometryPoolBusy extends Error {
  override readonly name = "GeometryPoolBusy";
}

interface Pending {
  resolve(check: OffloadedCheck): void;
  reject(err: Error): void;
}

/**
 * Starts the worker. Under TypeScript (npm start, vitest) its entry is the .ts file beside this
 * one, imported once tsx's loader is registered in the worker (`--import tsx` in execArgv does
 * not reach a worker's entry on Node 20); in the bundled image it is geometry-worker.mjs beside
 * main.mjs (infra/hub/bundle.mjs builds both).
 */
function startWorker(resourceLimits: ResourceLimits): Worker {
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./geometry-worker.mjs", import.meta.url), { resourceLimits });
  }
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./geometry-worker.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}));`;
  return new Worker(boot, { eval: true, resourceLimits });
}

/** A worker thread that validates geometries, with a bound on the jobs waiting for it. */
export class GeometryPool {
  readonly #maxPending: number;
  readonly #resourceLimits: ResourceLimits;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | null = null;
  #nextId = 1;
  #closed = false;

  /**
   * `maxPending`: jobs at most in the worker's hands or waiting for it; one more is refused.
   * `resourceLimits`: the worker's heap limits (a worker that exceeds them dies alone).
   */
  constructor(options: { maxPending: number; resourceLimits?: ResourceLimits }) {
    this.#maxPending = options.maxPending;
    this.#resourceLimits = options.resourceLimits ?? {};
  }

  /** Jobs sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Parses `text` and validates its `geometry` on the worker. Rejects with GeometryPoolBusy when
   * `maxPending` jobs are pending, and with an Error if the worker fails or the pool is closed.
   */
  check(
    text: string,
    options: { maxVertices: number; keepDepth: number },
  ): Promise<OffloadedCheck> {
    if (this.#closed) return Promise.reject(new Error("the geometry pool is closed"));
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(
        new GeometryPoolBusy(`${this.#pending.size} geometries are being checked already`),
      );
    }
    const id = this.#nextId++;
    const worker = this.#started();
    return new Promise<OffloadedCheck>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, text, ...options } satisfies GeometryJob);
    });
  }

  /** Stops the worker; pending jobs fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = null;
    this.#failAll(new Error("the geometry pool is closed"));
    if (worker !== null) await worker.terminate();
  }

  #started(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = startWorker(this.#resourceLimits);
    // An idle worker must not keep the process alive (check() refs it while jobs are pending).
    worker.unref();
    worker.on("message", (result: GeometryJobResult) => this.#settle(result));
    worker.on("error", (err) => this.#lost(worker, err));
    worker.on("exit", (code) => this.#lost(worker, new Error(`exited with code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #settle(result: GeometryJobResult): void {
    const pending = this.#pending.get(result.id);
    if (pending === undefined) return;
    this.#pending.delete(result.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (result.kind === "failed") {
      pending.reject(new Error(`geometry check failed: ${result.message}`));
    } else if (result.kind === "checked" && result.geometry !== undefined) {
      const { flat, vertexCount, polygonsJson } = result.geometry;
      const geometry = { polygons: nestPolygons(flat), vertexCount, polygonsJson };
      pending.resolve({ kind: "checked", body: result.body, geometry });
    } else if (result.kind === "checked") {
      pending.resolve({ kind: "checked", body: result.body });
    } else if (result.kind === "invalid") {
      pending.resolve({ kind: "invalid", problem: result.problem });
    } else {
      pending.resolve({ kind: "unparsable" });
    }
  }

  /** The worker died (out of memory, a bug): its jobs fail, and the next job starts a new one. */
  #lost(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    void worker.terminate();
    this.#failAll(new Error(`the geometry worker stopped: ${err.message}`));
  }

  #failAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}

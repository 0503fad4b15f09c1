// WAL checkpoints on a thread of their own. Left to SQLite, a checkpoint runs inside whichever
// COMMIT pushes the WAL past 1000 pages: it copies pages into the database file and fsyncs both
// files on the event loop, stalling ingestion for milliseconds every few thousand fixes. Here the
// hub's connection never checkpoints; a worker thread with its own connection does, while the
// event loop goes on. PASSIVE checkpoints never block the writer; when they cannot keep up
// (a WAL past `restartPages`), a RESTART one makes the next commit wait for it once, so the
// WAL is reused from its start and cannot grow without bound.

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface CheckpointerOptions {
  /** How often the worker looks for pages to checkpoint, ms. */
  intervalMs?: number;
  /** WAL size (pages) beyond which a checkpoint may hold up the next commit to reset the WAL. */
  restartPages?: number;
  /** The worker stopped for good: the hub's connection must checkpoint by itself again. */
  onFailure?: (err: Error) => void;
}

// Plain CommonJS, so the worker needs no TypeScript loader; it gets better-sqlite3's resolved path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 10000");
db.pragma("synchronous = NORMAL");
let failures = 0;
const tick = () => {
  try {
    const [state] = db.pragma("wal_checkpoint(PASSIVE)");
    if (state && state.log >= workerData.restartPages) db.pragma("wal_checkpoint(RESTART)");
    failures = 0;
  } catch (err) {
    // A busy or failing checkpoint is retried at the next tick; the hub only learns of it if it lasts.
    if (++failures === 50) parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ closed: true });
});
`;

export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #closed: Promise<void> | null = null;
  /** The last error the worker reported (checkpoints failing for a while), for the logs. */
  lastError: string | null = null;

  /** Starts checkpointing `file`, whose hub connection must have wal_autocheckpoint = 0. */
  constructor(file: string, options: CheckpointerOptions = {}) {
    const require = createRequire(import.meta.url);
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module: require.resolve("better-sqlite3"),
        file,
        intervalMs: options.intervalMs ?? 100,
        restartPages: options.restartPages ?? 16_384,
      },
    });
    this.#worker.unref();
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    this.#worker.on("message", (m: { error?: string }) => {
      if (m.error !== undefined) this.lastError = m.error;
    });
    // A worker that dies leaves checkpoints undone, not data lost: the WAL keeps everything
    // until the hub's connection takes over.
    this.#worker.on("error", (err) => {
      this.lastError = err.message;
      if (this.#closed === null) options.onFailure?.(err);
    });
  }

  /** Stops the worker and closes its connection (before the hub's, so that one cleans up). */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const closed = new Promise<void>((resolve) => {
        this.#worker.on("message", (m: { closed?: boolean }) => {
          if (m.closed) resolve();
        });
      });
      this.#worker.postMessage("close");
      await Promise.race([closed, this.#exited]);
      await this.#worker.terminate();
    })();
    return this.#closed;
  }
}

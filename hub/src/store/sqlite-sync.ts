// Durable SQLite commits without stopping the event loop. The connection commits with
// synchronous=NORMAL (the WAL is written, not fsynced) and the store then fdatasyncs the WAL file
// on libuv's thread pool before it reports the write done. A write that resolved is on disk, as
// with synchronous=FULL, but the ~2 ms of each fsync no longer block reading, decoding and
// acknowledging: the event loop keeps taking messages for the next group commit meanwhile.
//
// Why this is sound: fdatasync flushes every page of the file written before the call, through
// any descriptor, so one call covers every commit made before it. SQLite in WAL mode with NORMAL
// stays consistent after a crash (a torn tail of the WAL is ignored by its checksums) and syncs
// the WAL itself before each checkpoint, so frames are never overwritten before they are safe.

import fs from "node:fs";
import path from "node:path";

const noop = () => {};

export class WalSync {
  readonly #fd: number;
  #running: Promise<void> | null = null;
  /** A sync queued to start when the running one ends: it covers every caller since that began. */
  #next: Promise<void> | null = null;
  #failure: Error | null = null;

  /** Call once the connection is in WAL mode and has opened its WAL file. */
  constructor(dbFile: string) {
    this.#fd = fs.openSync(`${dbFile}-wal`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    // The WAL's directory entry has to survive a power cut as well as its content.
    const dir = fs.openSync(path.dirname(dbFile), "r");
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  }

  /**
   * Set once an fsync failed. After that nothing written can be trusted to reach the disk (the
   * kernel may have dropped the dirty pages), so every later write fails too, as PostgreSQL does.
   */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Resolves once every commit made before this call is on disk. */
  sync(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#next) return this.#next;
    const running = this.#running;
    if (running === null) return this.#start();
    // The running fsync may have begun before the caller's commit: one more after it.
    const next = running.then(noop, noop).then(() => {
      this.#next = null;
      return this.#start();
    });
    this.#next = next;
    return next;
  }

  /** Waits for syncs under way and releases the file. */
  async close(): Promise<void> {
    await this.#next?.catch(noop);
    await this.#running?.catch(noop);
    fs.closeSync(this.#fd);
  }

  #start(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const done = new Promise<void>((resolve, reject) => {
      fs.fdatasync(this.#fd, (err) => {
        if (this.#running === done) this.#running = null;
        if (err) {
          this.#failure ??= new Error(
            `could not flush the SQLite WAL to disk (${err.code ?? err.message}); restart the hub once the disk is fixed`,
          );
          reject(this.#failure);
        } else {
          resolve();
        }
      });
    });
    this.#running = done;
    return done;
  }
}

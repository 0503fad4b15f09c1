// WalSync: one flush covers every commit made before it; callers during a flush share the next.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WalSync } from "./sqlite-sync.ts";

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-walsync-"));
  file = path.join(dir, "locus.db");
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("WalSync", () => {
  it("flushes once for a burst of callers, and once more for those who came during it", async () => {
    const flushes = vi.spyOn(fs, "fdatasync");
    const wal = new WalSync(file);
    try {
      // Three callers at once: the first starts a flush, the others may have committed after
      // it began, so they share one more, started when it ends.
      const first = wal.sync();
      const during = [wal.sync(), wal.sync()];
      expect(during[0]).toBe(during[1]);
      await Promise.all([first, ...during]);
      expect(flushes).toHaveBeenCalledTimes(2);
      // Nothing under way: the next caller starts a flush of its own.
      await wal.sync();
      expect(flushes).toHaveBeenCalledTimes(3);
      expect(wal.failure).toBeNull();
    } finally {
      await wal.close();
    }
  });

  it("fails every later write once a flush failed", async () => {
    vi.spyOn(fs, "fdatasync").mockImplementation(((
      _fd: number,
      callback: (err: NodeJS.ErrnoException | null) => void,
    ) => {
      const err = Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
      setImmediate(() => callback(err));
    }) as typeof fs.fdatasync);
    const wal = new WalSync(file);
    try {
      await expect(wal.sync()).rejects.toThrow(/EIO/);
      expect(wal.failure?.message).toMatch(/restart the hub/);
      await expect(wal.sync()).rejects.toBe(wal.failure);
    } finally {
      await wal.close();
    }
  });
});

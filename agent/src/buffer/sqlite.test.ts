import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { bufferContract, fixAt } from "./buffer.contract.ts";
import { BufferError } from "./buffer.ts";
import { readBufferStats, SqliteBuffer } from "./sqlite.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-buffer-"));
  dirs.push(dir);
  return dir;
}
function tempFile(): string {
  return path.join(tempDir(), "agent.db");
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

// The contract is about behaviour, not durability (tested below with the default FULL): NORMAL
// keeps it fast.
bufferContract("sqlite", (limits) =>
  SqliteBuffer.open(tempFile(), { ...limits, synchronous: "normal" }),
);

/** Makes `dir` unwritable even for root (chattr +i); null when this system cannot. */
function makeUnwritable(dir: string): (() => void) | null {
  if (process.getuid?.() !== 0) {
    fs.chmodSync(dir, 0o555);
    return () => fs.chmodSync(dir, 0o755);
  }
  try {
    execFileSync("chattr", ["+i", dir], { stdio: "ignore" });
  } catch {
    return null;
  }
  return () => execFileSync("chattr", ["-i", dir], { stdio: "ignore" });
}

function errorOf(fn: () => unknown): BufferError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BufferError);
    return err as BufferError;
  }
  throw new Error("expected a BufferError");
}

describe("SqliteBuffer", () => {
  it("uses WAL with synchronous=FULL by default, NORMAL on request", () => {
    const file = tempFile();
    SqliteBuffer.open(file).close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    const full = SqliteBuffer.open(file);
    expect((full as any).db.pragma("synchronous", { simple: true })).toBe(2);
    full.close();
    const normal = SqliteBuffer.open(file, { synchronous: "normal" });
    expect((normal as any).db.pragma("synchronous", { simple: true })).toBe(1);
    normal.close();
  });

  it("keeps fixes, the seq counter, drops and the last ack across a reopen", () => {
    const file = tempFile();
    const a = SqliteBuffer.open(file, { maxFixes: 4 });
    for (let i = 0; i < 6; i++) a.put({ ...fixAt(i), speed: i });
    a.ack(2, 2, 1234);
    a.close();

    const b = SqliteBuffer.open(file, { maxFixes: 4 });
    expect(b.stats()).toEqual({
      depth: 3,
      oldest: { ...fixAt(3), speed: 3, seq: 3 },
      lastAck: { seq: 2, at: 1234 },
      dropped: 2,
      nextSeq: 6,
    });
    expect(b.nextBatch(-1, 10).map((f) => f.seq)).toEqual([3, 4, 5]);
    b.close();
  });

  it("carries the seq on after the buffer was emptied and reopened", () => {
    const file = tempFile();
    const a = SqliteBuffer.open(file);
    for (let i = 0; i < 3; i++) a.put(fixAt(i));
    a.ack(0, 2, 1);
    a.close();
    const b = SqliteBuffer.open(file);
    expect(b.depth()).toBe(0);
    expect(b.put(fixAt(3)).seq).toBe(3);
    b.close();
  });

  it("drops the oldest fixes at open when the limit was lowered, and counts them", () => {
    const file = tempFile();
    const a = SqliteBuffer.open(file);
    for (let i = 0; i < 10; i++) a.put(fixAt(i));
    a.close();
    const b = SqliteBuffer.open(file, { maxFixes: 4 });
    expect(b.stats()).toMatchObject({ depth: 4, dropped: 6, oldest: { seq: 6 } });
    b.close();
    expect(readBufferStats(file).dropped).toBe(6);
  });

  it("reads stats without writing, also while the buffer is open", () => {
    const file = tempFile();
    const a = SqliteBuffer.open(file);
    for (let i = 0; i < 3; i++) a.put(fixAt(i));
    a.ack(0, 0, 99);
    expect(readBufferStats(file)).toEqual(a.stats());
    a.close();
    expect(readBufferStats(file)).toMatchObject({ depth: 2, nextSeq: 3, lastAck: { seq: 0 } });
  });

  it("names the file and the cause when it cannot open", () => {
    const dir = tempDir();
    const missing = path.join(dir, "nope", "agent.db");
    const e1 = errorOf(() => SqliteBuffer.open(missing));
    expect(e1.message).toBe(
      `buffer ${missing}: cannot open: directory ${path.dirname(missing)} does not exist`,
    );
    expect(e1.path).toBe(missing);

    const plain = path.join(dir, "plain");
    fs.writeFileSync(plain, "x");
    expect(errorOf(() => SqliteBuffer.open(path.join(plain, "a.db"))).message).toMatch(
      /is not a directory/,
    );
    expect(errorOf(() => SqliteBuffer.open(dir)).message).toMatch(/it is a directory/);

    const text = path.join(dir, "text.db");
    fs.writeFileSync(text, "this is not a database, just some text that is long enough".repeat(20));
    expect(errorOf(() => SqliteBuffer.open(text)).message).toMatch(
      new RegExp(`^buffer ${text}: cannot open: not a SQLite database`),
    );

    const other = path.join(dir, "other.db");
    const db = new Database(other);
    db.exec("CREATE TABLE t (x)");
    db.close();
    expect(errorOf(() => SqliteBuffer.open(other)).message).toMatch(/not a Locus agent buffer/);
    expect(errorOf(() => readBufferStats(other)).message).toMatch(/not a Locus agent buffer/);
    expect(errorOf(() => readBufferStats(path.join(dir, "absent.db"))).message).toMatch(
      /no such file/,
    );
  });

  it("names the directory when it is not writable, and keeps what is buffered", (ctx) => {
    const dir = tempDir();
    const file = path.join(dir, "agent.db");
    const a = SqliteBuffer.open(file);
    a.put(fixAt(0));
    a.close();
    const undo = makeUnwritable(dir);
    if (undo === null) ctx.skip();
    try {
      const err = errorOf(() => SqliteBuffer.open(file));
      expect(err.message).toMatch(
        new RegExp(`^buffer ${file}: cannot open: directory ${dir} is not writable \\(E`),
      );
      expect(errorOf(() => SqliteBuffer.open(path.join(dir, "new.db"))).message).toMatch(
        /is not writable/,
      );
    } finally {
      undo?.();
    }
    expect(readBufferStats(file).depth).toBe(1);
  });

  it("reports a full disk on put, keeps what is buffered, and goes on once space is freed", () => {
    const file = tempFile();
    const b = SqliteBuffer.open(file, { maxBytes: 65_536 });
    let stored = 0;
    let failure: BufferError | undefined;
    for (let i = 0; i < 100_000 && failure === undefined; i++) {
      try {
        b.put({ ...fixAt(i), speed: 1, heading: 2, accuracy: 3, altitude: 4 });
        stored++;
      } catch (err) {
        failure = err as BufferError;
      }
    }
    expect(failure).toBeInstanceOf(BufferError);
    expect(failure?.code).toBe("SQLITE_FULL");
    expect(failure?.message).toBe(
      `buffer ${file}: fix not stored: disk full or the 65536-byte size limit reached (SQLITE_FULL); the ${stored} fixes already buffered are kept`,
    );
    expect(b.depth()).toBe(stored);
    expect(b.nextBatch(-1, stored + 10)).toHaveLength(stored);
    // The failed fix used no seq: the next stored one follows the last stored one.
    expect(b.ack(0, 99, 1)).toBe(100);
    expect(b.put(fixAt(0)).seq).toBe(stored);
    b.close();
    expect(readBufferStats(file)).toMatchObject({ depth: stored - 99, nextSeq: stored + 1 });
  });

  it("keeps every committed fix when its process is killed with SIGKILL", async () => {
    const file = tempFile();
    const script = `
      import { SqliteBuffer } from ${JSON.stringify(path.resolve(import.meta.dirname, "sqlite.ts"))};
      const b = SqliteBuffer.open(${JSON.stringify(file)});
      let i = 0;
      setInterval(() => {
        for (let k = 0; k < 5; k++) { b.put({ ts: i, latitude: 1, longitude: 2 }); i++; }
        process.stdout.write(i + "\\n");
      }, 1);
    `;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let committed = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d: Buffer) => {
        const lines = d.toString().trim().split("\n");
        committed = Number(lines[lines.length - 1]);
        if (committed >= 200 && child.exitCode === null) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((r) => child.once("exit", r));
    const b = SqliteBuffer.open(file);
    expect(b.depth()).toBeGreaterThanOrEqual(committed);
    expect(b.nextBatch(-1, 1e6).map((f) => f.seq)).toEqual(
      Array.from({ length: b.depth() }, (_, i) => i),
    );
    b.close();
  });
});

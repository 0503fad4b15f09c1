// What is wrong with a buffer file or the place it should be, said in words a person can act on,
// where SQLite itself would only give a code or "unable to open database file".

import fs from "node:fs";
import path from "node:path";

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A short, human cause for a SQLite or system error. */
export function describe(err: unknown, maxBytes: number | undefined): string {
  const code = errorCode(err) ?? "";
  const message = err instanceof Error ? err.message : String(err);
  if (code === "SQLITE_FULL") {
    return maxBytes === undefined
      ? "disk full (SQLITE_FULL)"
      : `disk full or the ${maxBytes}-byte size limit reached (SQLITE_FULL)`;
  }
  if (code.startsWith("SQLITE_READONLY")) return `file is read-only (${code})`;
  if (code.startsWith("SQLITE_CANTOPEN")) return `cannot open the file (${code}: ${message})`;
  if (code === "SQLITE_NOTADB") return "not a SQLite database (SQLITE_NOTADB)";
  if (code.startsWith("SQLITE_CORRUPT")) return `database file is corrupt (${code})`;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return `locked by another process (${code})`;
  }
  if (code.startsWith("SQLITE_IOERR")) return `I/O error (${code}: ${message})`;
  return code ? `${message} (${code})` : message;
}

// The causes SQLite would only report as "unable to open database file", found beforehand:
// a description and its code, or null when the place looks usable.
export function placeProblem(file: string): [string, string] | null {
  const dir = path.dirname(file);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch (err) {
    return [`directory ${dir} does not exist`, errorCode(err) ?? "ENOENT"];
  }
  if (!dirStat.isDirectory()) return [`${dir} is not a directory`, "ENOTDIR"];
  // WAL mode creates -wal and -shm files beside the database, so the directory must be writable.
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = errorCode(err) ?? "EACCES";
    return [`directory ${dir} is not writable (${code})`, code];
  }
  let fileStat: fs.Stats;
  try {
    fileStat = fs.statSync(file);
  } catch {
    return null; // created on open
  }
  if (fileStat.isDirectory()) return ["it is a directory", "EISDIR"];
  try {
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    const code = errorCode(err) ?? "EACCES";
    return [`file is not readable and writable (${code})`, code];
  }
  return null;
}

// The hub's local state directory: checked writable at start, and home of the generated API token.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "./config.ts";

/** Creates the directory if needed and proves it writable; ConfigError otherwise. */
export function ensureDataDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError("LOCUS_DATA_DIR", `${dir} is not a writable directory (${code})`);
  }
}

export interface ApiToken {
  token: string;
  /** "env" when LOCUS_API_TOKEN set it, "file" when read back, "generated" when made now. */
  source: "env" | "file" | "generated";
  file: string | null;
}

/** The configured token, else the one kept in the data dir, else a new one saved there (mode 0600). */
export function resolveApiToken(configured: string | null, dataDir: string): ApiToken {
  if (configured !== null) return { token: configured, source: "env", file: null };
  const file = path.join(dataDir, "api-token");
  try {
    const saved = fs.readFileSync(file, "utf8").trim();
    if (saved.length >= 16) return { token: saved, source: "file", file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const token = randomBytes(24).toString("base64url");
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: "generated", file };
}

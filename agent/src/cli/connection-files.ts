// Files a connection to the broker needs, read once at start: a password file (so the password
// need not show in the process list) and the CA certificates to trust for mqtts:// and wss://.
// Shared by the agent's and the simulator's command lines.

import { X509Certificate } from "node:crypto";
import fs from "node:fs";

export { isTlsBroker } from "../delivery/trust.ts";

export type ReadFile = (path: string) => string;

export const readUtf8: ReadFile = (path) => fs.readFileSync(path, "utf8");

function read(file: string, readFile: ReadFile): string {
  try {
    return readFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`cannot read ${file} (${reason})`);
  }
}

/**
 * The password in `file`: its first line, without the line break (the rest is ignored, so a
 * trailing newline from `echo` does not become part of it). Throws an Error that says why.
 */
export function readPasswordFile(file: string, readFile: ReadFile = readUtf8): string {
  const first = read(file, readFile).split(/\r?\n/, 1)[0] ?? "";
  if (first === "") throw new Error(`${file}: its first line is empty (expected the password)`);
  return first;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The CA certificates in `file` (PEM, one or more), checked one by one, as PEM text for the TLS
 * `ca` option: these replace the built-in CA list. Throws an Error that says why.
 */
export function readCaFile(file: string, readFile: ReadFile = readUtf8): string {
  const text = read(file, readFile);
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new Error(`${file} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new Error(`${file}: certificate ${i + 1} of ${blocks.length} is not valid PEM`);
    }
  });
  return `${blocks.join("\n")}\n`;
}

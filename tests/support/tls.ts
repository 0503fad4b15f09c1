// Throwaway certificates for tests of TLS: a CA, a server certificate it signs for 127.0.0.1, ::1
// and localhost, and a second, unrelated CA for the "wrong CA" cases. Made by the real `openssl`
// command with EC P-256 keys (fast) in a temp dir; nothing here is trusted outside the test.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { hasBinary } from "./binaries.ts";
import { tempDir } from "./hub-process.ts";

/** A certificate and its key, as files and as PEM text. */
export interface TestKeyPair {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signed `server`: what a client must trust. */
  ca: TestKeyPair;
  /** Subject CN localhost; subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1. */
  server: TestKeyPair;
  /** A CA that signed nothing here: trusting it instead of `ca` must fail. */
  otherCa: TestKeyPair;
}

/**
 * True when `openssl` is installed; otherwise one loud SKIPPING line (under CI=true, an error),
 * as for the other external programs the tests drive.
 */
export function opensslAvailable(): boolean {
  if (hasBinary("openssl")) return true;
  const line = "openssl not found: install the Debian package openssl to run these tests";
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
  return false;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("openssl is not installed (Debian package openssl)");
    }
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function read(dir: string, cert: string, key: string): TestKeyPair {
  const certFile = path.join(dir, cert);
  const keyFile = path.join(dir, key);
  return {
    certFile,
    keyFile,
    certPem: fs.readFileSync(certFile, "utf8"),
    keyPem: fs.readFileSync(keyFile, "utf8"),
  };
}

function makeCa(dir: string, name: string, cn: string): TestKeyPair {
  openssl(
    [
      ...["req", "-x509", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.crt`],
      ...["-days", "2", "-subj", `/CN=${cn}`],
      ...["-addext", "basicConstraints=critical,CA:TRUE"],
      ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ],
    dir,
  );
  return read(dir, `${name}.crt`, `${name}.key`);
}

/**
 * Makes a fresh CA, a server certificate signed by it and an unrelated second CA, in a new temp
 * dir (about a quarter of a second). Throws a clear error when openssl is missing: call
 * opensslAvailable() first to skip instead. Keys are world-readable, so that a broker started as
 * root that drops to its own user can read them.
 */
export function makeTestPki(): TestPki {
  const dir = tempDir("locus-pki-");
  const ca = makeCa(dir, "ca", "Locus test CA");
  const otherCa = makeCa(dir, "other-ca", "Locus unrelated test CA");
  openssl(
    ["req", "-new", ...EC, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
    dir,
  );
  fs.writeFileSync(
    path.join(dir, "server.ext"),
    [
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "",
    ].join("\n"),
  );
  openssl(
    [
      ...["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"],
      ...["-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt"],
    ],
    dir,
  );
  for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o644);
  fs.chmodSync(dir, 0o755);
  return { dir, ca, server: read(dir, "server.crt", "server.key"), otherCa };
}

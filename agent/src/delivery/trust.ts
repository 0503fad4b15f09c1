// The CAs a TLS connection to the broker trusts when no --ca is given: Node's built-in list plus
// the operating system's store (CONTRACT §6), so a broker certified by a company CA installed on
// the vehicle's system is trusted as it is by every other program there.

import fs from "node:fs";
import tls from "node:tls";

/** Where Linux distributions, the BSDs and macOS keep their bundle of trusted CAs (PEM). */
const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/ssl/cert.pem", // macOS, the BSDs
];

/** Broker URL schemes that connect over TLS. */
const TLS_PROTOCOLS: ReadonlySet<string> = new Set(["mqtts:", "tls:", "ssl:", "wss:"]);

/** Whether the broker URL connects over TLS. */
export function isTlsBroker(url: string): boolean {
  try {
    return TLS_PROTOCOLS.has(new URL(url).protocol);
  } catch {
    return false;
  }
}

let cached: string | undefined;

/**
 * PEM text of Node's built-in CAs, the system's (SSL_CERT_FILE first, as OpenSSL reads it) and
 * those of NODE_EXTRA_CA_CERTS, read once, for the TLS `ca` option (which replaces Node's
 * default store rather than adding to it).
 */
export function systemTrust(
  env: NodeJS.ProcessEnv = process.env,
  readFile: (file: string) => string = (file) => fs.readFileSync(file, "utf8"),
): string {
  if (cached !== undefined && env === process.env) return cached;
  const candidates = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE, ...SYSTEM_BUNDLES] : SYSTEM_BUNDLES;
  let system = "";
  for (const file of candidates) {
    try {
      system = readFile(file);
      break;
    } catch {
      // Not this distribution's path: try the next.
    }
  }
  // Giving `ca` replaces Node's default store, which NODE_EXTRA_CA_CERTS extends: keep that too.
  let extra = "";
  if (env.NODE_EXTRA_CA_CERTS) {
    try {
      extra = readFile(env.NODE_EXTRA_CA_CERTS);
    } catch {
      // Node itself warns at start when that file cannot be read.
    }
  }
  const trust = `${tls.rootCertificates.join("\n")}\n${system}\n${extra}`;
  if (env === process.env) cached = trust;
  return trust;
}

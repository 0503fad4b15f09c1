// The hub's certificate and key (LOCUS_TLS_CERT, LOCUS_TLS_KEY): read once at start and checked, so
// that a wrong file stops the start with one line naming the setting instead of failing the first
// TLS handshake.

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import fs from "node:fs";

/** PEM text of the certificate (its chain may follow) and of its private key. */
export interface TlsCredentials {
  cert: string;
  key: string;
}

/** A problem with one TLS setting; config.ts turns it into a ConfigError. */
export class TlsSettingError extends Error {
  constructor(
    readonly setting: "LOCUS_TLS_CERT" | "LOCUS_TLS_KEY",
    message: string,
  ) {
    super(message);
    this.name = "TlsSettingError";
  }
}

function readPem(setting: "LOCUS_TLS_CERT" | "LOCUS_TLS_KEY", file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new TlsSettingError(setting, `cannot read ${file} (${reason})`);
  }
}

/**
 * Reads and checks the certificate and key files: both or neither must be given (null: no TLS),
 * the certificate file must start with a PEM certificate, the key file must hold an unencrypted
 * PEM private key, and the key must be the certificate's. Throws a TlsSettingError.
 */
export function loadTlsCredentials(
  certFile: string | null,
  keyFile: string | null,
): TlsCredentials | null {
  if (certFile === null && keyFile === null) return null;
  if (keyFile === null) {
    throw new TlsSettingError("LOCUS_TLS_KEY", "not set, but LOCUS_TLS_CERT is (TLS needs both)");
  }
  if (certFile === null) {
    throw new TlsSettingError("LOCUS_TLS_CERT", "not set, but LOCUS_TLS_KEY is (TLS needs both)");
  }
  const cert = readPem("LOCUS_TLS_CERT", certFile);
  const key = readPem("LOCUS_TLS_KEY", keyFile);
  let certificate: X509Certificate;
  try {
    if (!cert.includes("-----BEGIN CERTIFICATE-----")) throw new Error("no PEM block");
    // The first certificate is the hub's own; any that follow are its chain.
    certificate = new X509Certificate(cert);
  } catch {
    throw new TlsSettingError(
      "LOCUS_TLS_CERT",
      `${certFile} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`,
    );
  }
  let privateKey: KeyObject;
  try {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error("no PEM block");
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsSettingError(
      "LOCUS_TLS_KEY",
      `${keyFile} holds no unencrypted PEM private key (expected -----BEGIN PRIVATE KEY-----)`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new TlsSettingError(
      "LOCUS_TLS_KEY",
      `${keyFile} is not the private key of the certificate in ${certFile}`,
    );
  }
  return { cert, key };
}

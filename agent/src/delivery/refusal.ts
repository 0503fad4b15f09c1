// Why a connection attempt failed, in words an operator can act on: a broker that refuses the
// credentials, or a TLS certificate the agent does not trust, rather than MQTT.js's raw message.

/** MQTT 3.1.1 CONNACK codes 4 and 5; MQTT 5 reason codes 134 and 135. */
const AUTH_CODES = new Set([4, 5, 134, 135]);

const UNTRUSTED_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
]);

export type FailureKind = "credentials" | "certificate" | "other";

export interface ConnectFailure {
  kind: FailureKind;
  /** One line, without the broker's URL. */
  reason: string;
}

/**
 * Describes the error of a failed connection attempt. `username` is the one the agent sent
 * (undefined: none); `customCa` whether it trusts --ca rather than the built-in CA list.
 */
export function describeConnectError(
  err: Error,
  username: string | undefined,
  customCa: boolean,
): ConnectFailure {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "number" && AUTH_CODES.has(code)) {
    return {
      kind: "credentials",
      reason:
        username === undefined
          ? `the broker wants credentials (${err.message}): give --username and a password`
          : `the broker refused the credentials of user ${JSON.stringify(username)} (${err.message})`,
    };
  }
  if (typeof code === "string" && UNTRUSTED_CODES.has(code)) {
    return {
      kind: "certificate",
      reason: customCa
        ? `the broker's TLS certificate is not signed by a CA in --ca (${code})`
        : `the broker's TLS certificate is not signed by a trusted CA (${code}): give its CA with --ca FILE`,
    };
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return {
      kind: "certificate",
      reason: `the broker's TLS certificate is not valid now (${code})`,
    };
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return {
      kind: "certificate",
      reason: `the broker's TLS certificate is for another name: ${err.message}`,
    };
  }
  return { kind: "other", reason: err.message };
}

// The one-line reasons for a failed connection: each refusal says what to fix.

import { describe, expect, it } from "vitest";
import { describeConnectError } from "./refusal.ts";

const coded = (message: string, code: string | number) =>
  Object.assign(new Error(message), { code });

describe("describeConnectError", () => {
  it.each([
    [
      coded("Connection refused: Not authorized", 5),
      "truck-01",
      false,
      "credentials",
      'the broker refused the credentials of user "truck-01" (Connection refused: Not authorized)',
    ],
    [
      coded("Connection refused: Bad username or password", 4),
      "truck-01",
      false,
      "credentials",
      "Bad username or password",
    ],
    [
      coded("Connection refused: Not authorized", 135),
      "truck-01",
      false,
      "credentials",
      "refused the credentials",
    ],
    [
      coded("Connection refused: Not authorized", 5),
      undefined,
      false,
      "credentials",
      "the broker wants credentials (Connection refused: Not authorized): give --username and a password",
    ],
    [
      coded("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
      undefined,
      false,
      "certificate",
      "give its CA with --ca FILE",
    ],
    [
      coded("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"),
      undefined,
      true,
      "certificate",
      "is not signed by a CA in --ca (DEPTH_ZERO_SELF_SIGNED_CERT)",
    ],
    [
      coded("certificate has expired", "CERT_HAS_EXPIRED"),
      undefined,
      true,
      "certificate",
      "is not valid now (CERT_HAS_EXPIRED)",
    ],
    [
      coded(
        "Hostname/IP does not match certificate's altnames: Host: hub. is not in the cert's altnames: DNS:localhost",
        "ERR_TLS_CERT_ALTNAME_INVALID",
      ),
      undefined,
      true,
      "certificate",
      "is for another name: Hostname/IP does not match",
    ],
    [
      coded("connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED"),
      "truck-01",
      false,
      "other",
      "connect ECONNREFUSED 127.0.0.1:1",
    ],
    [
      coded("Connection refused: Server unavailable", 3),
      "truck-01",
      false,
      "other",
      "Server unavailable",
    ],
  ])("%s", (err, username, customCa, kind, reason) => {
    const failure = describeConnectError(err, username, customCa);
    expect(failure.kind).toBe(kind);
    expect(failure.reason).toContain(reason);
  });
});

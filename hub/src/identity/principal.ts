// Who is on the other end of an MQTT connection or a REST request, once authenticated
// (CONTRACT §3 "Who may do what", §5 tokens). The broker and the API decide by these alone.

/** The roles of MQTT accounts that are not vehicles (CONTRACT §5, POST /api/v1/clients). */
export type ClientRole = "events" | "observer";

/** The roles of REST tokens (CONTRACT §5, POST /api/v1/tokens). */
export type TokenRole = "admin" | "read";

export type Principal =
  /** A vehicle, logged in with username = its id and the password issued for it. */
  | { kind: "vehicle"; id: string }
  /** An event consumer or observer account. */
  | { kind: "client"; name: string; role: ClientRole }
  /** No credentials, where LOCUS_MQTT_ALLOW_ANONYMOUS allows it. */
  | { kind: "anonymous" };

/**
 * Checks MQTT credentials: the principal they belong to, or null when they are wrong (unknown
 * username, wrong password, revoked). Never called for anonymous connections.
 */
export type MqttAuthenticator = (username: string, password: Buffer) => Promise<Principal | null>;

// How a failure to reach the external broker is told: which kind it is (the hub's configuration
// names a different setting for each), in one line, without the password of the broker's URL.

/** Reason codes of a CONNACK that refuses the credentials (MQTT 3.1.1 and 5). */
const CREDENTIALS_REFUSED = new Set([4, 5, 134, 135, 138]);

/** Why start() failed: the broker cannot be reached, or it refused the hub. */
export class BrokerConnectError extends Error {
  constructor(
    readonly reason: "unreachable" | "refused" | "not-authorized",
    message: string,
  ) {
    super(message);
    this.name = "BrokerConnectError";
  }
}

/** Whether an MQTT.js connection error is the broker refusing the credentials. */
export function refusesCredentials(err: Error & { code?: unknown }): boolean {
  return typeof err.code === "number" && CREDENTIALS_REFUSED.has(err.code);
}

/** One line for an error: the first of an AggregateError (a refused IPv6 and IPv4), with its code. */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  const e = err as NodeJS.ErrnoException & { code?: string | number };
  if (typeof e?.code === "string" && e.message && !e.message.includes(e.code)) {
    return `${e.code}: ${e.message}`;
  }
  return e?.message ?? String(err);
}

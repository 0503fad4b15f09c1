// The headers of one delivery attempt (CONTRACT §5): the event's id, the attempt's time and, for a
// webhook with a secret, an HMAC-SHA256 over "{timestamp}.{body}" that the receiver recomputes.

import { createHmac } from "node:crypto";

/** `sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">` under `secret`. */
export function signature(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
  return `sha256=${mac}`;
}

/** The headers of an attempt made at `nowMs` to deliver `body`, the event `eventId`. */
export function deliveryHeaders(
  eventId: string,
  body: string,
  secret: string | null,
  nowMs: number,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "locus-event-id": eventId,
    "locus-timestamp": String(timestamp),
    "user-agent": "locus-hub-webhooks",
  };
  if (secret !== null) headers["locus-signature"] = signature(secret, timestamp, body);
  return headers;
}

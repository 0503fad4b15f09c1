// Buffered fixes as MQTT payloads (CONTRACT §3): one fix alone as a JSON object, a backlog as a
// JSON array, oldest first, within the protocol's batch and payload size limits.

import { copyReadings, DEFAULT_MAX_BYTES, type Fix, MAX_BATCH, toWireFix } from "@locus/protocol";
import type { BufferedFix } from "../buffer/buffer.ts";

/** One fix in its wire form: vehicle_id, ts (RFC 3339), seq and the fields it has. */
export function encodeFix(vehicleId: string, fix: BufferedFix): string {
  const decoded: Fix = {
    vehicle_id: vehicleId,
    ts: fix.ts,
    ts_given: true,
    latitude: fix.latitude,
    longitude: fix.longitude,
    seq: fix.seq,
  };
  return JSON.stringify(toWireFix(copyReadings(decoded, fix)));
}

export interface Message {
  payload: string;
  /** How many of the given fixes it carries: the first `count`, in order. */
  count: number;
}

/**
 * A message for the oldest of `fixes` (at least one): a single fix as an object, several as an
 * array of at most MAX_BATCH whose payload stays within `maxBytes`.
 */
export function encodeMessage(
  vehicleId: string,
  fixes: readonly BufferedFix[],
  maxBytes: number = DEFAULT_MAX_BYTES,
): Message {
  const first = fixes[0];
  if (first === undefined) throw new RangeError("encodeMessage needs at least one fix");
  if (fixes.length === 1) return { payload: encodeFix(vehicleId, first), count: 1 };
  const parts: string[] = [];
  // Every character is ASCII (vehicle ids, RFC 3339 times and JSON numbers), so length is bytes.
  let bytes = 2;
  const limit = Math.min(fixes.length, MAX_BATCH);
  for (let i = 0; i < limit; i++) {
    const part = encodeFix(vehicleId, fixes[i] as BufferedFix);
    const added = part.length + (parts.length > 0 ? 1 : 0);
    if (parts.length > 0 && bytes + added > maxBytes) break;
    parts.push(part);
    bytes += added;
  }
  return { payload: `[${parts.join(",")}]`, count: parts.length };
}

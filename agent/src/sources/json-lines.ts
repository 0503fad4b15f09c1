// The `stdin` source's line format: one §3 fix as a JSON object per line. Validation is the
// protocol's own decoder, so the agent accepts exactly what the hub would.

import { copyReadings, decodeLocationMessage, locationTopic } from "@locus/protocol";
import type { SourceFix } from "./fix.ts";

// Any valid topic will do: the decoder needs one, and the vehicle id is the agent's to set.
const TOPIC = locationTopic("stdin");

/**
 * One input line as a fix, or the reason it is not one. `seq` and `vehicle_id` on input are
 * ignored (the agent numbers fixes and knows its own id); a missing `ts` stays missing.
 * Never throws.
 */
export function parseJsonFix(line: string): SourceFix | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "invalid_json";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_object";
  const { seq: _seq, vehicle_id: _vehicleId, ...fields } = value as Record<string, unknown>;
  const decoded = decodeLocationMessage(TOPIC, JSON.stringify(fields), {
    maxBytes: Number.POSITIVE_INFINITY,
  });
  const fix = decoded.fixes[0];
  if (!fix) return decoded.rejects[0]?.reason ?? "invalid_fix";
  const out: SourceFix = { latitude: fix.latitude, longitude: fix.longitude };
  if (fix.ts_given) out.ts = fix.ts;
  return copyReadings(out, fix);
}

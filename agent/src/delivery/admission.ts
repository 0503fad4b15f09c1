// Which fixes an agent takes into its buffer: exactly those the hub would accept, judged by the
// protocol's own decoder, so the agent never keeps a fix the hub drops.

import { copyReadings, decodeLocationMessage, type RejectReason } from "@locus/protocol";
import type { NewFix } from "../buffer/buffer.ts";
import type { AgentFix } from "./options.ts";

/** A fix the protocol would refuse; it was not buffered. */
export class InvalidFixError extends Error {
  constructor(readonly reason: RejectReason) {
    super(`invalid fix: ${reason}`);
    this.name = "InvalidFixError";
  }
}

/**
 * The fix as the buffer keeps it (ts read now when absent, rounded down to a millisecond), or
 * InvalidFixError with the decoder's reason. `topic` is the vehicle's location topic.
 */
export function admitFix(topic: string, fix: AgentFix, now: number): NewFix {
  if (fix.ts !== undefined && !Number.isFinite(fix.ts)) throw new InvalidFixError("invalid_ts");
  const ts = fix.ts === undefined ? undefined : Math.floor(fix.ts);
  const payload = JSON.stringify({
    latitude: fix.latitude,
    longitude: fix.longitude,
    ts,
    speed: fix.speed,
    heading: fix.heading,
    accuracy: fix.accuracy,
    altitude: fix.altitude,
  });
  const decoded = decodeLocationMessage(topic, payload, { receivedAt: now });
  const reject = decoded.rejects[0];
  const read = decoded.fixes[0];
  if (reject !== undefined || read === undefined) {
    throw new InvalidFixError(reject?.reason ?? "not_object");
  }
  return copyReadings({ ts: read.ts, latitude: read.latitude, longitude: read.longitude }, read);
}

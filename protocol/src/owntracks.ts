// The OwnTracks app's messages (CONTRACT §9): `owntracks/{user}/{device}` over MQTT, or the same
// JSON POSTed in its HTTP mode. A `_type: location` message is a fix of vehicle `{user}`; every
// other type (lwt, transition, waypoint, card, cmd, encrypted, …) and an empty message (the app
// clears a retained topic with one) are ignored, not errors. Never throws.

import type { DecodeResult, RejectReason } from "./decode.ts";
import {
  altitudeOf,
  KMH_MS,
  latitudeOf,
  longitudeOf,
  nonNegative,
  numberOf,
} from "./device-fields.ts";
import type { Fix } from "./fix.ts";
import { MAX_TS_MS, MIN_TS_MS } from "./time.ts";
import { isVehicleId } from "./topics.ts";

/** Subscription filter matching every OwnTracks location topic (`owntracks/{user}/{device}`). */
export const OWNTRACKS_TOPIC_FILTER = "owntracks/+/+";
/** Every OwnTracks topic starts so. */
export const OWNTRACKS_PREFIX = "owntracks/";

/** An OwnTracks payload is one small JSON object; 64 KiB leaves room for any app's extras. */
export const OWNTRACKS_MAX_BYTES = 65_536;

export type OwnTracksResult =
  | { kind: "fix"; fix: Fix }
  /** Not a location (`type` says what it was; "" for an empty message): nothing to store. */
  | { kind: "ignored"; type: string }
  | { kind: "rejected"; reason: RejectReason };

export interface OwnTracksOptions {
  /** Epoch ms given to a location without `tst`. Default Date.now(). */
  receivedAt?: number;
  /** Latest `tst` accepted, epoch ms; later is `future_ts`. Default: no bound. */
  notAfter?: number;
  /** Largest payload, bytes. Default OWNTRACKS_MAX_BYTES. */
  maxBytes?: number;
}

/**
 * The user and device of an OwnTracks location topic, `owntracks/{user}/{device}` exactly (the
 * user a valid vehicle id), or null. Deeper topics (`…/event`, `…/cmd`, `…/waypoint`) are not
 * locations.
 */
export function parseOwnTracksTopic(topic: string): { user: string; device: string } | null {
  if (typeof topic !== "string" || !topic.startsWith(OWNTRACKS_PREFIX)) return null;
  const levels = topic.split("/");
  if (levels.length !== 3) return null;
  const [, user, device] = levels as [string, string, string];
  if (!isVehicleId(user) || device === "") return null;
  return { user, device };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes an OwnTracks payload (bytes or text, as sent) as a message of vehicle `vehicleId`. */
export function decodeOwnTracks(
  payload: Uint8Array | string,
  vehicleId: string,
  options: OwnTracksOptions = {},
): OwnTracksResult {
  const maxBytes = options.maxBytes ?? OWNTRACKS_MAX_BYTES;
  let text: string;
  if (typeof payload === "string") {
    if (Buffer.byteLength(payload, "utf8") > maxBytes) return rejected("payload_too_large");
    text = payload;
  } else {
    if (payload.byteLength > maxBytes) return rejected("payload_too_large");
    try {
      text = utf8.decode(payload);
    } catch {
      return rejected("invalid_utf8");
    }
  }
  // The app publishes an empty message to clear a retained topic (a deleted friend, say).
  if (text.trim() === "") return { kind: "ignored", type: "" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return rejected("invalid_json");
  }
  return decodeOwnTracksMessage(value, vehicleId, options);
}

/** Decodes one parsed OwnTracks message as a message of vehicle `vehicleId`. */
export function decodeOwnTracksMessage(
  value: unknown,
  vehicleId: string,
  options: OwnTracksOptions = {},
): OwnTracksResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return rejected("not_object");
  }
  const o = value as Record<string, unknown>;
  const type = o._type;
  if (type !== "location") {
    return { kind: "ignored", type: typeof type === "string" ? type.slice(0, 32) : "" };
  }
  if (!isVehicleId(vehicleId)) return rejected("invalid_vehicle_id");

  const latitude = latitudeOf(o.lat);
  if (typeof latitude === "string") return rejected(latitude);
  const longitude = longitudeOf(o.lon);
  if (typeof longitude === "string") return rejected(longitude);

  const receivedAt = options.receivedAt ?? Date.now();
  let ts = receivedAt;
  const tsGiven = o.tst !== undefined && o.tst !== null;
  if (tsGiven) {
    const seconds = numberOf(o.tst);
    const ms = seconds === null ? Number.NaN : Math.round(seconds * 1000);
    if (!(ms >= MIN_TS_MS && ms <= MAX_TS_MS)) return rejected("invalid_ts");
    if (ms > (options.notAfter ?? Number.POSITIVE_INFINITY)) return rejected("future_ts");
    ts = ms;
  }

  const speed = nonNegative(o.vel, "invalid_speed", Number.MAX_VALUE, KMH_MS);
  const heading = nonNegative(o.cog, "invalid_heading", 360);
  const accuracy = nonNegative(o.acc, "invalid_accuracy");
  const altitude = altitudeOf(o.alt);
  for (const r of [speed, heading, accuracy, altitude]) {
    if (typeof r === "string") return rejected(r);
  }
  return {
    kind: "fix",
    fix: {
      vehicle_id: vehicleId,
      latitude,
      longitude,
      ts,
      ts_given: tsGiven,
      seq: undefined,
      speed: speed as number | undefined,
      heading: heading as number | undefined,
      accuracy: accuracy as number | undefined,
      altitude: altitude as number | undefined,
    },
  };
}

/**
 * Decodes a message on any `owntracks/…` topic as the hub's MQTT receiver takes it: a location on
 * `owntracks/{user}/{device}` is a fix of vehicle `{user}`; deeper topics (events, commands,
 * waypoints) and other types give nothing; a topic that is no OwnTracks topic is `bad_topic`.
 */
export function decodeOwnTracksTopic(
  topic: string,
  payload: Uint8Array | string,
  options: OwnTracksOptions = {},
): DecodeResult {
  const levels = typeof topic === "string" ? topic.split("/") : [];
  if (levels.length > 3 && levels[0] === "owntracks") {
    return { vehicle_id: null, fixes: [], rejects: [] };
  }
  const target = parseOwnTracksTopic(topic);
  if (target === null) {
    return { vehicle_id: null, fixes: [], rejects: [{ index: -1, reason: "bad_topic" }] };
  }
  const result = decodeOwnTracks(payload, target.user, options);
  return {
    vehicle_id: target.user,
    fixes: result.kind === "fix" ? [result.fix] : [],
    rejects: result.kind === "rejected" ? [{ index: 0, reason: result.reason }] : [],
  };
}

function rejected(reason: RejectReason): OwnTracksResult {
  return { kind: "rejected", reason };
}

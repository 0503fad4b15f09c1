// The OsmAnd protocol of Traccar Client and many trackers (CONTRACT §9), in its three forms: the
// query string (`?id=…&lat=…&lon=…&timestamp=…&speed=…`), the same fields as a form body, and the
// JSON of Traccar Client's newer versions (`{"device_id", "location": {"timestamp", "coords":
// {…}}}`). Units as the protocol has them: query and form `speed` in knots, JSON speed in m/s.
// Pure: the hub decides who the device is and answers it. Never throws.

import type { Reject, RejectReason } from "./decode.ts";
import {
  altitudeOf,
  fixTime,
  KNOT_MS,
  latitudeOf,
  longitudeOf,
  nonNegative,
  type Reading,
} from "./device-fields.ts";
import { type Fix, MAX_BATCH } from "./fix.ts";
import { isVehicleId } from "./topics.ts";

/** The request's parameters (query and form body), by name: the first value of each. */
export type OsmAndParams = (name: string) => string | undefined;

export interface OsmAndOptions {
  /** Epoch ms given to a fix without a timestamp. Default Date.now(). */
  receivedAt?: number;
  /** Latest timestamp accepted, epoch ms; later is `future_ts`. Default: no bound. */
  notAfter?: number;
}

export interface OsmAndMessage {
  /** The device's id (`id`, `deviceid` or JSON `device_id`), or null when it has none or a bad one. */
  deviceId: string | null;
  /** Why the device id was refused; null when it is good. */
  deviceProblem: "missing_device_id" | "invalid_vehicle_id" | null;
  fixes: Fix[];
  /** Locations that could not be read; `index` 0 for the one location of a query. */
  rejects: Reject[];
  /** Locations the tracker itself marked invalid (`valid=false`): not fixes, not errors. */
  invalid: number;
}

function deviceOf(raw: unknown): Pick<OsmAndMessage, "deviceId" | "deviceProblem"> {
  if (raw === undefined || raw === null || raw === "") {
    return { deviceId: null, deviceProblem: "missing_device_id" };
  }
  const id = typeof raw === "number" && Number.isSafeInteger(raw) ? String(raw) : raw;
  if (typeof id !== "string" || !isVehicleId(id)) {
    return { deviceId: null, deviceProblem: "invalid_vehicle_id" };
  }
  return { deviceId: id, deviceProblem: null };
}

interface RawLocation {
  latitude: unknown;
  longitude: unknown;
  timestamp: unknown;
  speed: Reading;
  heading: unknown;
  accuracy: unknown;
  altitude: unknown;
}

/**
 * One location read into a Fix of `deviceId`, or why it cannot be. Readings that are negative
 * (−1 for "unknown") are absent.
 */
function toFix(
  raw: RawLocation,
  deviceId: string,
  receivedAt: number,
  notAfter: number,
): Fix | RejectReason {
  const latitude = latitudeOf(raw.latitude);
  if (typeof latitude === "string") return latitude;
  const longitude = longitudeOf(raw.longitude);
  if (typeof longitude === "string") return longitude;
  const time = fixTime(raw.timestamp, receivedAt, notAfter);
  if (typeof time === "string") return time;
  const heading = nonNegative(raw.heading, "invalid_heading", 360);
  const accuracy = nonNegative(raw.accuracy, "invalid_accuracy");
  const altitude = altitudeOf(raw.altitude);
  for (const r of [raw.speed, heading, accuracy, altitude]) {
    if (typeof r === "string") return r;
  }
  return {
    vehicle_id: deviceId,
    latitude,
    longitude,
    ts: time.ts,
    ts_given: time.given,
    seq: undefined,
    speed: raw.speed as number | undefined,
    heading: heading as number | undefined,
    accuracy: accuracy as number | undefined,
    altitude: altitude as number | undefined,
  };
}

/** A tracker's `valid` flag: only an explicit false (or 0) says the position is not a fix. */
function markedInvalid(value: unknown): boolean {
  return value === false || value === "false" || value === "0" || value === 0;
}

/** Decodes the query or form variant: one location. */
export function decodeOsmAndParams(
  param: OsmAndParams,
  options: OsmAndOptions = {},
): OsmAndMessage {
  const device = deviceOf(param("id") ?? param("deviceid"));
  const message: OsmAndMessage = { ...device, fixes: [], rejects: [], invalid: 0 };
  if (device.deviceId === null) return message;
  if (markedInvalid(param("valid"))) {
    message.invalid = 1;
    return message;
  }
  let latitude: unknown = param("lat");
  let longitude: unknown = param("lon");
  const location = param("location");
  if (location !== undefined) {
    const parts = location.split(",");
    latitude = parts.length === 2 ? parts[0] : undefined;
    longitude = parts.length === 2 ? parts[1] : undefined;
  }
  const fix = toFix(
    {
      latitude,
      longitude,
      timestamp: param("timestamp"),
      speed: nonNegative(param("speed"), "invalid_speed", Number.MAX_VALUE, KNOT_MS),
      heading: param("bearing") ?? param("heading"),
      accuracy: param("accuracy"),
      altitude: param("altitude"),
    },
    device.deviceId,
    options.receivedAt ?? Date.now(),
    options.notAfter ?? Number.POSITIVE_INFINITY,
  );
  if (typeof fix === "string") message.rejects.push({ index: 0, reason: fix });
  else message.fixes.push(fix);
  return message;
}

/**
 * Decodes the JSON variant: `location` one object, or an array of up to 1000 (oldest first).
 * `fallbackId` is the query's `id`, for a tracker that puts the device there and not in the body.
 */
export function decodeOsmAndJson(
  value: unknown,
  options: OsmAndOptions = {},
  fallbackId?: string,
): OsmAndMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      deviceId: null,
      deviceProblem: null,
      fixes: [],
      rejects: [rejectAll("not_object")],
      invalid: 0,
    };
  }
  const body = value as Record<string, unknown>;
  const device = deviceOf(body.device_id ?? fallbackId);
  const message: OsmAndMessage = { ...device, fixes: [], rejects: [], invalid: 0 };
  if (device.deviceId === null) return message;
  const locations = Array.isArray(body.location) ? body.location : [body.location];
  if (locations.length === 0) {
    message.rejects.push(rejectAll("empty_batch"));
    return message;
  }
  if (locations.length > MAX_BATCH) {
    message.rejects.push(rejectAll("batch_too_large"));
    return message;
  }
  const receivedAt = options.receivedAt ?? Date.now();
  const notAfter = options.notAfter ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < locations.length; i++) {
    const location = locations[i];
    if (typeof location !== "object" || location === null || Array.isArray(location)) {
      message.rejects.push({ index: i, reason: "not_object" });
      continue;
    }
    const l = location as Record<string, unknown>;
    if (markedInvalid(l.valid)) {
      message.invalid++;
      continue;
    }
    const c = (typeof l.coords === "object" && l.coords !== null ? l.coords : {}) as Record<
      string,
      unknown
    >;
    const fix = toFix(
      {
        latitude: c.latitude,
        longitude: c.longitude,
        timestamp: l.timestamp,
        speed: nonNegative(c.speed, "invalid_speed"),
        heading: c.heading,
        accuracy: c.accuracy,
        altitude: c.altitude,
      },
      device.deviceId,
      receivedAt,
      notAfter,
    );
    if (typeof fix === "string") message.rejects.push({ index: i, reason: fix });
    else message.fixes.push(fix);
  }
  return message;
}

function rejectAll(reason: RejectReason): Reject {
  return { index: -1, reason };
}

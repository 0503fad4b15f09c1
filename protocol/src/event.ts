// Geofence events as published on `locus/geofence/events` and returned by the REST API: schema,
// deterministic ids, and building / encoding / reading the exact §3 payload.
import { createHash } from "node:crypto";
import type { Static } from "typebox";
import Type from "typebox";
import type { Fix } from "./fix.ts";
import { formatTs, parseTs, timeStringSchema } from "./time.ts";
import { VEHICLE_ID_PATTERN } from "./topics.ts";

/** Event types the hub emits. Consumers must ignore types they do not know. */
export const EVENT_TYPES = ["enter", "exit", "dwell"] as const;

export const EventTypeSchema = Type.Union(
  [Type.Literal("enter"), Type.Literal("exit"), Type.Literal("dwell")],
  { description: "enter: outside to inside; exit: inside to outside; dwell: inside long enough" },
);
export type EventType = Static<typeof EventTypeSchema>;

export const GeofenceEventSchema = Type.Object(
  {
    id: Type.String({
      description: "Deterministic id: the same transition always carries the same id",
    }),
    type: EventTypeSchema,
    vehicle_id: Type.String({ pattern: VEHICLE_ID_PATTERN.source, description: "Vehicle id" }),
    geofence_id: Type.String({ description: "Geofence id" }),
    geofence_name: Type.String({ description: "Geofence name when the event was detected" }),
    ts: timeStringSchema(
      "Time of the fix that caused the event, RFC 3339 UTC; for an interpolated event, the time interpolated along the way between two fixes",
    ),
    latitude: Type.Number({
      minimum: -90,
      maximum: 90,
      description: "Latitude of that fix (of the crossing point when interpolated)",
    }),
    longitude: Type.Number({
      minimum: -180,
      maximum: 180,
      description: "Longitude of that fix (of the crossing point when interpolated)",
    }),
    detected_at: timeStringSchema("When the hub decided the event, RFC 3339 UTC"),
    interpolated: Type.Optional(
      Type.Literal(true, {
        description:
          "Present (true) only on an enter or exit found between two fixes, neither inside the geofence (properties.detect_crossing): ts, latitude and longitude are interpolated along the straight line between them",
      }),
    ),
  },
  { description: "A geofence event" },
);
export type GeofenceEvent = Static<typeof GeofenceEventSchema>;

/** What identifies a transition: vehicle, fence, type and the triggering fix's ts and seq. */
export interface TransitionKey {
  vehicle_id: string;
  geofence_id: string;
  type: string;
  /** Epoch ms of the triggering fix (of the crossing, when interpolated). */
  ts: number;
  seq?: number;
  /** For an interpolated transition: the fix that ended the segment, and which pass it is. */
  crossing?: CrossingKey;
}

/** What tells interpolated transitions apart: the segment's end fix and the pass along it. */
export interface CrossingKey {
  /** Epoch ms of the fix that ended the segment. */
  fix_ts: number;
  /** Which of the fence's enters (or exits) along that segment, from 0. */
  ordinal: number;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * The id of the event a transition produces: a UUID-shaped string (version 8, RFC 9562 custom)
 * made from the SHA-256 of the transition's key, so a redelivered or recomputed event keeps its id.
 */
export function eventId(t: TransitionKey): string {
  // A JSON array is an unambiguous encoding: no choice of ids can make two keys collide. An
  // interpolated transition's key is longer, so it never equals a fix's own.
  const parts: unknown[] = [
    "locus-event-1",
    t.vehicle_id,
    t.geofence_id,
    t.type,
    t.ts,
    t.seq ?? null,
  ];
  if (t.crossing !== undefined) parts.push("crossing", t.crossing.fix_ts, t.crossing.ordinal);
  const key = JSON.stringify(parts);
  const b = createHash("sha256").update(key).digest();
  const h = (i: number): string => HEX[b[i] as number] as string;
  const version = HEX[((b[6] as number) & 0x0f) | 0x80] as string;
  const variant = HEX[((b[8] as number) & 0x3f) | 0x80] as string;
  return (
    `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${version}${h(7)}-${variant}${h(9)}-` +
    `${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`
  );
}

/** The fields of the triggering fix an event needs. */
export type EventFix = Pick<Fix, "vehicle_id" | "ts" | "seq" | "latitude" | "longitude">;

/** The §3 event for a transition caused by `fix` and decided at `detectedAt` (epoch ms). */
export function buildEvent(
  transition: { type: EventType; geofence_id: string },
  fix: EventFix,
  geofenceName: string,
  detectedAt: number,
): GeofenceEvent {
  const id = eventId({
    vehicle_id: fix.vehicle_id,
    geofence_id: transition.geofence_id,
    type: transition.type,
    ts: fix.ts,
    seq: fix.seq,
  });
  return eventAt(id, transition, fix.vehicle_id, fix, geofenceName, detectedAt);
}

/** The §3 fields of an event with its id, at `at`'s time and place. */
function eventAt(
  id: string,
  transition: { type: EventType; geofence_id: string },
  vehicleId: string,
  at: Pick<Fix, "ts" | "latitude" | "longitude">,
  geofenceName: string,
  detectedAt: number,
): GeofenceEvent {
  return {
    id,
    type: transition.type,
    vehicle_id: vehicleId,
    geofence_id: transition.geofence_id,
    geofence_name: geofenceName,
    ts: formatTs(at.ts),
    latitude: at.latitude,
    longitude: at.longitude,
    detected_at: formatTs(detectedAt),
  };
}

/** Where and when a segment between two fixes crossed a geofence's boundary. */
export interface Crossing {
  /** Which of the fence's enters (or exits) along the segment, from 0. */
  ordinal: number;
  /** Epoch ms, interpolated. */
  ts: number;
  latitude: number;
  longitude: number;
}

/**
 * The §3 event for an interpolated enter or exit on the segment that `fix` ended: the crossing's
 * time and place, `interpolated: true`, and an id that no fix's own transition can have.
 */
export function buildCrossingEvent(
  transition: { type: "enter" | "exit"; geofence_id: string },
  fix: Pick<Fix, "vehicle_id" | "ts" | "seq">,
  crossing: Crossing,
  geofenceName: string,
  detectedAt: number,
): GeofenceEvent {
  const id = eventId({
    vehicle_id: fix.vehicle_id,
    geofence_id: transition.geofence_id,
    type: transition.type,
    ts: crossing.ts,
    seq: fix.seq,
    crossing: { fix_ts: fix.ts, ordinal: crossing.ordinal },
  });
  const event = eventAt(id, transition, fix.vehicle_id, crossing, geofenceName, detectedAt);
  event.interpolated = true;
  return event;
}

/**
 * The MQTT payload of an event: exactly the §3 fields, in the §3 order, then `interpolated` where
 * it is true (an additive field consumers that do not know it ignore), nothing else.
 */
export function encodeEvent(event: GeofenceEvent): string {
  return JSON.stringify(toWireEvent(event));
}

/** Exactly the §3 fields, in the §3 order, and `interpolated` when true, whatever else it carries. */
export function toWireEvent(e: GeofenceEvent): GeofenceEvent {
  const wire: GeofenceEvent = {
    id: e.id,
    type: e.type,
    vehicle_id: e.vehicle_id,
    geofence_id: e.geofence_id,
    geofence_name: e.geofence_name,
    ts: e.ts,
    latitude: e.latitude,
    longitude: e.longitude,
    detected_at: e.detected_at,
  };
  if (e.interpolated === true) wire.interpolated = true;
  return wire;
}

function isEventType(v: unknown): v is EventType {
  return v === "enter" || v === "exit" || v === "dwell";
}

// Range checks fail for NaN on their own; the bounds keep Infinity (JSON's 1e999) out.
function isNumberIn(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && v >= min && v <= max;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads an event payload from the events topic; null when GeofenceEventSchema does not accept it
 * (so also for a type this version does not know, which consumers ignore). Never throws.
 */
export function decodeEvent(payload: Uint8Array | string): GeofenceEvent | null {
  let o: unknown;
  try {
    o = JSON.parse(typeof payload === "string" ? payload : utf8.decode(payload));
  } catch {
    return null;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return null;
  const e = o as Record<string, unknown>;
  if (
    typeof e.id !== "string" ||
    !isEventType(e.type) ||
    typeof e.vehicle_id !== "string" ||
    !VEHICLE_ID_PATTERN.test(e.vehicle_id) ||
    typeof e.geofence_id !== "string" ||
    typeof e.geofence_name !== "string" ||
    typeof e.ts !== "string" ||
    parseTs(e.ts) === null ||
    !isNumberIn(e.latitude, -90, 90) ||
    !isNumberIn(e.longitude, -180, 180) ||
    typeof e.detected_at !== "string" ||
    parseTs(e.detected_at) === null ||
    (e.interpolated !== undefined && e.interpolated !== true)
  ) {
    return null;
  }
  return toWireEvent(e as GeofenceEvent);
}

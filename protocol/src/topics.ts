// MQTT topic names of the Locus protocol (CONTRACT §3): building them for publishers and taking
// them apart for subscribers, with the vehicle id rule enforced in one place; and the status
// payload, the one message on them that is not JSON.
import type { Static } from "typebox";
import Type from "typebox";

/** A vehicle id as allowed in topics and payloads. */
export const VEHICLE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Subscription filter matching every vehicle's location topic. */
export const LOCATION_TOPIC_FILTER = "locus/vehicles/+/location";
/** Subscription filter matching every vehicle's status topic. */
export const STATUS_TOPIC_FILTER = "locus/vehicles/+/status";
/** Topic the hub publishes geofence events on. */
export const EVENTS_TOPIC = "locus/geofence/events";

const VEHICLES_PREFIX = "locus/vehicles/";
const LOCATION_SUFFIX = "/location";
const STATUS_SUFFIX = "/status";

/** True when `s` is a valid vehicle id. */
export function isVehicleId(s: string): boolean {
  return typeof s === "string" && VEHICLE_ID_PATTERN.test(s);
}

function requireVehicleId(vehicleId: string): void {
  if (!isVehicleId(vehicleId)) {
    throw new Error(
      `invalid vehicle id ${JSON.stringify(vehicleId)}: expected 1-64 characters of A-Z a-z 0-9 _ . -`,
    );
  }
}

/** The topic a vehicle publishes its fixes on; throws on an invalid vehicle id. */
export function locationTopic(vehicleId: string): string {
  requireVehicleId(vehicleId);
  return VEHICLES_PREFIX + vehicleId + LOCATION_SUFFIX;
}

/** The retained topic carrying a vehicle's `online` / `offline` status; throws on an invalid id. */
export function statusTopic(vehicleId: string): string {
  requireVehicleId(vehicleId);
  return VEHICLES_PREFIX + vehicleId + STATUS_SUFFIX;
}

// Slicing instead of a regex per message: this runs for every incoming fix message.
function parseVehicleTopic(topic: string, suffix: string): string | null {
  if (
    typeof topic !== "string" ||
    !topic.startsWith(VEHICLES_PREFIX) ||
    !topic.endsWith(suffix) ||
    topic.length <= VEHICLES_PREFIX.length + suffix.length
  ) {
    return null;
  }
  const id = topic.slice(VEHICLES_PREFIX.length, topic.length - suffix.length);
  // The pattern excludes "/", so "locus/vehicles/a/b/location" is refused here too.
  return VEHICLE_ID_PATTERN.test(id) ? id : null;
}

/** The vehicle id of a location topic, or null when `topic` is not exactly that shape. */
export function parseLocationTopic(topic: string): string | null {
  return parseVehicleTopic(topic, LOCATION_SUFFIX);
}

/** The vehicle id of a status topic, or null when `topic` is not exactly that shape. */
export function parseStatusTopic(topic: string): string | null {
  return parseVehicleTopic(topic, STATUS_SUFFIX);
}

/** The payloads allowed on a status topic. */
export const VEHICLE_STATUSES = ["online", "offline"] as const;

/** A status-topic payload, as text (not JSON): exactly `online` or `offline`. */
export const VehicleStatusSchema = Type.Union([Type.Literal("online"), Type.Literal("offline")], {
  description: "online, or offline (the agent's MQTT last will)",
});
export type VehicleStatus = Static<typeof VehicleStatusSchema>;

/** The status carried by a status-topic payload, or null when it is neither `online` nor `offline`. */
export function parseVehicleStatus(payload: Uint8Array | string): VehicleStatus | null {
  const text =
    typeof payload === "string"
      ? payload
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
  return text === "online" || text === "offline" ? text : null;
}

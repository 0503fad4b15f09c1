// Who may do what on MQTT (CONTRACT §3 "Who may do what"), as pure functions of the principal,
// the topic or filter, and where it matters the retain flag and payload. The brokers enforce it.

import { EVENTS_TOPIC, isVehicleId, parseVehicleStatus } from "@locus/protocol";
import type { Principal } from "./principal.ts";

/** Why a publish is refused; each is a label of the refusal metric. */
export type PublishRefusal =
  /** The topic is not one this principal may publish on. */
  | "forbidden_publish"
  /** A location or status topic with a malformed vehicle id, from who may publish for any. */
  | "bad_topic"
  /** The topic is one it may publish on, but not retained. */
  | "forbidden_retain"
  /** A status topic carrying anything but `online` or `offline`. */
  | "bad_status";

export type PublishVerdict = { ok: true } | { ok: false; reason: PublishRefusal };

const ALLOWED: PublishVerdict = { ok: true };
const refuse = (reason: PublishRefusal): PublishVerdict => ({ ok: false, reason });

/** The topic kinds a client may publish on, recognised from the topic's levels alone. */
type PublishTopic =
  | { kind: "location"; vehicleId: string }
  | { kind: "status"; vehicleId: string }
  /** `owntracks/{user}/{device}` and deeper (events, commands, waypoints of the app). */
  | { kind: "owntracks"; user: string; depth: number };

function classify(topic: string): PublishTopic | null {
  const levels = topic.split("/");
  if (levels.length === 4 && levels[0] === "locus" && levels[1] === "vehicles") {
    const id = levels[2] as string;
    if (!isVehicleId(id)) return null;
    if (levels[3] === "location") return { kind: "location", vehicleId: id };
    if (levels[3] === "status") return { kind: "status", vehicleId: id };
    return null;
  }
  if (levels.length >= 3 && levels[0] === "owntracks") {
    const user = levels[1] as string;
    // Every level after the user must be a name: "owntracks/u/" or "owntracks/u//x" are not.
    if (!isVehicleId(user) || levels.slice(2).some((l) => l === "")) return null;
    return { kind: "owntracks", user, depth: levels.length };
  }
  return null;
}

/** Whether `principal` may publish on `topic` at all, whatever the payload. */
function mayPublishOn(principal: Principal, target: PublishTopic): boolean {
  switch (principal.kind) {
    case "vehicle":
      return (target.kind === "owntracks" ? target.user : target.vehicleId) === principal.id;
    case "anonymous":
      // Fixes and status for any vehicle, OwnTracks only as `owntracks/{user}/{device}`.
      return target.kind !== "owntracks" || target.depth === 3;
    case "client":
      return false;
  }
}

/**
 * May `principal` publish this message? Retained messages only on status and OwnTracks topics;
 * a status message only `online` or `offline`, whoever sends it. Only the hub publishes events,
 * and it does not go through here.
 */
/** Shaped like a vehicle's location or status topic, whatever stands for the id. */
const MALFORMED_VEHICLE_TOPIC = /^locus\/vehicles\/.*\/(location|status)$/s;

export function mayPublish(
  principal: Principal,
  topic: string,
  retain: boolean,
  payload: Uint8Array,
): PublishVerdict {
  const target = classify(topic);
  // A location or status topic whose id is not an id (65 characters, `a/b`, empty, spaces),
  // from a client that may publish for any vehicle: bad input rather than a trespass, counted as
  // such. (For a vehicle it is not its own topic, and other roles publish nothing: refused.)
  if (target === null && principal.kind === "anonymous" && MALFORMED_VEHICLE_TOPIC.test(topic)) {
    return refuse("bad_topic");
  }
  if (target === null || !mayPublishOn(principal, target)) return refuse("forbidden_publish");
  if (target.kind === "status" && parseVehicleStatus(payload) === null) {
    return refuse("bad_status");
  }
  if (retain && target.kind === "location") return refuse("forbidden_retain");
  return ALLOWED;
}

/**
 * Whether `filter` is a well-formed MQTT filter whose first levels are exactly `base` (no
 * wildcard there), so it matches nothing outside `base/#`.
 */
function within(filter: string[], base: readonly string[]): boolean {
  if (filter.length < base.length) return false;
  return base.every((level, i) => filter[i] === level);
}

/** A filter's levels, or null when it is not a valid MQTT filter (`#` last and alone, `+` alone). */
function filterLevels(filter: string): string[] | null {
  if (filter === "") return null;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) return null;
    if (level.includes("+") && level !== "+") return null;
  }
  return levels;
}

/** `locus/vehicles/{one vehicle or +}/{location|status}`: what an observer may watch. */
function isVehicleFeed(levels: string[]): boolean {
  return (
    levels.length === 4 &&
    levels[0] === "locus" &&
    levels[1] === "vehicles" &&
    (levels[2] === "+" || isVehicleId(levels[2] as string)) &&
    (levels[3] === "location" || levels[3] === "status")
  );
}

/**
 * May `principal` subscribe to `filter`? A filter is allowed only when every topic it can match
 * is one the principal may read, so wildcards never widen access (`#`, `locus/#`, `$SYS/#` and
 * another vehicle's topics are refused).
 */
export function maySubscribe(principal: Principal, filter: string): boolean {
  const levels = filterLevels(filter);
  if (levels === null) return false;
  switch (principal.kind) {
    case "vehicle":
      return (
        within(levels, ["locus", "vehicles", principal.id]) ||
        within(levels, ["owntracks", principal.id])
      );
    case "client":
      if (filter === EVENTS_TOPIC) return true;
      return principal.role === "observer" && isVehicleFeed(levels);
    case "anonymous":
      return filter === EVENTS_TOPIC;
  }
}

/**
 * May `principal` receive a message on `topic`? The same rights as maySubscribe, for a topic
 * rather than a filter: a broker checks it again on delivery, where a session's queued messages
 * could otherwise reach whoever takes the session over.
 */
export function mayReceive(principal: Principal, topic: string): boolean {
  if (topic.includes("+") || topic.includes("#")) return false;
  return maySubscribe(principal, topic);
}

/** Every reason an MQTT broker of the hub's refuses something, for the refusal metric's labels. */
export const MQTT_REFUSALS = [
  "bad_credentials",
  "anonymous_not_allowed",
  "client_id_taken",
  "forbidden_publish",
  "bad_topic",
  "forbidden_retain",
  "bad_status",
  "retained_limit",
  "forbidden_subscribe",
] as const;

export type MqttRefusal = (typeof MQTT_REFUSALS)[number];

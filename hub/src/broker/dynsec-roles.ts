// The rights of CONTRACT §3 "Who may do what" as roles of Mosquitto's dynamic security plugin.
// Mosquitto 2.0 does not substitute %u in these ACLs (tested), so each vehicle gets a role of its
// own naming its own topics; the other principals share one role per kind.

import { LOCATION_TOPIC_FILTER, STATUS_TOPIC_FILTER } from "@locus/protocol";
import type { ClientRole } from "../identity/principal.ts";
import { DYNSEC_RESPONSE_TOPIC, DYNSEC_TOPIC } from "./dynsec-client.ts";

export type AclType =
  | "publishClientSend"
  | "publishClientReceive"
  | "subscribeLiteral"
  | "subscribePattern"
  | "unsubscribeLiteral"
  | "unsubscribePattern";

export interface Acl {
  acltype: AclType;
  topic: string;
  allow: boolean;
  priority?: number;
}

const EVENTS_TOPIC = "locus/geofence/events";
const CLIENTS_CONNECTED_TOPIC = "$SYS/broker/clients/connected";

/** The roles the hub keeps in the broker, by name. */
export const HUB_ROLE = "locus-hub";
export const EVENTS_ROLE = "locus-events";
export const OBSERVER_ROLE = "locus-observer";
export const ANONYMOUS_ROLE = "locus-anonymous";
/** The group Mosquitto puts clients without a username in. */
export const ANONYMOUS_GROUP = "locus-anonymous";

const VEHICLE_ROLE_PREFIX = "locus-vehicle-";
/** CONTRACT §3: the id is the username and a topic level, so no wildcard or separator gets in. */
const VEHICLE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const allow = (acltype: AclType, topic: string): Acl => ({ acltype, topic, allow: true });

/**
 * Anything not granted is refused: publishing and subscribing are denied unless a role allows
 * them; receiving and unsubscribing are allowed (what a client receives is bounded by what it
 * may subscribe to).
 */
export const DEFAULT_ACL_ACCESS = [
  { acltype: "publishClientSend", allow: false },
  { acltype: "publishClientReceive", allow: true },
  { acltype: "subscribe", allow: false },
  { acltype: "unsubscribe", allow: true },
] as const;

/**
 * The hub: reads fixes, statuses and OwnTracks messages, publishes events, reads the $SYS
 * client count, and administers the dynamic security plugin. It publishes no fix.
 */
export const HUB_ACLS: readonly Acl[] = [
  allow("publishClientSend", EVENTS_TOPIC),
  allow("subscribePattern", LOCATION_TOPIC_FILTER),
  allow("subscribePattern", STATUS_TOPIC_FILTER),
  allow("subscribePattern", "owntracks/#"),
  allow("subscribeLiteral", CLIENTS_CONNECTED_TOPIC),
  allow("publishClientSend", DYNSEC_TOPIC),
  allow("subscribeLiteral", DYNSEC_RESPONSE_TOPIC),
  // Topics starting with $ are not delivered by the default "receive: allow" (tested).
  allow("publishClientReceive", CLIENTS_CONNECTED_TOPIC),
  allow("publishClientReceive", DYNSEC_RESPONSE_TOPIC),
];

export const EVENTS_ACLS: readonly Acl[] = [allow("subscribeLiteral", EVENTS_TOPIC)];

/** Events, and every vehicle's fixes and status (any one vehicle's, or all with +). */
export const OBSERVER_ACLS: readonly Acl[] = [
  allow("subscribeLiteral", EVENTS_TOPIC),
  allow("subscribePattern", LOCATION_TOPIC_FILTER),
  allow("subscribePattern", STATUS_TOPIC_FILTER),
];

/** Fixes and status for any vehicle, and the events; nothing else (where anonymous is allowed). */
export const ANONYMOUS_ACLS: readonly Acl[] = [
  allow("publishClientSend", LOCATION_TOPIC_FILTER),
  allow("publishClientSend", STATUS_TOPIC_FILTER),
  allow("publishClientSend", "owntracks/+/+"),
  allow("subscribeLiteral", EVENTS_TOPIC),
];

/** The role name of a vehicle's own rights. */
export function vehicleRole(vehicleId: string): string {
  return `${VEHICLE_ROLE_PREFIX}${vehicleId}`;
}

/** A vehicle's own topics: its fixes, its status and its OwnTracks messages, to send and read. */
export function vehicleAcls(vehicleId: string): Acl[] {
  if (!VEHICLE_ID.test(vehicleId)) {
    throw new Error(`"${vehicleId}" is not a vehicle id (1-64 of A-Z a-z 0-9 _ . -)`);
  }
  return [
    allow("publishClientSend", `locus/vehicles/${vehicleId}/location`),
    allow("publishClientSend", `locus/vehicles/${vehicleId}/status`),
    allow("publishClientSend", `owntracks/${vehicleId}/#`),
    allow("subscribePattern", `locus/vehicles/${vehicleId}/#`),
    allow("subscribePattern", `owntracks/${vehicleId}/#`),
  ];
}

/** The shared role of event consumers and observers. */
export function clientRoleName(role: ClientRole): string {
  return role === "events" ? EVENTS_ROLE : OBSERVER_ROLE;
}

/** The shared roles the hub keeps, with their rights. */
export const SHARED_ROLES: ReadonlyMap<string, readonly Acl[]> = new Map([
  [HUB_ROLE, HUB_ACLS],
  [EVENTS_ROLE, EVENTS_ACLS],
  [OBSERVER_ROLE, OBSERVER_ACLS],
  [ANONYMOUS_ROLE, ANONYMOUS_ACLS],
]);

/** Whether two ACL lists grant the same (order and the default priority aside). */
export function sameAcls(a: readonly Acl[], b: readonly Acl[]): boolean {
  const key = (x: Acl) => `${x.acltype} ${x.allow} ${x.priority ?? 0} ${x.topic}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.length === right.length && left.every((k, i) => k === right[i]);
}

// The shapes the page receives from the hub: REST answers (CONTRACT §5) and stream messages.

import type { Feature, FeatureCollection, LineString, MultiPolygon, Point, Polygon } from "geojson";

/** A location fix as the hub answers it (CONTRACT §3): times are RFC 3339 strings. */
export interface Fix {
  vehicle_id?: string;
  latitude: number;
  longitude: number;
  ts: string;
  seq?: number;
  speed?: number;
  heading?: number;
  accuracy?: number;
  altitude?: number;
}

/** Online/offline as the agent last said it; unknown before its first status message. */
export type ReportedStatus = "online" | "offline" | "unknown";

/** A vehicle as `GET /api/v1/vehicles` lists it. */
export interface Vehicle {
  id: string;
  name?: string;
  last_fix: Fix | null;
  geofences: string[];
  status: ReportedStatus;
}

/** What the map shows: offline, or stale when the newest fix is too old, or online. */
export type ShownStatus = "online" | "offline" | "stale";

export interface GeofenceProperties {
  name: string;
  created_at?: string;
  updated_at?: string;
  /** A circle's radius (with a Point geometry), metres. */
  radius_m?: number;
  /** A corridor's full width (with a LineString geometry), metres. */
  width_m?: number;
  /** Set by earlier versions of this editor on a polygon drawn as a circle: centre and radius. */
  drawn_as?: "circle";
  circle_center?: [number, number];
  circle_radius_m?: number;
  [key: string]: unknown;
}

/** A polygon geofence, a circle (a Point with radius_m) or a corridor (a LineString with width_m). */
export type GeofenceFeature = Feature<
  Polygon | MultiPolygon | Point | LineString,
  GeofenceProperties
> & { id: string };

export interface GeofenceEvent {
  id: string;
  type: string;
  vehicle_id: string;
  geofence_id: string;
  geofence_name?: string;
  ts: string;
  latitude?: number;
  longitude?: number;
  detected_at?: string;
}

export type Access = "admin" | "read";

export type StreamMessage =
  | {
      type: "snapshot";
      role?: Access;
      vehicles: Vehicle[];
      geofences: FeatureCollection;
      stale_after_s?: number;
    }
  | { type: "fixes"; fixes: Fix[] }
  | { type: "event"; event: GeofenceEvent }
  | { type: "geofence"; op: "upsert"; geofence: GeofenceFeature }
  | { type: "geofence"; op: "delete"; id: string }
  | { type: "status"; vehicle_id: string; status: "online" | "offline" };

// What the REST API needs from the rest of the hub, so it can be built and tested on its own.

import type { Registry } from "prom-client";
import type { AccountService } from "../identity/accounts.ts";
import type { LoginLinks } from "../identity/login-links.ts";
import type { DeviceFixes } from "../ingest/device-fixes.ts";
import type { StreamLimits, StreamMetrics } from "../live/clients.ts";
import type { LiveFeed } from "../live/feed.ts";
import type { GeofenceRecord, Store } from "../store/store.ts";
import type { WebhookRegistry } from "../webhooks/dispatcher.ts";

/** Keeps the live geofence engine in step with the stored geofences. */
export interface FenceRegistry {
  /** Called after a geofence was stored (created or replaced); a promise it returns is awaited. */
  upsert(record: GeofenceRecord): unknown;
  /** Called after a geofence was deleted; a promise it returns is awaited. */
  remove(id: string): unknown;
  /** Whether the engine knows this geofence (memberships of deleted ones are not shown). */
  has(id: string): boolean;
  /** The vehicles inside a geofence now, by id in order. */
  vehiclesInside(id: string): string[] | Promise<string[]>;
}

export interface HealthReport {
  ok: boolean;
  /** One entry per dependency: "ok", or what is wrong. */
  checks: Record<string, string>;
}

/** The live stream (GET /api/v1/stream): its feed and limits. */
export interface StreamDeps {
  feed: LiveFeed;
  limits: StreamLimits;
  /** How long a new connection has to send its auth message, ms. */
  authTimeoutMs: number;
  metrics: StreamMetrics;
}

export interface ApiDeps {
  store: Store;
  fences: FenceRegistry;
  /**
   * The configured bearer token: an admin token, alongside those issued through /api/v1/tokens.
   * Every /api/v1 route but health, and /metrics, require one.
   */
  token: string;
  /** MQTT accounts and issued REST tokens (CONTRACT §3, §5). */
  accounts: AccountService;
  /** One-time codes of the map's login links, exchanged for the token at POST /api/v1/login. */
  loginLinks: LoginLinks;
  metrics: Registry;
  health(): Promise<HealthReport>;
  /** Request bodies over this many bytes get 413. */
  bodyLimitBytes: number;
  /** Vertex cap per geofence (CONTRACT §5: 100,000). */
  maxVertices: number;
  /** The live map's online style (LOCUS_MAP_STYLE_URL); absent or null: its offline basemap. */
  mapStyleUrl?: string | null;
  /** Absent: GET /api/v1/stream answers 426 and takes no connections. */
  stream?: StreamDeps;
  /** Fixes from phones, trackers and imports (CONTRACT §5, §9); absent: those routes are not served. */
  devices?: DeviceFixes;
  /** Webhooks (CONTRACT §5): creates, replaces and deletes them with their delivery loops; absent: the webhook routes are not served. */
  webhooks?: WebhookRegistry;
}

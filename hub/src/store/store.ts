// The hub's storage interface: geofences, fixes, vehicle state and the event outbox.
// SQLite implements it for the embedded hub; PostgreSQL for production. One contract suite tests both.

import type { Fix, GeofenceEvent } from "@locus/protocol";
import type { CircleShape, CorridorShape, MultiPolygonCoords } from "../geofence/fence.ts";
import type { VehicleState } from "../geofence/membership.ts";
import type { ClientRole, TokenRole } from "../identity/principal.ts";

export type GeometryType = "Polygon" | "MultiPolygon" | "Point" | "LineString";

/** A geofence as stored: the validated geometry plus what the API returns. */
export interface GeofenceRecord {
  id: string;
  name: string;
  /**
   * Rises by one with each change of the stored row, in a store that announces changes to other
   * hubs (PostgreSQL; starts at 1); absent elsewhere.
   */
  version?: number;
  /**
   * The geometry type the client sent; a Polygon is stored as a MultiPolygon of one, a Point is a
   * circle and a LineString a corridor.
   */
  geometry_type: GeometryType;
  /** The polygons; empty for a circle or a corridor. */
  polygons: MultiPolygonCoords;
  /** Set for a Point geometry (with `properties.radius_m`). */
  circle?: CircleShape;
  /** Set for a LineString geometry (with `properties.width_m`). */
  corridor?: CorridorShape;
  /** The Feature's other properties, kept as sent (jitter settings included). */
  properties: Record<string, unknown>;
  hysteresis_m: number | null;
  max_accuracy_m: number | null;
  dwell_s: number | null;
  /** Whether crossings between fixes are reported (`properties.detect_crossing` true). */
  detect_crossing: boolean;
  created_at: number;
  updated_at: number;
}

export type GeofenceInput = Omit<GeofenceRecord, "id" | "created_at" | "updated_at" | "version"> & {
  /**
   * `polygons` as JSON text when it was produced already (a big geometry is stringified on the
   * geometry worker): a store that keeps JSON text takes it as is. Not part of the record.
   */
  polygons_json?: string;
};

/** A vehicle's judged state and newest applied fix, written in the same transaction as its fixes. */
export interface VehicleUpdate {
  vehicle_id: string;
  state: VehicleState;
  last_fix: Fix;
  /**
   * The version of the stored state this update was judged from (0: none stored). A store that
   * several hubs share writes `base_version + 1` and refuses the whole group commit with
   * StateConflict when the stored version differs. Absent: written whatever is stored (tools,
   * tests); the hub's engine always sets it.
   */
  base_version?: number;
}

/** A vehicle's stored state and its version: how many times the state was written. */
export interface VersionedState {
  state: VehicleState;
  version: number;
}

/**
 * A group commit refused, with nothing of it written, because a vehicle's stored state is newer
 * than the one it was judged from: another hub wrote it. The caller re-reads and judges again.
 */
export class StateConflict extends Error {
  constructor(
    /** The vehicle found changed (one of them, when several were). */
    readonly vehicleId: string,
    options?: ErrorOptions,
  ) {
    super(
      `the state of vehicle ${vehicleId} was changed by another hub since it was read`,
      options,
    );
    this.name = "StateConflict";
  }
}

/** A fix's identity when it carried its own ts: fixes without one are never duplicates. */
export interface FixKey {
  vehicle_id: string;
  ts: number;
  /** null when the fix has no seq. */
  seq: number | null;
}

/** One group commit: what the engine decided about the fresh fixes, written atomically. */
export interface GroupCommit {
  /** Fixes not stored yet, in arrival order (the caller has removed duplicates). */
  fixes: readonly Fix[];
  vehicles: readonly VehicleUpdate[];
  /** Events to append to the outbox; an event id already stored is skipped. */
  events: readonly GeofenceEvent[];
  /**
   * Only with several hubs on the engine (PostgreSQL): the partitions whose fixes this commit
   * carries, under the fencing tokens this hub holds them by. A store refuses the whole commit
   * with Fenced when another hub has claimed one of them under a higher token since.
   */
  claims?: readonly PartitionClaim[];
}

/** A hub's hold on one partition of the fleet (docs/scaling.md). */
export interface PartitionClaim {
  partition: number;
  /** The fencing token the store gave the claim: higher for every later owner. */
  token: number;
  /** Which hub holds it (for the operator reading partition_claims). */
  owner: string;
  /**
   * In a commit: the engine's stream sequence of the partition's newest message whose fixes it
   * carries. The stored one only rises.
   */
  seq?: number;
  /**
   * In a commit: the sequence of the message just before the first one carried. The store
   * refuses the commit with Fenced (`gap`) unless the partition is committed up to there.
   */
  follows?: number;
}

/**
 * Thrown by a store's commit: a partition is claimed by another hub under a higher
 * fencing token. Nothing was written; this hub no longer owns the partition.
 */
export class Fenced extends Error {
  constructor(
    readonly partition: number,
    options?: ErrorOptions,
  ) {
    super(`partition ${partition} has been claimed by another hub`, options);
    this.name = "Fenced";
  }
}

/**
 * Thrown by a store's commit: it carries messages of a partition whose earlier messages are not
 * committed (an earlier commit failed). Nothing was written; the partition reads again from what
 * is committed.
 */
export class PartitionGap extends Error {
  constructor(
    readonly partition: number,
    options?: ErrorOptions,
  ) {
    super(`partition ${partition}: earlier messages are not committed yet`, options);
    this.name = "PartitionGap";
  }
}

/** A group commit that is committed: later reads and commits see it. */
export interface Committed {
  /** The events written to the outbox, with their outbox positions, in order. */
  events: OutboxEvent[];
  /**
   * Settles once the commit is durable (or rejects when it cannot be made so). A store whose
   * durability comes after the commit, such as SQLite's, lets the next group commit be written
   * while this one reaches the disk.
   */
  durable: Promise<void>;
}

export interface OutboxEvent {
  /** Position in the outbox: publication order. */
  seqno: number;
  event: GeofenceEvent;
}

export interface VehicleRecord {
  id: string;
  /** The name given when it was registered (POST /api/v1/vehicles); absent when none was. */
  name?: string;
  last_fix: Fix | null;
  state: VehicleState;
  status: "online" | "offline" | "unknown";
}

export interface Page {
  limit: number;
  /** Return items strictly after this id (ids sort in creation order). */
  after?: string;
}

export interface TimeRange {
  from?: number;
  to?: number;
  limit: number;
}

export interface EventFilter extends TimeRange {
  vehicle_id?: string;
  geofence_id?: string;
  type?: string;
}

/** An MQTT account (CONTRACT §3): a vehicle's (username = its id) or a client's. */
export interface AccountRecord {
  username: string;
  kind: "vehicle" | "client";
  /** A client's role; null for a vehicle. */
  role: ClientRole | null;
  /** `scrypt$N$r$p$salt$hash` (identity/secrets.ts); never the password itself. */
  password_hash: string;
  created_at: number;
}

/** A REST token issued through POST /api/v1/tokens, kept as the SHA-256 digest of its secret. */
export interface TokenRecord {
  name: string;
  role: TokenRole;
  /** Hex SHA-256 of the token (identity/secrets.ts tokenDigest). */
  digest: string;
  created_at: number;
}

/** Where MQTT accounts and REST tokens are kept: sqlite-accounts.ts, postgres-accounts.ts. */
export interface AccountStore {
  /**
   * Registers a vehicle: its MQTT account, and its vehicle row (created with no fix when new, its
   * name set). false, with nothing written, when an account with this username exists already.
   */
  registerVehicle(
    account: AccountRecord & { kind: "vehicle" },
    name: string | null,
  ): Promise<boolean>;
  /**
   * Removes a vehicle's account and its vehicle row (state, last fix, status); with `purge` also
   * its fixes and events. false when there was nothing of it to remove.
   */
  deleteVehicle(id: string, purge: boolean): Promise<boolean>;
  /**
   * Creates a client's account. false, with nothing written, when the username is taken by any
   * account or by a vehicle the hub has seen (registered or not).
   */
  createClientAccount(account: AccountRecord & { kind: "client" }): Promise<boolean>;
  getAccount(username: string): Promise<AccountRecord | null>;
  /** Accounts of one kind in username order, after `page.after`. */
  listAccounts(kind: AccountRecord["kind"], page: Page): Promise<AccountRecord[]>;
  /** Replaces an account's password hash; false when there is no such account. */
  setAccountPassword(username: string, passwordHash: string): Promise<boolean>;
  /** Removes an account of this kind; false when there is none. */
  deleteAccount(username: string, kind: AccountRecord["kind"]): Promise<boolean>;

  /** Stores a token; false, with nothing written, when the name (or the digest) is taken. */
  createToken(token: TokenRecord): Promise<boolean>;
  tokenByDigest(digest: string): Promise<TokenRecord | null>;
  /** Tokens in name order, after `page.after`. */
  listTokens(page: Page): Promise<TokenRecord[]>;
  deleteToken(name: string): Promise<boolean>;
}

/** A webhook (CONTRACT §5, docs/webhooks.md) as stored. */
export interface WebhookRecord {
  id: string;
  url: string;
  /** Kept as given: the hub signs with it. Never answered or logged. null: no signature. */
  secret: string | null;
  /** Event types it wants; null: every type. */
  types: string[] | null;
  /** Geofences whose events it wants; null: every geofence. */
  geofence_ids: string[] | null;
  created_at: number;
  updated_at: number;
  /**
   * Outbox position of the newest event this webhook is done with (delivered, given up, or not
   * wanted by its filters). Delivery resumes after it; it only moves forward.
   */
  cursor: number;
}

export type WebhookInput = Pick<WebhookRecord, "url" | "secret" | "types" | "geofence_ids">;

/** One attempt to deliver an event to a webhook, as its deliveries log keeps it. */
export interface DeliveryRecord {
  event_id: string;
  /** 1 for the first attempt at this event, then 2, 3, … */
  attempt: number;
  /** The HTTP status answered; null when there was no answer. */
  status: number | null;
  /** Why the attempt failed (no answer, a refused address, a redirect …); null when it delivered. */
  error: string | null;
  /** delivered (2xx), retrying (another attempt follows), or failed (given up: the webhook moves on). */
  outcome: "delivered" | "retrying" | "failed";
  at: number;
}

/** Where webhooks, their cursors and their deliveries logs are kept: sqlite-webhooks.ts, postgres-webhooks.ts. */
export interface WebhookStore {
  /**
   * Stores a new webhook whose cursor is the newest event committed so far, so it receives the
   * events committed after it. null, with nothing written, when `max` webhooks exist already.
   */
  create(input: WebhookInput, now: number, max: number): Promise<WebhookRecord | null>;
  /** Replaces url, secret and filters, keeping the cursor; null when there is no such webhook. */
  replace(id: string, input: WebhookInput, now: number): Promise<WebhookRecord | null>;
  /** Removes a webhook and its deliveries log; false when there was none. */
  delete(id: string): Promise<boolean>;
  get(id: string): Promise<WebhookRecord | null>;
  /** Webhooks in id (creation) order, after `page.after`. */
  list(page: Page): Promise<WebhookRecord[]>;
  /**
   * Events after outbox position `after`, in outbox order, whether or not MQTT has had them;
   * only events whose commit is durable.
   */
  eventsAfter(after: number, limit: number): Promise<OutboxEvent[]>;
  /**
   * Takes or renews, for `owner` (one hub), the right to deliver a webhook's events for the next
   * `ttlMs` (by the store's clock), so that hubs sharing a database do not deliver one webhook
   * at once: `{cursor}` (the stored cursor) when `owner` holds it now, "held" while another owner
   * does, "gone" when there is no such webhook.
   */
  claim(id: string, owner: string, ttlMs: number): Promise<{ cursor: number } | "held" | "gone">;
  /** Gives up `owner`'s claim (a clean stop), so another hub need not wait for it to lapse. */
  release(id: string, owner: string): Promise<void>;
  /** Moves a webhook's cursor forward to `cursor` (never back). */
  advance(id: string, cursor: number): Promise<void>;
  /** Appends an attempt to a webhook's deliveries log, keeping only its newest `keep` entries. */
  logAttempt(id: string, entry: DeliveryRecord, keep: number): Promise<void>;
  /** A webhook's newest `limit` log entries, newest first. */
  deliveries(id: string, limit: number): Promise<DeliveryRecord[]>;
  /** The outbox position of the newest committed event; 0 when there is none. */
  latestSeqno(): Promise<number>;
}

export interface Store {
  /** "sqlite" or "postgres": shown by health and metrics. */
  readonly kind: string;

  createGeofence(input: GeofenceInput, now: number): Promise<GeofenceRecord>;
  /** null when there is no geofence with this id. */
  replaceGeofence(id: string, input: GeofenceInput, now: number): Promise<GeofenceRecord | null>;
  deleteGeofence(id: string): Promise<boolean>;
  getGeofence(id: string): Promise<GeofenceRecord | null>;
  listGeofences(page: Page): Promise<GeofenceRecord[]>;
  /** Every geofence, to load the index at start. */
  allGeofences(): Promise<GeofenceRecord[]>;

  /**
   * For each vehicle, the newest ts among its stored fixes; vehicles without fixes are absent.
   * With `stored`, it is how the caller finds duplicates before judging.
   */
  newestFixTs(vehicleIds: readonly string[]): Promise<Map<string, number>>;
  /** For each key, whether a fix with that identity (and its own ts) is stored. */
  storedFixes(keys: readonly FixKey[]): Promise<boolean[]>;
  /**
   * Writes one group commit in one transaction: the fixes, the vehicles' states and last fixes,
   * and the events. Resolves once committed; nothing of it is written when it rejects.
   */
  commit(batch: GroupCommit): Promise<Committed>;
  /** Every vehicle's judged state, to warm the engine at start. */
  vehicleStates(): Promise<Map<string, VehicleState>>;
  /**
   * Only in a store several hubs may share (PostgreSQL), whose commit checks `base_version`: the
   * states with their versions, of the vehicles named (those stored; all when `ids` is absent).
   */
  versionedStates?(ids?: readonly string[]): Promise<Map<string, VersionedState>>;
  /**
   * Only in a store several hubs may share: claims a newly taken partition for `owner` under a
   * fencing token higher than every earlier claim's, so that the previous owner's commits fail
   * from now on, and answers it with the stream sequence the partition is committed up to (0:
   * none).
   */
  claimPartition?(
    partition: number,
    owner: string,
  ): Promise<{ token: number; committedSeq: number }>;
  /**
   * Only in a store several hubs may share: the vehicles whose stored state is inside the
   * geofence, by id in order (each hub's engine holds only the vehicles it judged).
   */
  vehiclesInside?(geofenceId: string): Promise<string[]>;
  setVehicleStatus(vehicleId: string, status: "online" | "offline", at: number): Promise<void>;

  listVehicles(page: Page): Promise<VehicleRecord[]>;
  getVehicle(id: string): Promise<VehicleRecord | null>;
  /** A vehicle's fixes in ts order within [from, to]. */
  locations(vehicleId: string, range: TimeRange): Promise<Fix[]>;
  /** Stored events in ts order (then outbox order). */
  events(filter: EventFilter): Promise<GeofenceEvent[]>;

  /** The oldest undelivered outbox events after seqno `after`, in outbox order. */
  undelivered(after: number, limit: number): Promise<OutboxEvent[]>;
  markDelivered(seqnos: readonly number[]): Promise<void>;
  outboxDepth(): Promise<number>;

  /**
   * Optional second opinion on a geometry that passed validateGeometry, from the database that
   * will hold it (PostGIS ST_IsValidDetail): null when valid, else the reason, to answer 400 with.
   */
  checkGeometry?(polygons: MultiPolygonCoords): Promise<string | null>;

  /** MQTT accounts and REST tokens (CONTRACT §3, §5). */
  readonly accounts: AccountStore;

  /** Webhooks, their delivery cursors and deliveries logs (CONTRACT §5). */
  readonly webhooks: WebhookStore;

  /**
   * Retention: deletes at most `limit` fixes and delivered events whose ts is before `before`
   * (epoch ms), in one short step; returns how many rows went, 0 once none older is left.
   * Undelivered events are never deleted, however old, nor events after any webhook's cursor
   * (not yet delivered to it or given up).
   */
  deleteOlderThan(before: number, limit: number): Promise<number>;

  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

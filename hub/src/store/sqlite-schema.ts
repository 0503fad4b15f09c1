// The SQLite schema, as numbered migrations tracked in PRAGMA user_version.

import type Database from "better-sqlite3";

/** Each entry moves the schema up one version. Never edit a released entry; append a new one. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE geofences (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    geometry_type TEXT NOT NULL,
    polygons TEXT NOT NULL,
    properties TEXT NOT NULL,
    hysteresis_m REAL,
    max_accuracy_m REAL,
    dwell_s REAL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- The key is the fix's identity: vehicle, ts and seq (-1 when absent). A fix without ts gets a
  -- random nonce, so it never collides; a fix with ts has nonce 0, so a redelivery collides.
  -- The same key serves history reads by (vehicle_id, ts).
  CREATE TABLE fixes (
    vehicle_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    seq_key INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    speed REAL,
    heading REAL,
    accuracy REAL,
    altitude REAL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (vehicle_id, ts, seq_key, nonce)
  ) WITHOUT ROWID;

  CREATE TABLE vehicles (
    id TEXT PRIMARY KEY,
    last_fix TEXT,
    state TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unknown',
    status_at INTEGER
  ) WITHOUT ROWID;

  -- Events are the outbox too: seqno is publication order, delivered flips once published.
  CREATE TABLE events (
    seqno INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    geofence_id TEXT NOT NULL,
    geofence_name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    detected_at INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX events_undelivered ON events (seqno) WHERE delivered = 0;
  CREATE INDEX events_ts ON events (ts, seqno);
  CREATE INDEX events_vehicle_ts ON events (vehicle_id, ts, seqno);
  CREATE INDEX events_geofence_ts ON events (geofence_id, ts, seqno);
  `,
  // 2: event ids are no longer a UNIQUE index. Ids are hashes, so that index took one write to a
  // random page per event, the largest part of an event's cost. An id is derived from the
  // vehicle and the fix's ts (among others), so the store checks for it through
  // events_vehicle_ts instead, whose pages a vehicle's events share.
  `
  CREATE TABLE events_v2 (
    seqno INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    geofence_id TEXT NOT NULL,
    geofence_name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    detected_at INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO events_v2 (seqno, id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at, delivered)
    SELECT seqno, id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at, delivered
    FROM events ORDER BY seqno;
  -- Carry the AUTOINCREMENT counter over, so seqnos keep rising from where they were.
  DELETE FROM sqlite_sequence WHERE name = 'events_v2';
  UPDATE sqlite_sequence SET name = 'events_v2' WHERE name = 'events';
  DROP TABLE events;
  ALTER TABLE events_v2 RENAME TO events;
  CREATE INDEX events_undelivered ON events (seqno) WHERE delivered = 0;
  CREATE INDEX events_ts ON events (ts, seqno);
  CREATE INDEX events_vehicle_ts ON events (vehicle_id, ts, seqno);
  CREATE INDEX events_geofence_ts ON events (geofence_id, ts, seqno);
  `,
  // 3: fixes arrive in fixes_recent, a plain append-only table, and move into fixes (clustered by
  // vehicle) in bulk later (see sqlite-fixes.ts). A group commit of fixes from many vehicles
  // wrote one page of fixes per vehicle; now it appends to one or two.
  `
  CREATE TABLE fixes_recent (
    vehicle_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    seq_key INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    speed REAL,
    heading REAL,
    accuracy REAL,
    altitude REAL,
    received_at INTEGER NOT NULL
  );
  `,
  // 4: identities (CONTRACT §3, §5). MQTT accounts of vehicles (username = the vehicle's id) and
  // clients, with passwords only as scrypt hashes; REST tokens only as SHA-256 digests; a
  // registered vehicle's name.
  `
  ALTER TABLE vehicles ADD COLUMN name TEXT;
  CREATE TABLE mqtt_accounts (
    username TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('vehicle', 'client')),
    role TEXT CHECK (role IN ('events', 'observer')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((kind = 'vehicle') = (role IS NULL))
  ) WITHOUT ROWID;
  CREATE TABLE api_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'read')),
    digest TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: webhooks (CONTRACT §5). Each keeps its own cursor into the outbox (events.seqno): what it
  // is done with. The secret is kept as given, because the hub signs with it. The deliveries log
  // keeps one row per attempt, trimmed to the newest few per webhook.
  `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT,
    types TEXT,
    geofence_ids TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER
  ) WITHOUT ROWID;
  CREATE TABLE webhook_deliveries (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
    at INTEGER NOT NULL
  );
  CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, n);
  `,
  // 6: circles and corridors. The polygons column holds the GeoJSON coordinates of whatever was
  // sent (a Point's position, a LineString's positions); these hold the radius or the width.
  `
  ALTER TABLE geofences ADD COLUMN radius_m REAL;
  ALTER TABLE geofences ADD COLUMN width_m REAL;
  `,
  // 7: crossings between fixes (docs/geofences.md). A geofence's detect_crossing setting (taken
  // from properties already stored, where it was exactly true, on polygons only: circles and
  // corridors do not detect crossings); whether an event was interpolated; and each vehicle's
  // last applied position in its state, filled from its last fix (the applied fix whose ts the
  // state holds).
  `
  ALTER TABLE geofences ADD COLUMN detect_crossing INTEGER NOT NULL DEFAULT 0;
  UPDATE geofences SET detect_crossing = 1
    WHERE json_type(properties, '$.detect_crossing') = 'true'
      AND geometry_type IN ('Polygon', 'MultiPolygon');
  ALTER TABLE events ADD COLUMN interpolated INTEGER NOT NULL DEFAULT 0;
  UPDATE vehicles SET state = json_set(state, '$.last_position', json_array(
      json_extract(last_fix, '$.longitude'),
      json_extract(last_fix, '$.latitude'),
      json_extract(last_fix, '$.accuracy')))
    WHERE last_fix IS NOT NULL
      AND json_extract(last_fix, '$.ts') = json_extract(state, '$.last_ts');
  `,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to SCHEMA_VERSION (tests may stop at an older `target`); refuses a
 * database made by a newer build.
 */
export function migrate(db: Database.Database, target = SCHEMA_VERSION): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the database has schema version ${current}, newer than this hub knows (${SCHEMA_VERSION}); run a newer Locus hub or point LOCUS_DATA_DIR elsewhere`,
    );
  }
  for (let v = current; v < target; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

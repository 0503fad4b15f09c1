// The PostgreSQL schema, as numbered migrations recorded in `schema_migrations`, applied at start
// under an advisory lock so that hubs starting together migrate once.

import type pg from "pg";

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** Each entry moves the schema up one version. Never edit a released entry; append a new one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "geofences, fixes, vehicles, events (the outbox)",
    sql: `
    -- Ids compare byte-wise (COLLATE "C"), as in SQLite and JavaScript, whatever the database's
    -- locale: pagination cursors and the FenceIndex's sorted answers depend on it.
    CREATE TABLE geofences (
      id text COLLATE "C" PRIMARY KEY,
      name text NOT NULL,
      geometry_type text NOT NULL CHECK (geometry_type IN ('Polygon', 'MultiPolygon')),
      geom geometry(MultiPolygon, 4326) NOT NULL,
      properties jsonb NOT NULL DEFAULT '{}',
      hysteresis_m double precision,
      max_accuracy_m double precision,
      dwell_s double precision,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    -- Built with buffering and a low fill factor: point lookups measured ~3x faster than with the
    -- defaults (a bulk build; see docs/postgres.md on REINDEX after loading many fences).
    CREATE INDEX geofences_geom ON geofences USING gist (geom) WITH (buffering = on, fillfactor = 10);

    -- How many geofences there are, kept by statement triggers, so that PostgisFenceIndex.size
    -- costs nothing to refresh whoever wrote the table. A statement that changed no row leaves the
    -- count alone: it then stays read-only (no commit flush).
    CREATE TABLE geofence_count (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      n bigint NOT NULL
    );
    INSERT INTO geofence_count (n) VALUES (0);
    CREATE FUNCTION geofence_count_added() RETURNS trigger LANGUAGE plpgsql
      SET search_path FROM CURRENT AS $$
      DECLARE k bigint := (SELECT count(*) FROM added);
      BEGIN
        IF k > 0 THEN UPDATE geofence_count SET n = n + k; END IF;
        RETURN NULL;
      END $$;
    CREATE FUNCTION geofence_count_removed() RETURNS trigger LANGUAGE plpgsql
      SET search_path FROM CURRENT AS $$
      DECLARE k bigint := (SELECT count(*) FROM removed);
      BEGIN
        IF k > 0 THEN UPDATE geofence_count SET n = n - k; END IF;
        RETURN NULL;
      END $$;
    CREATE FUNCTION geofence_count_truncated() RETURNS trigger LANGUAGE plpgsql
      SET search_path FROM CURRENT AS $$
      BEGIN
        UPDATE geofence_count SET n = 0;
        RETURN NULL;
      END $$;
    CREATE TRIGGER geofences_added AFTER INSERT ON geofences REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT EXECUTE FUNCTION geofence_count_added();
    CREATE TRIGGER geofences_removed AFTER DELETE ON geofences REFERENCING OLD TABLE AS removed
      FOR EACH STATEMENT EXECUTE FUNCTION geofence_count_removed();
    CREATE TRIGGER geofences_truncated AFTER TRUNCATE ON geofences
      FOR EACH STATEMENT EXECUTE FUNCTION geofence_count_truncated();

    -- A fix's identity is (vehicle_id, ts, seq_key, nonce), as in the SQLite store: seq_key is
    -- seq or -1; nonce is 0 for a fix with a given ts, so that a redelivery collides, and random
    -- for a fix without one, so that it never does. Times are epoch milliseconds. The primary key
    -- also serves history reads by vehicle and time.
    CREATE TABLE fixes (
      vehicle_id text COLLATE "C" NOT NULL,
      ts bigint NOT NULL,
      seq_key bigint NOT NULL,
      nonce bigint NOT NULL,
      geom geometry(Point, 4326) NOT NULL,
      speed double precision,
      heading double precision,
      accuracy double precision,
      altitude double precision,
      received_at bigint NOT NULL,
      PRIMARY KEY (vehicle_id, ts, seq_key, nonce)
    );

    CREATE TABLE vehicles (
      id text COLLATE "C" PRIMARY KEY,
      last_fix jsonb,
      state jsonb NOT NULL,
      status text NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
      status_at bigint
    );

    -- Events are the outbox too: seqno is publication order, delivered flips once published.
    CREATE TABLE events (
      seqno bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id text COLLATE "C" NOT NULL UNIQUE,
      type text NOT NULL,
      vehicle_id text COLLATE "C" NOT NULL,
      geofence_id text COLLATE "C" NOT NULL,
      geofence_name text NOT NULL,
      ts bigint NOT NULL,
      latitude double precision NOT NULL,
      longitude double precision NOT NULL,
      detected_at bigint NOT NULL,
      delivered boolean NOT NULL DEFAULT false
    );
    CREATE INDEX events_undelivered ON events (seqno) WHERE NOT delivered;
    CREATE INDEX events_ts ON events (ts, seqno);
    CREATE INDEX events_vehicle_ts ON events (vehicle_id, ts, seqno);
    CREATE INDEX events_geofence_ts ON events (geofence_id, ts, seqno);
    `,
  },
  {
    version: 2,
    description: "MQTT accounts, API tokens, vehicle names",
    sql: `
    -- Passwords only as scrypt hashes, tokens only as SHA-256 digests (identity/secrets.ts).
    ALTER TABLE vehicles ADD COLUMN name text;
    CREATE TABLE mqtt_accounts (
      username text COLLATE "C" PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('vehicle', 'client')),
      role text CHECK (role IN ('events', 'observer')),
      password_hash text NOT NULL,
      created_at bigint NOT NULL,
      CHECK ((kind = 'vehicle') = (role IS NULL))
    );
    CREATE TABLE api_tokens (
      name text COLLATE "C" PRIMARY KEY,
      role text NOT NULL CHECK (role IN ('admin', 'read')),
      digest text NOT NULL UNIQUE,
      created_at bigint NOT NULL
    );
    `,
  },
  {
    version: 3,
    description: "vehicle state versions, geofence versions and change notifications",
    sql: `
    -- A vehicle's state version counts the writes of its judged state. A group commit names the
    -- version it judged from and writes that plus one; the trigger refuses any other, so a state
    -- judged from a copy that another writer has moved on from is never written (the commit
    -- fails whole with SQLSTATE LC409 and the writer re-reads and judges again).
    ALTER TABLE vehicles ADD COLUMN version bigint NOT NULL DEFAULT 0;
    CREATE FUNCTION vehicle_state_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the state of vehicle % changed since it was read (version % found, % written)',
          OLD.id, OLD.version, NEW.version
          USING ERRCODE = 'LC409', DETAIL = OLD.id;
      END $$;
    CREATE TRIGGER vehicles_state_version BEFORE UPDATE OF version ON vehicles
      FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version + 1)
      EXECUTE FUNCTION vehicle_state_conflict();

    -- A geofence's version rises with every change of its row, whoever makes it; each change is
    -- announced on a channel of this schema, in the same transaction (so at its commit), for
    -- every hub to apply to its engine. A deletion carries the version after the last.
    ALTER TABLE geofences ADD COLUMN version bigint NOT NULL DEFAULT 1;
    CREATE FUNCTION geofence_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.version := OLD.version + 1;
        RETURN NEW;
      END $$;
    CREATE TRIGGER geofences_version BEFORE UPDATE ON geofences
      FOR EACH ROW EXECUTE FUNCTION geofence_version_bump();
    CREATE FUNCTION geofence_notify() RETURNS trigger LANGUAGE plpgsql
      SET search_path FROM CURRENT AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('locus_geofences_' || to_hex(hashtext(current_schema())),
            json_build_object('id', OLD.id, 'op', 'delete', 'version', OLD.version + 1)::text);
        ELSE
          PERFORM pg_notify('locus_geofences_' || to_hex(hashtext(current_schema())),
            json_build_object('id', NEW.id, 'op', 'upsert', 'version', NEW.version)::text);
        END IF;
        RETURN NULL;
      END $$;
    CREATE TRIGGER geofences_notify AFTER INSERT OR UPDATE OR DELETE ON geofences
      FOR EACH ROW EXECUTE FUNCTION geofence_notify();
    `,
  },
  {
    version: 4,
    description: "webhooks, their cursors into the outbox and their deliveries logs",
    sql: `
    -- The secret is kept as given: the hub signs with it (docs/webhooks.md). cursor is the
    -- outbox position (events.seqno) of the newest event the webhook is done with.
    CREATE TABLE webhooks (
      id text COLLATE "C" PRIMARY KEY,
      url text NOT NULL,
      secret text,
      types jsonb,
      geofence_ids jsonb,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      cursor bigint NOT NULL,
      -- Which hub delivers this webhook's events, until when (epoch ms, the database's clock).
      lease_owner text,
      lease_until bigint
    );
    CREATE TABLE webhook_deliveries (
      n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      webhook_id text COLLATE "C" NOT NULL,
      event_id text NOT NULL,
      attempt integer NOT NULL,
      status integer,
      error text,
      outcome text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
      at bigint NOT NULL
    );
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, n);
    `,
  },
  {
    version: 5,
    description: "circles (Point and radius_m) and corridors (LineString and width_m)",
    sql: `
    -- geom holds what was sent: polygons, a circle's centre or a corridor's line. A circle or
    -- corridor also has its bbox grown by the radius or half width (computed by the hub, see
    -- geofence/sphere.ts) in reach, indexed apart: ST_DWithin on geography then judges exactly.
    ALTER TABLE geofences DROP CONSTRAINT geofences_geometry_type_check;
    ALTER TABLE geofences ALTER COLUMN geom TYPE geometry(Geometry, 4326);
    ALTER TABLE geofences
      ADD COLUMN radius_m double precision,
      ADD COLUMN width_m double precision,
      ADD COLUMN reach geometry(Polygon, 4326);
    ALTER TABLE geofences ADD CONSTRAINT geofences_shape_check CHECK (
      (geometry_type IN ('Polygon', 'MultiPolygon') AND ST_GeometryType(geom) = 'ST_MultiPolygon'
        AND radius_m IS NULL AND width_m IS NULL AND reach IS NULL)
      OR (geometry_type = 'Point' AND ST_GeometryType(geom) = 'ST_Point' AND radius_m > 0
        AND width_m IS NULL AND reach IS NOT NULL)
      OR (geometry_type = 'LineString' AND ST_GeometryType(geom) = 'ST_LineString' AND width_m > 0
        AND radius_m IS NULL AND reach IS NOT NULL));
    CREATE INDEX geofences_reach ON geofences USING gist (reach) WHERE reach IS NOT NULL;
    `,
  },
  {
    version: 6,
    description: "crossings between fixes: detect_crossing, interpolated events, last position",
    sql: `
    -- detect_crossing from properties already stored where it was exactly true, on polygons only:
    -- circles and corridors (migration 5) do not detect crossings, and the check says so. A
    -- partial GiST index serves the segment lookups over the (usually few) fences that do.
    ALTER TABLE geofences ADD COLUMN detect_crossing boolean NOT NULL DEFAULT false;
    UPDATE geofences SET detect_crossing = true
      WHERE properties -> 'detect_crossing' = 'true'::jsonb
        AND geometry_type IN ('Polygon', 'MultiPolygon');
    ALTER TABLE geofences ADD CONSTRAINT geofences_crossing_check
      CHECK (NOT detect_crossing OR geometry_type IN ('Polygon', 'MultiPolygon'));
    CREATE INDEX geofences_crossing_geom ON geofences USING gist (geom) WHERE detect_crossing;
    ALTER TABLE events ADD COLUMN interpolated boolean NOT NULL DEFAULT false;
    -- Each vehicle's last applied position, from its last fix (the applied fix whose ts the
    -- state holds).
    UPDATE vehicles SET state = jsonb_set(state, '{last_position}', jsonb_build_array(
        last_fix -> 'longitude', last_fix -> 'latitude', coalesce(last_fix -> 'accuracy', 'null')))
      WHERE last_fix IS NOT NULL AND last_fix -> 'ts' = state -> 'last_ts';
    `,
  },
  {
    version: 7,
    description: "crossings between fixes on circles and corridors too",
    sql: `
    -- Circles and corridors detect crossings as polygons do (docs/geofences.md): the check that
    -- refused it goes, and their candidates are found through their reach bbox.
    ALTER TABLE geofences DROP CONSTRAINT geofences_crossing_check;
    CREATE INDEX geofences_crossing_reach ON geofences USING gist (reach) WHERE detect_crossing;
    `,
  },
  {
    version: 8,
    description: "partition claims: fencing tokens of hubs sharing the fleet through the engine",
    sql: `
    -- With several hubs on the distributed engine (docs/scaling.md), each partition of the fleet
    -- is owned by one hub at a time under a fencing token that only rises. A hub claims a
    -- partition it takes here, the token becoming the stored one plus one, and writes that token
    -- with every group commit carrying the partition's fixes; the trigger refuses a lower token
    -- than stored, so a hub that lost its lease (paused, cut off from the engine) writes nothing
    -- once the next owner has claimed the partition: the whole statement fails with SQLSTATE
    -- LC410. committed_seq is the engine's stream sequence of the partition's newest message
    -- committed, written in the same commit as its fixes: the next owner reads on from there. A
    -- commit also names in follows the sequence of the message just before the first one it
    -- carries; unless the partition is committed up to there, the statement fails with SQLSTATE
    -- LC411, so no message is passed over when an earlier commit failed and a later one would
    -- not.
    CREATE TABLE partition_claims (
      partition integer PRIMARY KEY,
      token bigint NOT NULL,
      owner text NOT NULL,
      claimed_at bigint NOT NULL,
      committed_seq bigint NOT NULL DEFAULT 0,
      follows bigint NOT NULL DEFAULT 0
    );
    CREATE FUNCTION partition_claim_check() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.token < OLD.token THEN
          RAISE EXCEPTION 'partition % is claimed under token % by %; token % is stale',
            OLD.partition, OLD.token, OLD.owner, NEW.token
            USING ERRCODE = 'LC410', DETAIL = OLD.partition::text;
        END IF;
        IF NEW.follows > OLD.committed_seq THEN
          RAISE EXCEPTION 'partition % is committed up to %, not up to %',
            OLD.partition, OLD.committed_seq, NEW.follows
            USING ERRCODE = 'LC411', DETAIL = OLD.partition::text;
        END IF;
        RETURN NEW;
      END $$;
    CREATE TRIGGER partition_claims_check BEFORE UPDATE ON partition_claims
      FOR EACH ROW EXECUTE FUNCTION partition_claim_check();
    `,
  },
];

/** The channel a schema's geofence changes are announced on (see migration 3). */
export const GEOFENCE_CHANNEL_SQL =
  "SELECT 'locus_geofences_' || to_hex(hashtext(current_schema())) AS channel";

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Advisory lock keys: the first number names the purpose, the second is the schema's hash (so
 * that hubs on different schemas of one database do not wait for each other).
 */
export const LOCK_MIGRATE = 0x4c6f6375; // "Locu"
export const LOCK_OUTBOX = 0x4c6f6376;
export const SCHEMA_KEY = "hashtext(coalesce(current_schema(), ''))";

export interface MigrationReport {
  /** The version found. */
  from: number;
  /** The version after migrating. */
  to: number;
}

/**
 * Brings the database (the first schema on the search path) up to the last of `migrations`, each
 * in its own transaction; refuses one made by a newer build. Hubs that start at once take turns
 * on an advisory lock, so the second finds the work done.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationReport> {
  const client = await pool.connect();
  let locked = false;
  try {
    await client.query(`SELECT pg_advisory_lock($1, ${SCHEMA_KEY})`, [LOCK_MIGRATE]);
    locked = true;
    await ensurePostgis(client);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         description text NOT NULL DEFAULT '',
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const found = await client.query<{ version: number }>(
      "SELECT coalesce(max(version), 0) AS version FROM schema_migrations",
    );
    const from = found.rows[0]?.version ?? 0;
    const known = migrations.length;
    if (from > known) {
      throw new Error(
        `the database has schema version ${from}, newer than this hub knows (${known}): run a Locus hub as new as the one that migrated it, or point LOCUS_DATABASE_URL at another database`,
      );
    }
    for (const migration of migrations.slice(from)) {
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", [
          migration.version,
          migration.description,
        ]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(
          `schema migration ${migration.version} (${migration.description}) failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    return { from, to: Math.max(from, known) };
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock($1, ${SCHEMA_KEY})`, [LOCK_MIGRATE]);
    client.release();
  }
}

/** PostGIS must be installed in the database; creating it needs a superuser, so say so. */
async function ensurePostgis(client: pg.PoolClient): Promise<void> {
  const found = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'postgis'");
  if (found.rowCount !== 0) return;
  try {
    await client.query("CREATE EXTENSION IF NOT EXISTS postgis");
  } catch (err) {
    throw new Error(
      `PostGIS is not installed in this database and could not be installed (${(err as Error).message}): run CREATE EXTENSION postgis; in it as a superuser, or use a PostGIS image`,
      { cause: err },
    );
  }
}

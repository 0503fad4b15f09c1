// PostgresStore: the shared Store contract on a fresh schema per test, plus what only PostgreSQL
// has: versioned migrations under an advisory lock, overlapping commits from several connections,
// vehicle state versions checked at commit, geofence change notifications, PostGIS's verdict on
// geometry (and the API answering 400 with it). Two whole hubs on one database:
// hub.shared-database.test.ts.

import type { Fix } from "@locus/protocol";
import { buildEvent } from "@locus/protocol";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { freePort } from "../../../tests/support/hub-process.ts";
import { startPostgres, type TestSchema } from "../../../tests/support/postgres.ts";
import { buildApi } from "../api/app.ts";
import { MapFenceRegistry, polygonFeature, square, TOKEN } from "../api/test-support.ts";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import type { VehicleState } from "../geofence/membership.ts";
import { validateGeometry } from "../geofence/validate.ts";
import { AccountService } from "../identity/accounts.ts";
import { LoginLinks } from "../identity/login-links.ts";
import { ingest } from "../ingest/test-support.ts";
import { openPostgresStore, type PostgresStore } from "./postgres.ts";
import {
  type GeofenceChange,
  GeofenceChangeListener,
  parseGeofenceChange,
} from "./postgres-geofence-changes.ts";
import { MIGRATIONS, type Migration, migrate, SCHEMA_VERSION } from "./postgres-schema.ts";
import { storeContract } from "./store.contract.ts";
import { Fenced, PartitionGap, StateConflict } from "./store.ts";

const server = await startPostgres();
afterAll(async () => {
  await server?.stop();
});

const T0 = Date.parse("2026-11-24T20:00:00.000Z");

function fixAt(vehicleId: string, s: number, extra: Partial<Fix> = {}): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34.05,
    longitude: -118.24,
    ts: T0 + s * 1000,
    ts_given: true,
    ...extra,
  };
}

if (server === null) {
  // Only on a machine without PostgreSQL/PostGIS binaries and no LOCUS_TEST_DATABASE_URL:
  // startPostgres has printed one SKIPPING line saying what to install. Under CI=true it throws
  // instead, so this suite never skips there.
  describe.skip("PostgresStore (PostgreSQL not installed; under CI=true startPostgres throws instead)", () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  const pgServer = server;

  storeContract("PostgresStore", async () => {
    const schema = await pgServer.freshSchema();
    let current = await openPostgresStore(schema.url);
    return {
      store: current,
      reopen: async () => {
        await current.close();
        current = await openPostgresStore(schema.url);
        return current;
      },
      cleanup: async () => {
        await current.close();
        await schema.drop();
      },
    };
  });

  describe("PostgresStore on PostgreSQL", () => {
    let schema: TestSchema;
    const opened: { end(): Promise<void> }[] = [];

    beforeEach(async () => {
      schema = await pgServer.freshSchema();
    });
    afterEach(async () => {
      for (const o of opened.splice(0)) await o.end();
      await schema.drop();
    });

    function pool(): pg.Pool {
      const p = new pg.Pool({ connectionString: schema.url, max: 4 });
      opened.push(p);
      return p;
    }
    async function open(): Promise<PostgresStore> {
      const store = await openPostgresStore(schema.url);
      opened.push({ end: () => store.close() });
      return store;
    }
    async function versions(): Promise<{ version: number; applied_at: Date }[]> {
      const result = await pool().query(
        "SELECT version, applied_at FROM schema_migrations ORDER BY version",
      );
      return result.rows;
    }

    describe("migrations", () => {
      it("migrates an empty schema to the current version, and again changes nothing", async () => {
        await open();
        const first = await versions();
        expect(first.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
        expect(first.at(-1)?.version).toBe(SCHEMA_VERSION);
        await open();
        expect(await versions()).toEqual(first);
      });

      it("lets hubs that start at the same moment migrate once", async () => {
        const stores = await Promise.all(Array.from({ length: 6 }, () => open()));
        expect(stores).toHaveLength(6);
        // The migration creates tables without IF NOT EXISTS: a second run would have failed.
        expect((await versions()).map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
        const fence = await stores[0]?.createGeofence(
          {
            name: "shared",
            geometry_type: "Polygon",
            polygons: SQUARE,
            properties: { name: "shared" },
            hysteresis_m: null,
            max_accuracy_m: null,
            dwell_s: null,
            detect_crossing: false,
          },
          T0,
        );
        expect(await stores[5]?.getGeofence(fence?.id ?? "")).toEqual(fence);
      });

      it("migrates a version 5 schema for crossings: detect_crossing, interpolated, last positions", async () => {
        const p = pool();
        await migrate(p, MIGRATIONS.slice(0, 5));
        const square = "ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)))', 4326)";
        for (const [id, properties] of [
          ["on", { detect_crossing: true }],
          ["text", { detect_crossing: "true" }],
          ["off", {}],
        ] as const) {
          await p.query(
            `INSERT INTO geofences (id, name, geometry_type, geom, properties, created_at, updated_at)
             VALUES ($1, $1, 'Polygon', ${square}, $2::jsonb, 0, 0)`,
            [id, JSON.stringify(properties)],
          );
        }
        // A circle (migration 5) whose properties asked for crossings: circles detect none.
        await p.query(
          `INSERT INTO geofences (id, name, geometry_type, geom, radius_m, reach, properties, created_at, updated_at)
           VALUES ('round', 'round', 'Point', ST_SetSRID(ST_MakePoint(0.5, 0.5), 4326), 100,
             ST_MakeEnvelope(0.49, 0.49, 0.51, 0.51, 4326), '{"detect_crossing": true}'::jsonb, 0, 0)`,
        );
        const fixAt = (ts: number, accuracy?: number) =>
          JSON.stringify({ vehicle_id: "v", latitude: 34.5, longitude: -118.25, ts, accuracy });
        const stateAt = (ts: number) => JSON.stringify({ last_ts: ts, inside: [["on", ts, 0]] });
        const vehicles: [string, string | null, string][] = [
          ["v1", fixAt(T0, 12), stateAt(T0)],
          ["v2", fixAt(T0), stateAt(T0)],
          ["v3", fixAt(T0 - 1000), stateAt(T0)],
          ["v4", null, JSON.stringify({ last_ts: null, inside: [] })],
        ];
        for (const row of vehicles) {
          await p.query("INSERT INTO vehicles (id, last_fix, state) VALUES ($1, $2, $3)", row);
        }
        await p.query(
          `INSERT INTO events (id, type, vehicle_id, geofence_id, geofence_name, ts, latitude, longitude, detected_at)
           VALUES ('e-1', 'enter', 'v1', 'on', 'on', $1, 34, -118, $1)`,
          [T0],
        );

        const store = await open();
        const crossing = Object.fromEntries(
          (await store.allGeofences()).map((g) => [g.id, g.detect_crossing]),
        );
        expect(crossing).toEqual({ on: true, text: false, off: false, round: false });
        // Migration 7 dropped the check that refused crossings on circles and corridors.
        await p.query("UPDATE geofences SET detect_crossing = true WHERE id = 'round'");
        const constraints = await p.query(
          "SELECT 1 FROM pg_constraint WHERE conname = 'geofences_crossing_check'",
        );
        expect(constraints.rowCount).toBe(0);
        const states = await store.vehicleStates();
        expect(states.get("v1")?.last_position).toEqual({
          longitude: -118.25,
          latitude: 34.5,
          accuracy: 12,
        });
        expect(states.get("v1")?.inside.get("on")).toEqual({
          entered_at: T0,
          dwell_emitted: false,
        });
        expect(states.get("v2")?.last_position).toEqual({ longitude: -118.25, latitude: 34.5 });
        expect(states.get("v3")?.last_position).toBeUndefined();
        expect(states.get("v4")?.last_position).toBeUndefined();
        const [event] = await store.events({ limit: 10 });
        expect(event?.id).toBe("e-1");
        expect(event).not.toHaveProperty("interpolated");
      });

      it("brings an older schema up to date, applying only the missing migrations", async () => {
        const p = pool();
        expect(await migrate(p)).toEqual({ from: 0, to: SCHEMA_VERSION });
        const next: Migration = {
          version: SCHEMA_VERSION + 1,
          description: "a later build's change",
          sql: "CREATE TABLE later_build (x int); ALTER TABLE vehicles ADD COLUMN note text;",
        };
        expect(await migrate(p, [...MIGRATIONS, next])).toEqual({
          from: SCHEMA_VERSION,
          to: SCHEMA_VERSION + 1,
        });
        expect(await migrate(p, [...MIGRATIONS, next])).toEqual({
          from: SCHEMA_VERSION + 1,
          to: SCHEMA_VERSION + 1,
        });
        expect((await versions()).map((r) => r.version)).toEqual([
          ...MIGRATIONS.map((m) => m.version),
          SCHEMA_VERSION + 1,
        ]);
      });

      it("refuses a schema newer than it knows, naming both versions, and leaves it alone", async () => {
        await open();
        const newer = SCHEMA_VERSION + 1;
        await pool().query(
          "INSERT INTO schema_migrations (version, description) VALUES ($1, 'future')",
          [newer],
        );
        const before = await versions();
        await expect(openPostgresStore(schema.url)).rejects.toThrow(
          new RegExp(
            `schema version ${newer}\\b.*newer than this hub knows \\(${SCHEMA_VERSION}\\).*LOCUS_DATABASE_URL`,
          ),
        );
        expect(await versions()).toEqual(before);
      });

      it("rolls back a failing migration whole and says which one failed", async () => {
        const broken: Migration = {
          version: SCHEMA_VERSION + 1,
          description: "broken",
          sql: "CREATE TABLE half_done (x int); SELECT no_such_function();",
        };
        await expect(migrate(pool(), [...MIGRATIONS, broken])).rejects.toThrow(
          `schema migration ${SCHEMA_VERSION + 1} (broken) failed`,
        );
        expect((await versions()).at(-1)?.version).toBe(SCHEMA_VERSION);
        const table = await pool().query("SELECT to_regclass('half_done') AS t");
        expect(table.rows[0].t).toBeNull();
      });

      it("builds the tables PostGIS-typed, the geofence index with buffering and fillfactor 10", async () => {
        await open();
        const columns = await pool().query(
          `SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS type
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND a.atttypid = 'geometry'::regtype AND NOT a.attisdropped
           ORDER BY 1, 2`,
          [schema.name],
        );
        // Geofences hold polygons, a circle's centre or a corridor's line; reach is the bbox of
        // a circle or corridor grown by its radius or half width.
        expect(columns.rows).toEqual([
          { t: "fixes", c: "geom", type: "geometry(Point,4326)" },
          { t: "geofences", c: "geom", type: "geometry(Geometry,4326)" },
          { t: "geofences", c: "reach", type: "geometry(Polygon,4326)" },
        ]);
        const index = await pool().query(
          `SELECT c.reloptions, am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam
           WHERE c.oid = to_regclass('geofences_geom')`,
        );
        expect(index.rows[0]).toEqual({
          amname: "gist",
          reloptions: ["buffering=on", "fillfactor=10"],
        });
      });
    });

    it("says clearly when the database cannot be reached", async () => {
      const port = await freePort();
      await expect(
        openPostgresStore(`postgres://locus:secret@127.0.0.1:${port}/locus`),
      ).rejects.toThrow(
        new RegExp(`cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/locus: .*ECONNREFUSED`),
      );
      await expect(
        openPostgresStore(`postgres://locus:secret@127.0.0.1:${port}/locus`),
      ).rejects.not.toThrow(/secret/);
    });

    describe("several connections writing at once", () => {
      // Only the outbox and the fixes: these commits carry no vehicle states. Whether states
      // written through two stores stay right is the next test's, and hub.shared-database's.
      it("store each fix and event once, numbering events in commit order, when commits overlap", async () => {
        const [a, b] = [await open(), await open()];
        const fixes = Array.from({ length: 200 }, (_, i) => fixAt(`v${i % 7}`, i, { seq: i }));
        const shuffled = [...fixes].reverse();
        const decide = (fresh: readonly Fix[]) => ({
          vehicles: [],
          events: fresh.map((f) => buildEvent({ type: "enter", geofence_id: "g" }, f, "g", f.ts)),
        });
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            ingest(k % 2 === 0 ? a : b, k % 2 === 0 ? fixes : shuffled, decide),
          ),
        );
        expect(results.reduce((n, r) => n + r.events.length, 0)).toBe(200);
        let stored = 0;
        for (let v = 0; v < 7; v++) stored += (await a.locations(`v${v}`, { limit: 1000 })).length;
        expect(stored).toBe(200);
        const outbox = await a.undelivered(0, 1000);
        expect(outbox).toHaveLength(200);
        const seqnos = outbox.map((e) => e.seqno);
        expect([...seqnos].sort((x, y) => x - y)).toEqual(seqnos);
      });
    });

    describe("vehicle state versions", () => {
      const inside = (s: number): VehicleState => ({
        last_ts: T0 + s * 1000,
        inside: new Map([["g", { entered_at: T0 + s * 1000, dwell_emitted: false }]]),
      });
      const update = (s: number, base: number) => ({
        fixes: [fixAt("v1", s, { seq: s })],
        vehicles: [
          { vehicle_id: "v1", state: inside(s), last_fix: fixAt("v1", s), base_version: base },
        ],
        events: [buildEvent({ type: "enter", geofence_id: "g" }, fixAt("v1", s), "g", T0)],
      });

      it("writes base_version + 1, and refuses a state judged from an older version, writing nothing", async () => {
        const [a, b] = [await open(), await open()];
        await (await a.commit(update(1, 0))).durable;
        expect((await b.versionedStates(["v1", "nobody"])).get("v1")).toEqual({
          state: inside(1),
          version: 1,
        });
        await b.commit(update(2, 1));
        // Hub a still holds version 1: its commit is refused whole.
        const refused = a.commit(update(3, 1));
        await expect(refused).rejects.toBeInstanceOf(StateConflict);
        await expect(refused).rejects.toMatchObject({ vehicleId: "v1" });
        expect((await a.locations("v1", { limit: 10 })).map((f) => f.seq)).toEqual([1, 2]);
        expect(await a.undelivered(0, 10)).toHaveLength(2);
        expect((await a.versionedStates()).get("v1")?.version).toBe(2);
        // Judged again from version 2, it is written.
        await a.commit(update(3, 2));
        expect((await a.versionedStates()).get("v1")?.version).toBe(3);
      });

      it("refuses a first state when another writer created the vehicle's state meanwhile", async () => {
        const [a, b] = [await open(), await open()];
        await a.commit(update(1, 0));
        await expect(b.commit(update(2, 0))).rejects.toBeInstanceOf(StateConflict);
        // A status or a registration is not a state: it leaves the version alone.
        await b.setVehicleStatus("v1", "online", T0);
        await b.commit(update(2, 1));
        expect((await b.versionedStates(["v1"])).get("v1")?.version).toBe(2);
      });
    });

    describe("partition claims (several hubs on the engine)", () => {
      const claimed = (seq: number, follows: number, token: number, owner = "hub-a") => ({
        fixes: [fixAt(`v${seq}`, seq, { seq })],
        vehicles: [],
        events: [],
        claims: [{ partition: 3, token, owner, seq, follows }],
      });
      const stored = async (store: PostgresStore) =>
        (await store.pool.query("SELECT count(*)::int AS n FROM fixes")).rows[0].n;

      it("hands every claim a higher token, with the sequence committed to read on from", async () => {
        const [a, b] = [await open(), await open()];
        const first = await a.claimPartition(3, "hub-a");
        expect(first.committedSeq).toBe(0);
        await a.commit(claimed(5, 0, first.token));
        await a.commit(claimed(9, 5, first.token));
        const second = await b.claimPartition(3, "hub-b");
        expect(second).toEqual({ token: first.token + 1, committedSeq: 9 });
        // Another partition's tokens are its own.
        expect((await a.claimPartition(4, "hub-a")).token).toBe(1);
        // Claims racing for one partition each get a token of their own.
        const racing = await Promise.all(
          Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claimPartition(3, `hub-${i}`)),
        );
        expect(new Set(racing.map((c) => c.token)).size).toBe(8);
        expect(Math.min(...racing.map((c) => c.token))).toBe(second.token + 1);
      });

      it("refuses a commit under a stale token, and a commit over messages not committed", async () => {
        const [a, b] = [await open(), await open()];
        const { token } = await a.claimPartition(3, "hub-a");
        await a.commit(claimed(5, 0, token));
        // Message 7 (after 5) failed; 9 follows 7: refused, nothing written.
        await expect(a.commit(claimed(9, 7, token))).rejects.toBeInstanceOf(PartitionGap);
        expect(await stored(a)).toBe(1);
        const next = await b.claimPartition(3, "hub-b");
        const stale = a.commit(claimed(7, 5, token));
        await expect(stale).rejects.toBeInstanceOf(Fenced);
        await expect(stale).rejects.toMatchObject({ partition: 3 });
        expect(await stored(a)).toBe(1);
        await b.commit(claimed(7, 5, next.token, "hub-b"));
        expect(await stored(b)).toBe(2);
      });
    });

    describe("geofence change notifications", () => {
      it("announces each create, replace and delete at its commit, with the version after it", async () => {
        const store = await open();
        const changes: GeofenceChange[] = [];
        const listener = await GeofenceChangeListener.start(schema.url, {
          change: (c) => changes.push(c),
          reconnected: () => {},
          lost: () => {},
        });
        opened.push({ end: () => listener.close() });
        const input = {
          name: "shared",
          geometry_type: "Polygon" as const,
          polygons: SQUARE,
          properties: { name: "shared" },
          hysteresis_m: null,
          max_accuracy_m: null,
          dwell_s: null,
          detect_crossing: false,
        };
        const fence = await store.createGeofence(input, T0);
        const replaced = await store.replaceGeofence(
          fence.id,
          { ...input, name: "renamed" },
          T0 + 1,
        );
        expect(replaced?.version).toBe(2);
        expect(await store.deleteGeofence(fence.id)).toBe(true);
        await vi.waitFor(() => expect(changes).toHaveLength(3), { timeout: 5000 });
        expect(changes).toEqual([
          { id: fence.id, op: "upsert", version: 1 },
          { id: fence.id, op: "upsert", version: 2 },
          { id: fence.id, op: "delete", version: 3 },
        ]);
        // Another schema's changes are not heard here.
        const other = await pgServer.freshSchema();
        try {
          const elsewhere = await openPostgresStore(other.url);
          await elsewhere.createGeofence(input, T0);
          await elsewhere.close();
          await store.createGeofence(input, T0);
          await vi.waitFor(() => expect(changes).toHaveLength(4), { timeout: 5000 });
          expect(changes[3]?.version).toBe(1);
          expect(changes.filter((c) => c.id === changes[3]?.id)).toHaveLength(1);
        } finally {
          await other.drop();
        }
      });

      it("ignores payloads that are not a change", () => {
        expect(parseGeofenceChange('{"id":"a","op":"upsert","version":2}')).toEqual({
          id: "a",
          op: "upsert",
          version: 2,
        });
        for (const bad of [
          undefined,
          "",
          "x",
          "null",
          '{"id":1,"op":"upsert","version":1}',
          '{"id":"a","op":"drop","version":1}',
          '{"id":"a","op":"delete","version":"1"}',
        ]) {
          expect(parseGeofenceChange(bad)).toBeNull();
        }
      });
    });

    describe("checkGeometry (ST_IsValidDetail)", () => {
      it("answers null for a valid geometry, PostGIS's reason and place for an invalid one", async () => {
        const store = await open();
        expect(await store.checkGeometry(SQUARE)).toBeNull();
        expect(await store.checkGeometry(BOWTIE)).toBe("Self-intersection at or near point 1 1");
      });

      it("finds valid every shape validateGeometry accepts, on random rings on a coarse grid", async () => {
        const store = await open();
        // A 5×5 grid makes rings touch, cross, share edges and nest often: where validators err.
        let seed = 7;
        const next = (n: number) => {
          seed = (seed * 48271) % 2147483647;
          return seed % n;
        };
        const ring = (vertices: number, dx: number): number[][] => {
          const r = Array.from({ length: vertices }, () => [dx + next(5), next(5)]);
          return [...r, r[0] as number[]];
        };
        let accepted = 0;
        const disputed: string[] = [];
        for (let i = 0; i < 3000; i++) {
          const polygons = [[ring(3 + next(4), 0)]];
          if (next(2) === 0) polygons[0]?.push(ring(3 + next(2), 0));
          if (next(3) === 0) polygons.push([ring(3 + next(3), next(3))]);
          const checked = validateGeometry({ type: "MultiPolygon", coordinates: polygons });
          if (!checked.ok) continue;
          accepted++;
          const verdict = await store.checkGeometry(checked.polygons);
          if (verdict !== null) disputed.push(`${JSON.stringify(polygons)}: ${verdict}`);
        }
        expect(accepted).toBeGreaterThan(300);
        expect(disputed).toEqual([]);
      });

      it("makes the API ask PostGIS after the validator, and answer 400 with its reason", async () => {
        const store = await open();
        const app = await buildApi({
          store,
          fences: new MapFenceRegistry(),
          token: TOKEN,
          accounts: new AccountService({ store }),
          loginLinks: new LoginLinks(),
          metrics: new Registry(),
          health: async () => ({ ok: true, checks: {} }),
          bodyLimitBytes: 8 * 1024 * 1024,
          maxVertices: 100_000,
        });
        const post = (body: unknown) =>
          app.inject({
            method: "POST",
            url: "/api/v1/geofences",
            headers: { authorization: `Bearer ${TOKEN}` },
            payload: body as Record<string, unknown>,
          });
        try {
          const asked = vi.spyOn(store, "checkGeometry");
          const clockwise = [...square(-118.24, 34.05)].reverse();
          const ok = await post(polygonFeature("fine", clockwise));
          expect(ok.statusCode).toBe(201);
          // PostGIS judged the normalised (counter-clockwise) rings, and found them valid.
          expect(asked).toHaveBeenCalledWith([[square(-118.24, 34.05)]]);
          expect(await asked.mock.results[0]?.value).toBeNull();

          // The validator and PostGIS agree on every shape we know (see docs/postgres.md), so the
          // refusal is driven with PostGIS's own verdict on a shape the validator refuses first.
          const reason = await store.checkGeometry(BOWTIE);
          expect(reason).toBe("Self-intersection at or near point 1 1");
          asked.mockResolvedValueOnce(reason);
          const refused = await post(polygonFeature("refused"));
          expect(refused.json()).toEqual({
            statusCode: 400,
            error: "Bad Request",
            message: `body/geometry: PostGIS finds the geometry invalid: ${reason}; fix the rings there`,
          });
          expect((await store.allGeofences()).map((g) => g.name)).toEqual(["fine"]);
        } finally {
          await app.close();
        }
      });
    });
  });
}

const SQUARE: MultiPolygonCoords = [
  [
    [
      [-118.25, 34.04],
      [-118.23, 34.04],
      [-118.23, 34.06],
      [-118.25, 34.06],
      [-118.25, 34.04],
    ],
  ],
];

/** Crosses itself at (1, 1). */
const BOWTIE: MultiPolygonCoords = [
  [
    [
      [0, 0],
      [2, 2],
      [2, 0],
      [0, 2],
      [0, 0],
    ],
  ],
];

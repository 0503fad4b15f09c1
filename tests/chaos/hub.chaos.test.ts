// The chaos test of several hubs on the engine (docs/scaling.md), on one machine and loopback
// only: a three-node NATS JetStream cluster, three hub processes sharing one PostgreSQL, and a
// simulated fleet of 1,000 vehicles (each a real agent) reaching the hubs through a TCP balancer,
// with an outage that sends every vehicle offline for a while. For two minutes a random hub or
// engine node is killed with SIGKILL every few seconds and restarted. At the end: every
// acknowledged fix is stored exactly once, the stored events are those one hub alone gives for
// the same fixes (computed offline by the geofence engine), and partition ownership moved under
// fencing tokens that never went back, each token one owner's: no vehicle judged by two hubs at
// once. Replay a run with LOCUS_CHAOS_SEED (the seed is printed); LOCUS_CHAOS_TARGETS=hubs or
// engine kills only one kind. `npm run test:chaos` runs it alone; `npm test` runs it last.

import type { Fix } from "@locus/protocol";
import { DEFAULT_BLOCK_M, Fleet, type FleetReport } from "@locus/simulator";
import type { NatsConnection } from "nats";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { square } from "../../hub/src/api/test-support.ts";
import { GeofenceEngine } from "../../hub/src/geofence/engine.ts";
import { MemoryFenceIndex } from "../../hub/src/geofence/memory-index.ts";
import {
  FIX_COLUMNS,
  type FixRow,
  fixFromRow,
  GEOFENCE_COLUMNS,
  type GeofenceRow,
  geofenceFromRow,
} from "../../hub/src/store/postgres-rows.ts";
import { DEFAULT_BBOX } from "../../simulator/src/cli/args.ts";
import { type Balancer, startBalancer } from "../support/balancer.ts";
import { requireBinary } from "../support/binaries.ts";
import { api, type HubProcess, startHubProcess } from "../support/hub-process.ts";
import { NatsCluster } from "../support/nats-cluster.ts";
import { startPostgres, type TestSchema } from "../support/postgres.ts";
import { mulberry32 } from "../support/random.ts";

/** Each run draws its own schedule of kills (printed, so a failing one can be replayed). */
const SEED = Number(process.env.LOCUS_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** What the chaos kills: hubs and engine nodes (default), or only one kind (to tell faults apart). */
const TARGETS = process.env.LOCUS_CHAOS_TARGETS ?? "all";
const VEHICLES = 1000;
const INTERVAL_MS = 5000;
const CHAOS_MS = 120_000;
/** Every vehicle offline from 30 s after the fleet starts, for 20 s. */
const OUTAGE = { startMs: 30_000, lengthMs: 20_000 };
const PARTITIONS = 32;
const LEASE_MS = 3000;
const HUBS = ["hub-1", "hub-2", "hub-3"];
/** Time for the agents to deliver what they hold once the chaos is over. */
const DRAIN_MS = 120_000;
/** Bounds on waits that only a stuck run reaches. */
const SETTLE_MS = 120_000;
const TEST_TIMEOUT_MS = 540_000;

const hasNats = requireBinary("nats-server", "nats-server");
const server = await startPostgres();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = SETTLE_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** 20 squares of ~1.3 km over the fleet's box, 5 × 4, with streets between them. */
function fences(): { name: string; ring: number[][] }[] {
  const out: { name: string; ring: number[][] }[] = [];
  const { west, south, east, north } = DEFAULT_BBOX;
  const [cols, rows] = [5, 4];
  const [w, h] = [(east - west) / cols, (north - south) / rows];
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      const lon = west + (c + 0.5) * w;
      const lat = south + (r + 0.5) * h;
      out.push({ name: `zone-${c}-${r}`, ring: square(lon, lat, Math.min(w, h) * 0.3) });
    }
  }
  return out;
}

if (server === null || !hasNats) {
  // Only without PostgreSQL or nats-server binaries (a line above says what to install); under
  // CI=true both helpers throw instead, so this suite never skips there.
  describe.skip("chaos: hubs and engine nodes killed under a fleet (PostgreSQL or nats-server not installed)", () => {
    it("needs PostgreSQL and nats-server", () => {});
  });
} else {
  const pgServer = server;

  describe("chaos: hubs and engine nodes killed under a fleet", () => {
    let nats: NatsCluster | null = null;
    let schema: TestSchema | null = null;
    let balancer: Balancer | null = null;
    let fleet: Fleet | null = null;
    const hubs = new Map<string, HubProcess | null>();

    afterAll(async () => {
      await fleet?.stop({ drainMs: 0 }).catch(() => undefined);
      for (const hub of hubs.values()) await hub?.stop("SIGKILL");
      await balancer?.close();
      await nats?.stop();
      await schema?.drop().catch(() => undefined);
      await pgServer.stop();
    }, 60_000);

    it(
      "stores every acknowledged fix once and judges as one hub does, whatever is killed",
      async () => {
        const began = Date.now();
        console.log(`chaos: seed ${SEED} (LOCUS_CHAOS_SEED replays it), killing ${TARGETS}`);
        const random = mulberry32(SEED);
        schema = await pgServer.freshSchema();
        nats = await NatsCluster.start();
        const cluster = nats;
        balancer = await startBalancer(mulberry32(SEED + 1));
        const lb = balancer;
        const env = (name: string) => ({
          LOCUS_DATABASE_URL: (schema as TestSchema).url,
          LOCUS_ENGINE_URL: cluster.urls.join(","),
          LOCUS_ENGINE_PARTITIONS: String(PARTITIONS),
          LOCUS_ENGINE_LEASE_MS: String(LEASE_MS),
          LOCUS_MQTT_CLIENT_ID: name,
          LOCUS_LOG_LEVEL: "info",
        });

        /** Starts (or restarts) a hub on fresh ports and puts it behind the balancer. */
        const startHub = async (name: string): Promise<void> => {
          let lastError: unknown;
          // A fresh port can be taken between choosing it and binding it: try again.
          for (let attempt = 0; attempt < 3; attempt++) {
            try {
              const hub = await startHubProcess({
                env: env(name),
                timeoutMs: 120_000,
                maxOutputChars: 200_000,
              });
              hubs.set(name, hub);
              lb.up(name, Number(new URL(hub.mqttUrl).port));
              return;
            } catch (err) {
              lastError = err;
            }
          }
          throw lastError;
        };
        const killHub = async (name: string): Promise<void> => {
          const hub = hubs.get(name);
          hubs.set(name, null);
          await hub?.stop("SIGKILL");
          lb.down(name);
        };
        const metric = async (hub: HubProcess, name: string): Promise<number> => {
          const res = await fetch(`${hub.httpUrl}/metrics`, {
            headers: { authorization: `Bearer ${hub.token}` },
          });
          const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name} `));
          return line === undefined ? 0 : Number(line.slice(name.length + 1));
        };
        const held = async (): Promise<number[]> => {
          const out: number[] = [];
          for (const hub of hubs.values()) {
            out.push(hub === null ? 0 : await metric(hub, "locus_engine_partitions_held"));
          }
          return out;
        };

        const db = new pg.Client({ connectionString: schema.url });
        let tap: NatsConnection | null = null;
        await db.connect();
        try {
          // The first hub migrates the schema; then every claim written is logged, in order.
          await startHub(HUBS[0] as string);
          await db.query(`
          CREATE TABLE chaos_claims (
            n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            partition integer NOT NULL,
            token bigint NOT NULL,
            owner text NOT NULL
          );
          CREATE FUNCTION chaos_claim_logged() RETURNS trigger LANGUAGE plpgsql
            SET search_path FROM CURRENT AS $$
            BEGIN
              INSERT INTO chaos_claims (partition, token, owner)
                VALUES (NEW.partition, NEW.token, NEW.owner);
              RETURN NULL;
            END $$;
          CREATE TRIGGER chaos_claims_log AFTER INSERT OR UPDATE ON partition_claims
            FOR EACH ROW EXECUTE FUNCTION chaos_claim_logged();
          -- Claims the first hub made before the trigger existed.
          INSERT INTO chaos_claims (partition, token, owner)
            SELECT partition, token, owner FROM partition_claims ORDER BY partition;
        `);
          // Fences first, so every hub (and every restart) loads them all at start.
          const first = hubs.get(HUBS[0] as string) as HubProcess;
          for (const f of fences()) {
            const created = await api(first, "POST", "/api/v1/geofences", {
              type: "Feature",
              geometry: { type: "Polygon", coordinates: [f.ring] },
              properties: { name: f.name },
            });
            expect(created.status).toBe(201);
          }
          for (const name of HUBS.slice(1)) await startHub(name);
          await until("the partitions shared out between the three hubs", async () => {
            const h = await held();
            return h.every((n) => n > 0) && h.reduce((a, b) => a + b, 0) === PARTITIONS ? h : null;
          });

          fleet = await Fleet.start({
            vehicles: VEHICLES,
            intervalMs: INTERVAL_MS,
            brokerUrl: lb.url,
            idPrefix: "chaos-",
            seed: SEED,
            motion: { kind: "grid", bbox: DEFAULT_BBOX, blockM: DEFAULT_BLOCK_M },
            noiseM: 3,
            buffer: { kind: "memory" },
            maxBuffer: 100_000,
            rampMs: 5000,
            outage: OUTAGE,
            reconnectMaxMs: 2000,
            watchEvents: false,
            onNotice: (line) => console.log(`fleet: ${line}`),
          });
          const fleetStarted = Date.now();
          // What the hubs forwarded to the engine (as far as this one client hears it, through
          // its own reconnections): per vehicle, when each seq was first published there.
          tap = await cluster.connect();
          const forwarded = new Map<string, Map<number, number>>();
          const tapped = tap.subscribe("locus.p.>");
          void (async () => {
            for await (const m of tapped) {
              const fixes = (JSON.parse(m.string()) as { f?: Fix[] }).f ?? [];
              for (const f of fixes) {
                const seqs = forwarded.get(f.vehicle_id) ?? new Map<number, number>();
                forwarded.set(f.vehicle_id, seqs);
                if (f.seq !== undefined && f.seq !== null && !seqs.has(f.seq)) {
                  seqs.set(f.seq, Date.now() - fleetStarted);
                }
              }
            }
          })();
          const at = () => `${((Date.now() - fleetStarted) / 1000).toFixed(1)}s`;

          // The chaos: every 3-6 s a random hub or engine node is killed, and restarted 1-3 s
          // later. Never two engine nodes down at once (JetStream keeps its majority), never every
          // hub. The pauses only pace the chaos; nothing below relies on them for correctness.
          const down = new Set<string>();
          const restarts: Promise<void>[] = [];
          const failures: Error[] = [];
          let kills = 0;
          const chaosEnd = Date.now() + CHAOS_MS;
          for (;;) {
            await sleep(3000 + random() * 3000);
            if (Date.now() >= chaosEnd) break;
            const engineDown = cluster.nodes.some((n) => down.has(n.name));
            const hubsUp = HUBS.filter((h) => !down.has(h));
            const candidates = [
              ...(hubsUp.length > 1 && TARGETS !== "engine" ? hubsUp : []),
              ...(engineDown || TARGETS === "hubs" ? [] : cluster.nodes.map((n) => n.name)),
            ];
            if (candidates.length === 0) continue;
            const victim = candidates[Math.floor(random() * candidates.length)] as string;
            const isHub = HUBS.includes(victim);
            down.add(victim);
            kills++;
            if (isHub) await killHub(victim);
            else await cluster.kill(victim);
            const s = fleet.stats();
            console.log(
              `chaos ${at()}: killed ${victim} (kill ${kills}; acked ${s.acked}/${s.produced}, ` +
                `buffered ${s.buffered}, connected ${s.connected})`,
            );
            const delay = 1000 + random() * 2000;
            restarts.push(
              (async () => {
                await sleep(delay);
                const t = Date.now();
                if (isHub) await startHub(victim);
                else await cluster.restart(victim, 60_000);
                down.delete(victim);
                console.log(`chaos ${at()}: restarted ${victim} (${Date.now() - t} ms)`);
              })().catch((err: Error) => {
                failures.push(err);
              }),
            );
          }
          await Promise.all(restarts);
          if (failures.length > 0) throw failures[0];
          console.log(`chaos ${at()}: over after ${kills} kills; draining the fleet`);

          // Every produced fix acknowledged: none left in the agents' buffers, none dropped.
          const report: FleetReport = await fleet.stop({ drainMs: DRAIN_MS });
          console.log(
            `fleet: produced ${report.produced}, acked ${report.acked}, resent ${report.resent}, ` +
              `connections ${report.connections}, buffered ${report.buffered}, dropped ${report.dropped}`,
          );
          expect(report.buffered).toBe(0);
          expect(report.dropped).toBe(0);
          expect(report.failed).toBe(0);
          expect(report.outage).toBe("over");
          const produced = report.produced;

          // PUBACK came with the engine's ack; the owners commit them to PostgreSQL after that.
          let stored = 0;
          await until(
            `PostgreSQL to hold all ${produced} fixes`,
            async () => {
              const r = await db.query<{ n: string }>("SELECT count(*) AS n FROM fixes");
              stored = Number(r.rows[0]?.n);
              return stored >= produced ? stored : null;
            },
            SETTLE_MS,
          ).catch(async (err: Error) => {
            // Which fixes are missing, and whether the engine ever got them.
            const rows = await db.query<{ vehicle_id: string; seq_key: string }>(
              "SELECT vehicle_id, seq_key FROM fixes",
            );
            const have = new Map<string, Set<number>>();
            for (const r of rows.rows) {
              const set = have.get(r.vehicle_id) ?? new Set<number>();
              set.add(Number(r.seq_key));
              have.set(r.vehicle_id, set);
            }
            const lines: string[] = [];
            for (const [id, set] of have) {
              const top = Math.max(...set);
              for (let q = 0; q <= top && lines.length < 20; q++) {
                if (set.has(q)) continue;
                const at = forwarded.get(id)?.get(q);
                lines.push(
                  `${id} seq ${q}: ${at === undefined ? "never seen on the engine" : `forwarded at ${at} ms`}`,
                );
              }
            }
            const onEngine = await (await (tap as NatsConnection).jetstreamManager()).streams
              .info("LOCUS_FIXES", { subjects_filter: ">" })
              .then((i) => {
                const perPartition = new Map<string, number>();
                for (const [subject, n] of Object.entries(i.state.subjects ?? {})) {
                  const p = subject.split(".")[2] as string;
                  perPartition.set(p, (perPartition.get(p) ?? 0) + n);
                }
                const left = [...perPartition].map(([p, n]) => `p${p}:${n}`).join(" ");
                return `${i.state.messages} messages still on the engine (${left})`;
              })
              .catch((e: Error) => e.message);
            // The heartbeats the engine still keeps, and how old each is.
            const beats = await (async () => {
              const kv = await (tap as NatsConnection).jetstream().views.kv("locus_members");
              const out: string[] = [];
              for await (const key of await kv.keys()) {
                const e = await kv.get(key);
                if (e === null) continue;
                out.push(`${key}#${e.revision} ${Date.now() - e.created.getTime()} ms old`);
              }
              return out.join(", ");
            })().catch((e: Error) => e.message);
            lines.push(`heartbeats: ${beats}`);
            // Who holds what now, and where each partition is committed up to.
            const claims = await db.query<{ partition: number; owner: string; seq: string }>(
              "SELECT partition, owner, committed_seq AS seq FROM partition_claims ORDER BY 1",
            );
            const held: string[] = [];
            for (const [name, hub] of hubs) {
              if (hub === null) continue;
              const text = await fetch(`${hub.httpUrl}/metrics`, {
                headers: { authorization: `Bearer ${hub.token}` },
              })
                .then((r) => r.text())
                .catch(() => "");
              const line = text
                .split("\n")
                .find((l) => l.startsWith("locus_engine_partitions_held "));
              held.push(`${name}: ${line?.split(" ")[1] ?? "?"}`);
            }
            lines.push(
              `held: ${held.join(", ")}`,
              `claims: ${claims.rows.map((r) => `p${r.partition}=${r.owner}@${r.seq}`).join(" ")}`,
            );
            throw new Error(
              `${err.message} (${stored} stored, ${onEngine}); missing:\n${lines.join("\n")}`,
            );
          });
          expect(stored).toBe(produced);

          // Per vehicle, the agent's seqs 0..N-1: no gap, no duplicate.
          const perVehicle = await db.query<{
            vehicle_id: string;
            n: string;
            distinct_seqs: string;
            min_seq: string;
            max_seq: string;
          }>(
            `SELECT vehicle_id, count(*) AS n, count(DISTINCT seq_key) AS distinct_seqs,
             min(seq_key) AS min_seq, max(seq_key) AS max_seq
           FROM fixes GROUP BY vehicle_id`,
          );
          expect(perVehicle.rows).toHaveLength(VEHICLES);
          const broken = perVehicle.rows.filter(
            (r) =>
              r.min_seq !== "0" || r.n !== r.distinct_seqs || Number(r.max_seq) + 1 !== Number(r.n),
          );
          expect(broken.slice(0, 5)).toEqual([]);

          // The events one hub alone gives for the stored fixes, in (ts, seq) order per vehicle.
          const fenceRows = await db.query<GeofenceRow>(
            `SELECT ${GEOFENCE_COLUMNS} FROM geofences`,
          );
          const offline = new GeofenceEngine(new MemoryFenceIndex(), {
            defaultMaxAccuracyM: Number.POSITIVE_INFINITY,
          });
          await offline.load(fenceRows.rows.map(geofenceFromRow), new Map());
          const fixRows = await db.query<FixRow>(
            `SELECT ${FIX_COLUMNS} FROM fixes ORDER BY vehicle_id, ts, seq_key`,
          );
          const expected = new Set<string>();
          for (const row of fixRows.rows) {
            const fix: Fix = fixFromRow(row);
            const decision = await offline.judge([fix], fix.ts);
            offline.apply(decision);
            for (const e of decision.events)
              expected.add(`${e.id} ${e.type} ${e.vehicle_id} ${e.ts}`);
          }
          const eventRows = await db.query<{
            id: string;
            type: string;
            vehicle_id: string;
            ts: string;
          }>("SELECT id, type, vehicle_id, ts FROM events");
          const actual = new Set(
            // Stored as epoch ms; events carry ts as ISO 8601.
            eventRows.rows.map(
              (e) => `${e.id} ${e.type} ${e.vehicle_id} ${new Date(Number(e.ts)).toISOString()}`,
            ),
          );
          expect(actual.size).toBe(eventRows.rows.length);
          const missing = [...expected].filter((e) => !actual.has(e));
          const extra = [...actual].filter((e) => !expected.has(e));
          expect({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }).toEqual({
            missing: [],
            extra: [],
          });
          expect(actual.size).toBe(expected.size);
          expect(expected.size).toBeGreaterThan(VEHICLES);

          // Ownership: per partition, tokens (numbered by PostgreSQL at each claim) never went
          // down in the order claims and commits were written; each partition's token is one
          // owner's, so no commit got through under a claim that was not its hub's; and
          // partitions really changed hands under the chaos.
          const claims = await db.query<{ partition: number; token: string; owner: string }>(
            "SELECT partition, token, owner FROM chaos_claims ORDER BY n",
          );
          const lastToken = new Map<number, number>();
          const ownerOf = new Map<string, string>();
          const tokensOf = new Map<number, Set<number>>();
          const regressions: string[] = [];
          const shared: string[] = [];
          for (const c of claims.rows) {
            const token = Number(c.token);
            const last = lastToken.get(c.partition) ?? 0;
            if (token < last) regressions.push(`partition ${c.partition}: ${token} after ${last}`);
            lastToken.set(c.partition, Math.max(last, token));
            const key = `${c.partition}:${token}`;
            const owner = ownerOf.get(key);
            if (owner === undefined) ownerOf.set(key, c.owner);
            else if (owner !== c.owner) shared.push(`token ${key}: ${owner} and ${c.owner}`);
            const set = tokensOf.get(c.partition) ?? new Set<number>();
            set.add(token);
            tokensOf.set(c.partition, set);
          }
          expect(regressions.slice(0, 5)).toEqual([]);
          expect(shared.slice(0, 5)).toEqual([]);
          expect(tokensOf.size).toBe(PARTITIONS);
          const takeovers = [...tokensOf.values()].reduce((n, s) => n + s.size - 1, 0);
          const moved = [...tokensOf.values()].filter((s) => s.size > 1).length;
          const owners = new Set(ownerOf.values()).size;
          expect(moved).toBeGreaterThanOrEqual(PARTITIONS / 4);
          expect(owners).toBeGreaterThan(HUBS.length);

          console.log(
            `chaos summary: ${produced} fixes from ${VEHICLES} vehicles, ${expected.size} events, ` +
              `${kills} kills, ${takeovers} takeovers on ${moved}/${PARTITIONS} partitions by ` +
              `${owners} hub processes, ${((Date.now() - began) / 1000).toFixed(0)} s`,
          );
        } catch (err) {
          for (const [name, hub] of hubs) {
            if (hub !== null)
              console.log(`--- ${name} output (tail)\n${hub.output().slice(-4000)}`);
          }
          throw err;
        } finally {
          await tap?.close();
          await db.end();
        }
      },
      TEST_TIMEOUT_MS,
    );
  });
}

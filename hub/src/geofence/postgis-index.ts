// The FenceIndex answered by PostGIS: the store's geofences table, with its GiST index, is the
// index. Each covering() is one set-based query for the whole batch of points; nothing is held in
// the hub's memory, and every hub sharing the database sees the same fences at once.
//
// Polygons are judged by ST_Covers on geometry; circles and corridors by ST_DWithin on geography
// with use_spheroid = false (the sphere the memory index uses, see sphere.ts), boundary inclusive,
// their candidates found through the `reach` bbox the hub computed. The two halves are separate
// joins, so each keeps its own GiST index.
//
// upsert/remove write the same table the store writes, when used on their own (the FenceIndex
// contract suite): upsert inserts a row with the fence's name and settings. In the hub the store
// owns the table (`storeWrites`): they only read the fence count, so a change applied late (one
// another hub made, or a local one overtaken by a later change) never writes an older geometry
// over a newer one.

import type pg from "pg";
import { shapeColumns } from "../store/postgres-wkb.ts";
import { detectsCrossing } from "./crossing.ts";
import type { Fence } from "./fence.ts";
import type { Box, FenceIndex, LonLat } from "./fence-index.ts";

// The ids covering each point, in UTF-16 order as compareIds sorts (byte order is the same for
// the ASCII ids the hub makes). The trailing row carries the fence count, for `size`.
const COVERING = `
  WITH p AS (
    SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) AS pt
    FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS u(x, y, i)
  ),
  hits AS (
    SELECT p.i, g.id FROM p JOIN geofences g ON ST_Covers(g.geom, p.pt) WHERE g.reach IS NULL
    UNION ALL
    SELECT p.i, g.id FROM p JOIN geofences g ON g.reach && p.pt
      AND ST_DWithin(g.geom::geography, p.pt::geography, COALESCE(g.radius_m, g.width_m / 2), false)
  )
  SELECT i::int AS i, array_agg(id ORDER BY id COLLATE "C") AS ids, NULL::bigint AS n
  FROM hits GROUP BY i
  UNION ALL
  SELECT 0, NULL, n FROM geofence_count`;

// For each box, the crossing fences whose bbox (a circle's or corridor's: its reach) meets it (`&&`, which PostGIS answers from float4
// boxes rounded outwards: a superset, as the interface allows; the exact test is the caller's).
const CROSSING_CANDIDATES = `
  SELECT b.i::int AS i, array_agg(g.id ORDER BY g.id COLLATE "C") AS ids
  FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) WITH ORDINALITY
    AS b(x0, y0, x1, y1, i)
  JOIN geofences g ON g.detect_crossing
    AND (g.geom && ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, 4326)
      OR g.reach && ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, 4326))
  GROUP BY b.i`;

// Only the geometry (and detect_crossing) of an existing row is replaced, and only when it
// differs: name, properties and the rest belong to the store. An unchanged fence (the store wrote it already) writes
// nothing, so it costs a read and no commit flush.
const UPSERT = `
  WITH incoming AS (
    SELECT ST_SetSRID(ST_GeomFromWKB($3), 4326) AS geom, $8::float8 AS radius_m,
      $9::float8 AS width_m,
      ST_MakeEnvelope(($10::float8[])[1], ($10::float8[])[2], ($10::float8[])[3],
        ($10::float8[])[4], 4326) AS reach
  ),
  up AS (
    INSERT INTO geofences (id, name, geometry_type, geom, properties, hysteresis_m,
      max_accuracy_m, dwell_s, created_at, updated_at, radius_m, width_m, reach, detect_crossing)
    SELECT $1, $2, $11, incoming.geom, jsonb_build_object('name', $2::text), $4, $5,
      $6, $7, $7, incoming.radius_m, incoming.width_m, incoming.reach, $12
    FROM incoming
    WHERE NOT EXISTS (
      SELECT 1 FROM geofences g WHERE g.id = $1 AND g.geom = incoming.geom
        AND g.radius_m IS NOT DISTINCT FROM incoming.radius_m
        AND g.width_m IS NOT DISTINCT FROM incoming.width_m
        AND g.detect_crossing = $12)
    ON CONFLICT (id) DO UPDATE SET geom = excluded.geom,
      geometry_type = CASE WHEN excluded.geometry_type = 'MultiPolygon'
        AND geofences.geometry_type = 'Polygon' THEN 'Polygon' ELSE excluded.geometry_type END,
      radius_m = excluded.radius_m, width_m = excluded.width_m, reach = excluded.reach,
      detect_crossing = excluded.detect_crossing
    RETURNING xmax = 0 AS inserted
  )
  SELECT n + (SELECT count(*) FROM up WHERE inserted) AS n FROM geofence_count`;

const REMOVE = `
  WITH gone AS (DELETE FROM geofences WHERE id = $1 RETURNING 1)
  SELECT n - (SELECT count(*) FROM gone) AS n FROM geofence_count`;

export interface PostgisFenceIndexOptions {
  /**
   * The store writes the geofences table (the hub): upsert and remove only refresh the count.
   * Default false: they write the table themselves.
   */
  storeWrites?: boolean;
}

/** FenceIndex over the PostgreSQL store's geofences table; shares the store's pool. */
export class PostgisFenceIndex implements FenceIndex {
  readonly #pool: pg.Pool;
  readonly #storeWrites: boolean;
  #size = 0;

  constructor(pool: pg.Pool, options: PostgisFenceIndexOptions = {}) {
    this.#pool = pool;
    this.#storeWrites = options.storeWrites === true;
  }

  /**
   * How many geofences the table held at the last covering, upsert, remove or refresh (whoever
   * wrote them: this hub's store, another hub).
   */
  get size(): number {
    return this.#size;
  }

  /** Reads the fence count now; `size` is 0 until the first call of this or any other method. */
  async refresh(): Promise<number> {
    const result = await this.#pool.query<{ n: string }>("SELECT n FROM geofence_count");
    this.#size = Number(result.rows[0]?.n ?? 0);
    return this.#size;
  }

  /** The table is the index: the stored fences are in it already. */
  async load(_fences: readonly Fence[]): Promise<void> {
    await this.refresh();
  }

  async upsert(fence: Fence): Promise<void> {
    if (this.#storeWrites) {
      await this.refresh();
      return;
    }
    const now = Date.now();
    const shape = shapeColumns(fence);
    const kind = fence.circle ? "Point" : fence.corridor ? "LineString" : "MultiPolygon";
    const result = await this.#pool.query<{ n: string }>({
      name: "locus_fence_upsert",
      text: UPSERT,
      values: [
        fence.id,
        fence.name,
        shape.wkb,
        fence.hysteresis_m ?? null,
        fence.max_accuracy_m ?? null,
        fence.dwell_s ?? null,
        now,
        shape.radius_m,
        shape.width_m,
        shape.reach,
        kind,
        detectsCrossing(fence),
      ],
    });
    this.#size = Number(result.rows[0]?.n ?? this.#size);
  }

  async remove(id: string): Promise<void> {
    if (this.#storeWrites) {
      await this.refresh();
      return;
    }
    const result = await this.#pool.query<{ n: string }>({
      name: "locus_fence_remove",
      text: REMOVE,
      values: [id],
    });
    this.#size = Number(result.rows[0]?.n ?? this.#size);
  }

  async covering(points: readonly LonLat[]): Promise<string[][]> {
    const out: string[][] = points.map(() => []);
    if (points.length === 0) return out;
    const xs = new Array<number>(points.length);
    const ys = new Array<number>(points.length);
    for (let i = 0; i < points.length; i++) {
      const [x, y] = points[i] as LonLat;
      xs[i] = x;
      ys[i] = y;
    }
    const result = await this.#pool.query<{ i: number; ids: string[] | null; n: string | null }>({
      name: "locus_fences_covering",
      text: COVERING,
      values: [xs, ys],
    });
    for (const row of result.rows) {
      if (row.i === 0) this.#size = Number(row.n ?? 0);
      else out[row.i - 1] = row.ids ?? [];
    }
    return out;
  }

  async crossingCandidates(boxes: readonly Box[]): Promise<string[][]> {
    const out: string[][] = boxes.map(() => []);
    if (boxes.length === 0) return out;
    const columns: number[][] = [[], [], [], []];
    for (const box of boxes) for (let k = 0; k < 4; k++) columns[k]?.push(box[k] as number);
    const result = await this.#pool.query<{ i: number; ids: string[] }>({
      name: "locus_fences_crossing",
      text: CROSSING_CANDIDATES,
      values: columns,
    });
    for (const row of result.rows) out[row.i - 1] = row.ids;
    return out;
  }
}

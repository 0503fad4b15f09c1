// The PostgreSQL store's webhooks: their settings, delivery cursors and deliveries logs (schema
// migration 4 in postgres-schema.ts). PostgresStore delegates its webhook methods here.

import type pg from "pg";
import { idGenerator } from "./ids.ts";
import { EVENT_COLUMNS, type EventRow, eventFromRow } from "./postgres-rows.ts";
import { LOCK_OUTBOX, SCHEMA_KEY } from "./postgres-schema.ts";
import type {
  DeliveryRecord,
  OutboxEvent,
  Page,
  WebhookInput,
  WebhookRecord,
  WebhookStore,
} from "./store.ts";

const COLUMNS = "id, url, secret, types, geofence_ids, created_at, updated_at, cursor";

interface WebhookRow {
  id: string;
  url: string;
  secret: string | null;
  types: string[] | null;
  geofence_ids: string[] | null;
  created_at: string;
  updated_at: string;
  cursor: string;
}

interface DeliveryRow extends Omit<DeliveryRecord, "at"> {
  at: string;
}

// bigint columns arrive as text.
function fromRow(row: WebhookRow): WebhookRecord {
  return {
    ...row,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    cursor: Number(row.cursor),
  };
}

function jsonOrNull(list: string[] | null): string | null {
  return list === null ? null : JSON.stringify(list);
}

export class PostgresWebhooks implements WebhookStore {
  readonly #pool: pg.Pool;
  #newId: ((now: number) => string) | null = null;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(input: WebhookInput, now: number, max: number): Promise<WebhookRecord | null> {
    if (this.#newId === null) {
      const highest = await this.#pool.query<{ id: string | null }>(
        "SELECT max(id) AS id FROM webhooks",
      );
      this.#newId ??= idGenerator(highest.rows[0]?.id ?? undefined);
    }
    const id = this.#newId(now);
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      // The outbox lock of group commits (postgres-ingest.ts): no event is between taking its
      // seqno and committing, so every event after the cursor read here is one committed later.
      await client.query(`SELECT pg_advisory_xact_lock($1, ${SCHEMA_KEY})`, [LOCK_OUTBOX]);
      const result = await client.query<WebhookRow>(
        `INSERT INTO webhooks (${COLUMNS})
         SELECT $1, $2, $3, $4::jsonb, $5::jsonb, $6, $6, (SELECT coalesce(max(seqno), 0) FROM events)
         WHERE (SELECT count(*) FROM webhooks) < $7
         RETURNING ${COLUMNS}`,
        [
          id,
          input.url,
          input.secret,
          jsonOrNull(input.types),
          jsonOrNull(input.geofence_ids),
          now,
          max,
        ],
      );
      await client.query("COMMIT");
      const row = result.rows[0];
      return row === undefined ? null : fromRow(row);
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async replace(id: string, input: WebhookInput, now: number): Promise<WebhookRecord | null> {
    const result = await this.#pool.query<WebhookRow>(
      `UPDATE webhooks SET url = $2, secret = $3, types = $4::jsonb, geofence_ids = $5::jsonb,
         updated_at = $6 WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, input.url, input.secret, jsonOrNull(input.types), jsonOrNull(input.geofence_ids), now],
    );
    const row = result.rows[0];
    return row === undefined ? null : fromRow(row);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#pool.query(
      `WITH log AS (DELETE FROM webhook_deliveries WHERE webhook_id = $1)
       DELETE FROM webhooks WHERE id = $1`,
      [id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async get(id: string): Promise<WebhookRecord | null> {
    const result = await this.#pool.query<WebhookRow>(
      `SELECT ${COLUMNS} FROM webhooks WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row === undefined ? null : fromRow(row);
  }

  async list(page: Page): Promise<WebhookRecord[]> {
    const result = await this.#pool.query<WebhookRow>(
      `SELECT ${COLUMNS} FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2`,
      [page.after ?? "", page.limit],
    );
    return result.rows.map(fromRow);
  }

  async eventsAfter(after: number, limit: number): Promise<OutboxEvent[]> {
    // Group commits make seqnos visible in increasing order (postgres-ingest.ts), so reading
    // "after n" never skips an event that commits later.
    const result = await this.#pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE seqno > $1 ORDER BY seqno LIMIT $2`,
      [after, limit],
    );
    return result.rows.map((row) => ({ seqno: Number(row.seqno), event: eventFromRow(row) }));
  }

  async claim(id: string, owner: string, ttlMs: number) {
    const result = await this.#pool.query<{ cursor: string | null; taken: boolean }>(
      `WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
       taken AS (
         UPDATE webhooks SET lease_owner = $2, lease_until = (SELECT ms FROM now) + $3
         WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < (SELECT ms FROM now))
         RETURNING cursor)
       SELECT (SELECT cursor FROM taken) AS cursor,
              EXISTS (SELECT 1 FROM taken) AS taken,
              EXISTS (SELECT 1 FROM webhooks WHERE id = $1) AS present`,
      [id, owner, ttlMs],
    );
    const row = result.rows[0] as { cursor: string | null; taken: boolean; present: boolean };
    if (row.taken) return { cursor: Number(row.cursor) };
    return row.present ? "held" : "gone";
  }

  async release(id: string, owner: string): Promise<void> {
    await this.#pool.query(
      "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
      [id, owner],
    );
  }

  async advance(id: string, cursor: number): Promise<void> {
    await this.#pool.query("UPDATE webhooks SET cursor = $2 WHERE id = $1 AND cursor < $2", [
      id,
      cursor,
    ]);
  }

  async logAttempt(id: string, entry: DeliveryRecord, keep: number): Promise<void> {
    await this.#pool.query(
      `WITH added AS (
         INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, status, error, outcome, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7))
       DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND n <=
         (SELECT n FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY n DESC LIMIT 1 OFFSET $8)`,
      [
        id,
        entry.event_id,
        entry.attempt,
        entry.status,
        entry.error,
        entry.outcome,
        entry.at,
        keep - 1,
      ],
    );
  }

  async deliveries(id: string, limit: number): Promise<DeliveryRecord[]> {
    const result = await this.#pool.query<DeliveryRow>(
      `SELECT event_id, attempt, status, error, outcome, at FROM webhook_deliveries
       WHERE webhook_id = $1 ORDER BY n DESC LIMIT $2`,
      [id, limit],
    );
    return result.rows.map((row) => ({ ...row, at: Number(row.at) }));
  }

  async latestSeqno(): Promise<number> {
    const result = await this.#pool.query<{ n: string }>(
      "SELECT coalesce(max(seqno), 0) AS n FROM events",
    );
    return Number(result.rows[0]?.n ?? 0);
  }
}

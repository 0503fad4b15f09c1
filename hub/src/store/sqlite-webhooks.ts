// The SQLite store's webhooks: their settings, delivery cursors and deliveries logs (migration 5
// in sqlite-schema.ts). SqliteStore lends it its flush to disk.

import type Database from "better-sqlite3";
import { eventFromColumns } from "./codec.ts";
import { idGenerator } from "./ids.ts";
import type { EventRow } from "./sqlite-rows.ts";
import type {
  DeliveryRecord,
  OutboxEvent,
  Page,
  WebhookInput,
  WebhookRecord,
  WebhookStore,
} from "./store.ts";

interface WebhookRow {
  id: string;
  lease_owner?: string | null;
  lease_until?: number | null;
  url: string;
  secret: string | null;
  types: string | null;
  geofence_ids: string | null;
  created_at: number;
  updated_at: number;
  cursor: number;
}

function fromRow({ lease_owner: _o, lease_until: _u, ...row }: WebhookRow): WebhookRecord {
  return {
    ...row,
    types: row.types === null ? null : (JSON.parse(row.types) as string[]),
    geofence_ids: row.geofence_ids === null ? null : (JSON.parse(row.geofence_ids) as string[]),
  };
}

function inputParams(input: WebhookInput) {
  return {
    url: input.url,
    secret: input.secret,
    types: input.types === null ? null : JSON.stringify(input.types),
    geofence_ids: input.geofence_ids === null ? null : JSON.stringify(input.geofence_ids),
  };
}

/** What the store lends: its flush to disk and its failed-disk check. */
export interface SqliteWebhooksHooks {
  durable(): Promise<void> | undefined;
  writable(): void;
}

export class SqliteWebhooks implements WebhookStore {
  readonly #db: Database.Database;
  readonly #hooks: SqliteWebhooksHooks;
  readonly #newId: (now: number) => string;
  readonly #stmt;

  constructor(db: Database.Database, hooks: SqliteWebhooksHooks) {
    this.#db = db;
    this.#hooks = hooks;
    const highest = db.prepare("SELECT max(id) FROM webhooks").pluck().get() as string | null;
    this.#newId = idGenerator(highest ?? undefined);
    this.#stmt = {
      count: db.prepare("SELECT count(*) FROM webhooks").pluck(),
      // The AUTOINCREMENT counter, not max(seqno): retention may have deleted the newest rows.
      latest: db
        .prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'")
        .pluck(),
      insert: db.prepare(
        `INSERT INTO webhooks (id, url, secret, types, geofence_ids, created_at, updated_at, cursor)
         VALUES (@id, @url, @secret, @types, @geofence_ids, @created_at, @updated_at, @cursor)`,
      ),
      replace: db.prepare(
        `UPDATE webhooks SET url = @url, secret = @secret, types = @types,
           geofence_ids = @geofence_ids, updated_at = @updated_at WHERE id = @id`,
      ),
      delete: db.prepare("DELETE FROM webhooks WHERE id = ?"),
      deleteLog: db.prepare("DELETE FROM webhook_deliveries WHERE webhook_id = ?"),
      get: db.prepare("SELECT * FROM webhooks WHERE id = ?"),
      list: db.prepare("SELECT * FROM webhooks WHERE id > ? ORDER BY id LIMIT ?"),
      eventsAfter: db.prepare("SELECT * FROM events WHERE seqno > ? ORDER BY seqno LIMIT ?"),
      claim: db.prepare(
        `UPDATE webhooks SET lease_owner = @owner, lease_until = @now + @ttl
         WHERE id = @id AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until < @now)
         RETURNING cursor`,
      ),
      exists: db.prepare("SELECT 1 FROM webhooks WHERE id = ?").pluck(),
      release: db.prepare(
        "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
      ),
      advance: db.prepare("UPDATE webhooks SET cursor = ? WHERE id = ? AND cursor < ?"),
      log: db.prepare(
        `INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, status, error, outcome, at)
         VALUES (@webhook_id, @event_id, @attempt, @status, @error, @outcome, @at)`,
      ),
      // Everything of this webhook at or below its keep-th newest entry but one.
      trim: db.prepare(
        `DELETE FROM webhook_deliveries WHERE webhook_id = @id AND n <=
           (SELECT n FROM webhook_deliveries WHERE webhook_id = @id ORDER BY n DESC LIMIT 1 OFFSET @keep)`,
      ),
      deliveries: db.prepare(
        `SELECT event_id, attempt, status, error, outcome, at FROM webhook_deliveries
         WHERE webhook_id = ? ORDER BY n DESC LIMIT ?`,
      ),
    };
  }

  async create(input: WebhookInput, now: number, max: number): Promise<WebhookRecord | null> {
    this.#hooks.writable();
    const record = this.#db.transaction((): WebhookRecord | null => {
      if ((this.#stmt.count.get() as number) >= max) return null;
      const created: WebhookRecord = {
        ...input,
        id: this.#newId(now),
        created_at: now,
        updated_at: now,
        cursor: this.#stmt.latest.get() as number,
      };
      this.#stmt.insert.run({ ...created, ...inputParams(input) });
      return created;
    })();
    if (record !== null) await this.#hooks.durable();
    return record;
  }

  async replace(id: string, input: WebhookInput, now: number): Promise<WebhookRecord | null> {
    this.#hooks.writable();
    const changed = this.#stmt.replace.run({ id, updated_at: now, ...inputParams(input) }).changes;
    if (changed === 0) return null;
    await this.#hooks.durable();
    return this.get(id);
  }

  async delete(id: string): Promise<boolean> {
    this.#hooks.writable();
    const deleted = this.#db.transaction(() => {
      this.#stmt.deleteLog.run(id);
      return this.#stmt.delete.run(id).changes > 0;
    })();
    if (deleted) await this.#hooks.durable();
    return deleted;
  }

  async get(id: string): Promise<WebhookRecord | null> {
    const row = this.#stmt.get.get(id) as WebhookRow | undefined;
    return row === undefined ? null : fromRow(row);
  }

  async list(page: Page): Promise<WebhookRecord[]> {
    return (this.#stmt.list.all(page.after ?? "", page.limit) as WebhookRow[]).map(fromRow);
  }

  async eventsAfter(after: number, limit: number): Promise<OutboxEvent[]> {
    const rows = this.#stmt.eventsAfter.all(after, limit) as EventRow[];
    // As for MQTT: never send an event before the fixes that caused it are on disk.
    await this.#hooks.durable();
    return rows.map((row) => ({ seqno: row.seqno, event: eventFromColumns(row) }));
  }

  async claim(id: string, owner: string, ttlMs: number) {
    this.#hooks.writable();
    const row = this.#stmt.claim.get({ id, owner, now: Date.now(), ttl: ttlMs }) as
      | { cursor: number }
      | undefined;
    if (row !== undefined) return { cursor: row.cursor };
    return this.#stmt.exists.get(id) === undefined ? "gone" : "held";
  }

  async release(id: string, owner: string): Promise<void> {
    this.#stmt.release.run(id, owner);
  }

  async advance(id: string, cursor: number): Promise<void> {
    this.#hooks.writable();
    // Not waited for on disk (as markDelivered): a move lost in a power cut only means those
    // events go out again, with the same ids, which at-least-once allows. Anything written after
    // it (retention's deletes) is lost with it, the WAL being written in order.
    this.#stmt.advance.run(cursor, id, cursor);
  }

  async logAttempt(id: string, entry: DeliveryRecord, keep: number): Promise<void> {
    this.#hooks.writable();
    this.#db.transaction(() => {
      this.#stmt.log.run({ webhook_id: id, ...entry });
      this.#stmt.trim.run({ id, keep });
    })();
    // Not flushed on its own: the next cursor move or group commit covers it.
  }

  async deliveries(id: string, limit: number): Promise<DeliveryRecord[]> {
    return this.#stmt.deliveries.all(id, limit) as DeliveryRecord[];
  }

  async latestSeqno(): Promise<number> {
    return this.#stmt.latest.get() as number;
  }
}

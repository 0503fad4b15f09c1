// The SQLite store's MQTT accounts, REST tokens and vehicle registrations (tables of migration 4
// in sqlite-schema.ts). SqliteStore delegates its accounts-and-tokens methods here.

import type Database from "better-sqlite3";
import type { AccountRecord, Page, TokenRecord } from "./store.ts";

const EMPTY_STATE = JSON.stringify({ last_ts: null, inside: [] });

/** What the store lends: its flush to disk, its failed-disk check, and fixes_recent's mover. */
export interface SqliteAccountsHooks {
  /** Resolves once everything committed is on disk (undefined: nothing to wait for). */
  durable(): Promise<void> | undefined;
  /** Throws when the disk has failed and the store refuses writes. */
  writable(): void;
  /**
   * Moves every row of fixes_recent into `fixes`, so that a purge deletes a vehicle's fixes from
   * one table and the store's count of recent rows stays right.
   */
  settleFixes(): void;
  /** Called once a vehicle's fixes are purged: the store forgets what it kept in memory of them. */
  fixesPurged(vehicleId: string): void;
}

export class SqliteAccounts {
  readonly #db: Database.Database;
  readonly #hooks: SqliteAccountsHooks;
  readonly #stmt;

  constructor(db: Database.Database, hooks: SqliteAccountsHooks) {
    this.#db = db;
    this.#hooks = hooks;
    this.#stmt = {
      insertAccount: db.prepare(
        `INSERT INTO mqtt_accounts (username, kind, role, password_hash, created_at)
         VALUES (@username, @kind, @role, @password_hash, @created_at)
         ON CONFLICT (username) DO NOTHING`,
      ),
      insertClient: db.prepare(
        `INSERT INTO mqtt_accounts (username, kind, role, password_hash, created_at)
         SELECT @username, 'client', @role, @password_hash, @created_at
         WHERE NOT EXISTS (SELECT 1 FROM vehicles WHERE id = @username)
         ON CONFLICT (username) DO NOTHING`,
      ),
      nameVehicle: db.prepare(
        `INSERT INTO vehicles (id, state, name) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
      ),
      getAccount: db.prepare("SELECT * FROM mqtt_accounts WHERE username = ?"),
      listAccounts: db.prepare(
        "SELECT * FROM mqtt_accounts WHERE kind = ? AND username > ? ORDER BY username LIMIT ?",
      ),
      setPassword: db.prepare("UPDATE mqtt_accounts SET password_hash = ? WHERE username = ?"),
      deleteAccount: db.prepare("DELETE FROM mqtt_accounts WHERE username = ? AND kind = ?"),
      deleteVehicleRow: db.prepare("DELETE FROM vehicles WHERE id = ?"),
      deleteFixes: db.prepare("DELETE FROM fixes WHERE vehicle_id = ?"),
      deleteEvents: db.prepare("DELETE FROM events WHERE vehicle_id = ?"),
      insertToken: db.prepare(
        `INSERT INTO api_tokens (name, role, digest, created_at)
         VALUES (@name, @role, @digest, @created_at) ON CONFLICT DO NOTHING`,
      ),
      tokenByDigest: db.prepare("SELECT * FROM api_tokens WHERE digest = ?"),
      listTokens: db.prepare("SELECT * FROM api_tokens WHERE name > ? ORDER BY name LIMIT ?"),
      deleteToken: db.prepare("DELETE FROM api_tokens WHERE name = ?"),
    };
  }

  async registerVehicle(account: AccountRecord, name: string | null): Promise<boolean> {
    this.#hooks.writable();
    const created = this.#db.transaction(() => {
      if (this.#stmt.insertAccount.run(account).changes === 0) return false;
      this.#stmt.nameVehicle.run(account.username, EMPTY_STATE, name);
      return true;
    })();
    if (created) await this.#hooks.durable();
    return created;
  }

  async deleteVehicle(id: string, purge: boolean): Promise<boolean> {
    this.#hooks.writable();
    if (purge) this.#hooks.settleFixes();
    const changes = this.#db.transaction(() => {
      let n = this.#stmt.deleteAccount.run(id, "vehicle").changes;
      n += this.#stmt.deleteVehicleRow.run(id).changes;
      if (purge) {
        n += this.#stmt.deleteFixes.run(id).changes;
        n += this.#stmt.deleteEvents.run(id).changes;
      }
      return n;
    })();
    if (purge) this.#hooks.fixesPurged(id);
    if (changes > 0) await this.#hooks.durable();
    return changes > 0;
  }

  async createClientAccount(account: AccountRecord): Promise<boolean> {
    this.#hooks.writable();
    const created = this.#stmt.insertClient.run(account).changes > 0;
    if (created) await this.#hooks.durable();
    return created;
  }

  async getAccount(username: string): Promise<AccountRecord | null> {
    return (this.#stmt.getAccount.get(username) as AccountRecord | undefined) ?? null;
  }

  async listAccounts(kind: AccountRecord["kind"], page: Page): Promise<AccountRecord[]> {
    return this.#stmt.listAccounts.all(kind, page.after ?? "", page.limit) as AccountRecord[];
  }

  async setAccountPassword(username: string, passwordHash: string): Promise<boolean> {
    this.#hooks.writable();
    const changed = this.#stmt.setPassword.run(passwordHash, username).changes > 0;
    if (changed) await this.#hooks.durable();
    return changed;
  }

  async deleteAccount(username: string, kind: AccountRecord["kind"]): Promise<boolean> {
    this.#hooks.writable();
    const deleted = this.#stmt.deleteAccount.run(username, kind).changes > 0;
    if (deleted) await this.#hooks.durable();
    return deleted;
  }

  async createToken(token: TokenRecord): Promise<boolean> {
    this.#hooks.writable();
    const created = this.#stmt.insertToken.run(token).changes > 0;
    if (created) await this.#hooks.durable();
    return created;
  }

  async tokenByDigest(digest: string): Promise<TokenRecord | null> {
    return (this.#stmt.tokenByDigest.get(digest) as TokenRecord | undefined) ?? null;
  }

  async listTokens(page: Page): Promise<TokenRecord[]> {
    return this.#stmt.listTokens.all(page.after ?? "", page.limit) as TokenRecord[];
  }

  async deleteToken(name: string): Promise<boolean> {
    this.#hooks.writable();
    const deleted = this.#stmt.deleteToken.run(name).changes > 0;
    if (deleted) await this.#hooks.durable();
    return deleted;
  }
}

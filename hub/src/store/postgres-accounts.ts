// The PostgreSQL store's MQTT accounts, REST tokens and vehicle registrations (schema migration 2
// in postgres-schema.ts). PostgresStore delegates its accounts-and-tokens methods here.

import type pg from "pg";
import type { AccountRecord, Page, TokenRecord } from "./store.ts";

const EMPTY_STATE = JSON.stringify({ last_ts: null, inside: [] });

const ACCOUNT_COLUMNS = "username, kind, role, password_hash, created_at";
const TOKEN_COLUMNS = "name, role, digest, created_at";

interface AccountRow extends Omit<AccountRecord, "created_at"> {
  created_at: string;
}
interface TokenRow extends Omit<TokenRecord, "created_at"> {
  created_at: string;
}

// bigint columns arrive as text.
const accountFromRow = (row: AccountRow): AccountRecord => ({
  ...row,
  created_at: Number(row.created_at),
});
const tokenFromRow = (row: TokenRow): TokenRecord => ({
  ...row,
  created_at: Number(row.created_at),
});

/** Runs `work` in one transaction on one connection of the pool. */
async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export class PostgresAccounts {
  constructor(readonly pool: pg.Pool) {}

  registerVehicle(account: AccountRecord, name: string | null): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const inserted = await c.query(
        `INSERT INTO mqtt_accounts (${ACCOUNT_COLUMNS}) VALUES ($1, 'vehicle', NULL, $2, $3)
         ON CONFLICT (username) DO NOTHING`,
        [account.username, account.password_hash, account.created_at],
      );
      if (inserted.rowCount === 0) return false;
      await c.query(
        `INSERT INTO vehicles (id, state, name) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
        [account.username, EMPTY_STATE, name],
      );
      return true;
    });
  }

  deleteVehicle(id: string, purge: boolean): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const statements = [
        "DELETE FROM mqtt_accounts WHERE username = $1 AND kind = 'vehicle'",
        "DELETE FROM vehicles WHERE id = $1",
      ];
      if (purge) {
        statements.push("DELETE FROM fixes WHERE vehicle_id = $1");
        statements.push("DELETE FROM events WHERE vehicle_id = $1");
      }
      let changes = 0;
      for (const sql of statements) changes += (await c.query(sql, [id])).rowCount ?? 0;
      return changes > 0;
    });
  }

  async createClientAccount(account: AccountRecord): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO mqtt_accounts (${ACCOUNT_COLUMNS})
       SELECT $1, 'client', $2, $3, $4
       WHERE NOT EXISTS (SELECT 1 FROM vehicles WHERE id = $1)
       ON CONFLICT (username) DO NOTHING`,
      [account.username, account.role, account.password_hash, account.created_at],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async getAccount(username: string): Promise<AccountRecord | null> {
    const result = await this.pool.query<AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS} FROM mqtt_accounts WHERE username = $1`,
      [username],
    );
    const row = result.rows[0];
    return row ? accountFromRow(row) : null;
  }

  async listAccounts(kind: AccountRecord["kind"], page: Page): Promise<AccountRecord[]> {
    const result = await this.pool.query<AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS} FROM mqtt_accounts WHERE kind = $1 AND username > $2
       ORDER BY username LIMIT $3`,
      [kind, page.after ?? "", page.limit],
    );
    return result.rows.map(accountFromRow);
  }

  async setAccountPassword(username: string, passwordHash: string): Promise<boolean> {
    const result = await this.pool.query(
      "UPDATE mqtt_accounts SET password_hash = $2 WHERE username = $1",
      [username, passwordHash],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async deleteAccount(username: string, kind: AccountRecord["kind"]): Promise<boolean> {
    const result = await this.pool.query(
      "DELETE FROM mqtt_accounts WHERE username = $1 AND kind = $2",
      [username, kind],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async createToken(token: TokenRecord): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO api_tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [token.name, token.role, token.digest, token.created_at],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async tokenByDigest(digest: string): Promise<TokenRecord | null> {
    const result = await this.pool.query<TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE digest = $1`,
      [digest],
    );
    const row = result.rows[0];
    return row ? tokenFromRow(row) : null;
  }

  async listTokens(page: Page): Promise<TokenRecord[]> {
    const result = await this.pool.query<TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE name > $1 ORDER BY name LIMIT $2`,
      [page.after ?? "", page.limit],
    );
    return result.rows.map(tokenFromRow);
  }

  async deleteToken(name: string): Promise<boolean> {
    const result = await this.pool.query("DELETE FROM api_tokens WHERE name = $1", [name]);
    return (result.rowCount ?? 0) > 0;
  }
}

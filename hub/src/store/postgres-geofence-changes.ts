// Hears the geofence changes the database announces (migration 3: NOTIFY in the transaction of
// every insert, update and delete on `geofences`, whoever makes it) on a connection of its own,
// outside the pool. When that connection is lost it reconnects with backoff; notifications sent
// meanwhile are lost, so after each reconnection the owner is told to read the whole catalogue.

import { Backoff } from "@locus/protocol";
import pg from "pg";
import { GEOFENCE_CHANNEL_SQL } from "./postgres-schema.ts";

/** One announced change: the geofence's id, what happened, and its version after the change. */
export interface GeofenceChange {
  id: string;
  op: "upsert" | "delete";
  version: number;
}

export interface GeofenceChangeHandlers {
  /** A change, in commit order. */
  change(change: GeofenceChange): void;
  /** The connection was lost and is back: changes may have been missed. */
  reconnected(): void;
  /** The connection was lost (or a reconnection failed); it is tried again after a backoff. */
  lost(err: Error): void;
}

export interface GeofenceChangeOptions {
  /** Reconnection backoff: first wait and cap, ms. Defaults 200 and 10,000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/** Reads a notification's payload; null when it is not one of ours. */
export function parseGeofenceChange(payload: string | undefined): GeofenceChange | null {
  if (payload === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return null;
  }
  const { id, op, version } = (raw ?? {}) as Record<string, unknown>;
  if (typeof id !== "string" || (op !== "upsert" && op !== "delete")) return null;
  if (typeof version !== "number" || !Number.isSafeInteger(version)) return null;
  return { id, op, version };
}

export class GeofenceChangeListener {
  readonly #url: string;
  readonly #handlers: GeofenceChangeHandlers;
  readonly #backoff: Backoff;
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  private constructor(
    url: string,
    handlers: GeofenceChangeHandlers,
    options: GeofenceChangeOptions,
  ) {
    this.#url = url;
    this.#handlers = handlers;
    const min = options.reconnectMinMs ?? 200;
    this.#backoff = new Backoff({
      initialMs: min,
      maxMs: Math.max(min, options.reconnectMaxMs ?? 10_000),
    });
  }

  /** Connects and listens; throws when the first connection fails. */
  static async start(
    url: string,
    handlers: GeofenceChangeHandlers,
    options: GeofenceChangeOptions = {},
  ): Promise<GeofenceChangeListener> {
    const listener = new GeofenceChangeListener(url, handlers, options);
    await listener.#connect();
    return listener;
  }

  /** Whether the listening connection is up now. */
  get listening(): boolean {
    return this.#client !== null;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: "locus-hub-listen",
    });
    let lost = false;
    const onLost = (err: Error) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = null;
      client.removeAllListeners("notification");
      // The error listener stays: a dying client may still emit.
      client.end().catch(() => {});
      if (this.#closed) return;
      this.#handlers.lost(err);
      this.#schedule();
    };
    client.on("error", onLost);
    client.on("end", () => onLost(new Error("the listening connection to PostgreSQL closed")));
    client.on("notification", (message) => {
      const change = parseGeofenceChange(message.payload);
      if (change !== null) this.#handlers.change(change);
    });
    try {
      await client.connect();
      const found = await client.query<{ channel: string }>(GEOFENCE_CHANNEL_SQL);
      const channel = found.rows[0]?.channel ?? "";
      await client.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
    } catch (err) {
      lost = true;
      client.end().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect().then(
        () => {
          if (this.#closed) return;
          this.#backoff.reset();
          this.#handlers.reconnected();
        },
        (err: unknown) => {
          if (this.#closed) return;
          this.#handlers.lost(err instanceof Error ? err : new Error(String(err)));
          this.#schedule();
        },
      );
    }, this.#backoff.next());
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    if (client !== null) await client.end().catch(() => {});
  }
}

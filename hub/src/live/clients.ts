// The stream clients of one hub: how many may connect, their sessions on the live feed, and the
// ticker that hands each of them the coalesced fixes a few times a second. Knows no sockets:
// each session writes through the Sink it was opened with.

import type { LiveFeed } from "./feed.ts";
import { type SessionLimits, type SessionMetrics, type Sink, StreamSession } from "./session.ts";

/** How often fixes are sent: at most this often, as one message per client. */
export const FLUSH_INTERVAL_MS = 250;

export interface StreamLimits extends SessionLimits {
  /** Stream connections at most, authenticated or not. */
  maxClients: number;
  /** The ticker's period, ms (FLUSH_INTERVAL_MS unless a test asks otherwise). */
  flushIntervalMs?: number;
}

export interface StreamMetrics extends SessionMetrics {
  /** Authenticated clients receiving the stream. */
  clients(count: number): void;
  /** Bytes held for all clients (queued, and unsent in their sockets), sampled each tick. */
  heldBytes(bytes: number): void;
}

export class StreamClients {
  readonly #sessions = new Map<StreamSession, () => void>();
  #connections = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Sessions owed a message since the last flush, written on the next turn of the event loop. */
  readonly #owed = new Set<StreamSession>();
  #flushScheduled = false;

  constructor(
    readonly feed: LiveFeed,
    readonly limits: StreamLimits,
    readonly metrics: StreamMetrics,
  ) {}

  /** Connections holding a slot. */
  get connections(): number {
    return this.#connections;
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Takes a connection slot; false when every slot is taken. Give it back with release(). */
  reserve(): boolean {
    if (this.#connections >= this.limits.maxClients) return false;
    this.#connections++;
    return true;
  }

  release(): void {
    this.#connections--;
  }

  /**
   * Subscribes a new session to the feed at once, before its snapshot is read, so nothing that
   * happens meanwhile is missed; it writes nothing until start().
   */
  open(sink: Sink): StreamSession {
    const session = new StreamSession(sink, this.limits, this.metrics, (s) => this.#wake(s));
    this.#sessions.set(session, this.feed.subscribe(session));
    this.metrics.clients(this.#sessions.size);
    this.#timer ??= setInterval(
      () => this.tick(),
      this.limits.flushIntervalMs ?? FLUSH_INTERVAL_MS,
    );
    // The ticker never keeps the process alive on its own.
    this.#timer.unref();
    return session;
  }

  /**
   * Events, geofence changes and status are written soon, not within the publisher's call: the
   * ingest path only queues them, and the sockets are written on the next turn of the loop.
   */
  #wake(session: StreamSession): void {
    this.#owed.add(session);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what each session that was woken is owed. */
  flush(): void {
    this.#flushScheduled = false;
    const owed = [...this.#owed];
    this.#owed.clear();
    for (const session of owed) {
      session.flush();
      if (session.closed) this.close(session);
    }
  }

  /** The session's client left, or was disconnected. */
  close(session: StreamSession): void {
    const unsubscribe = this.#sessions.get(session);
    if (unsubscribe === undefined) return;
    unsubscribe();
    session.dispose();
    this.#owed.delete(session);
    this.#sessions.delete(session);
    this.metrics.clients(this.#sessions.size);
    if (this.#sessions.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
      this.metrics.heldBytes(0);
    }
  }

  /** One beat: this period's fixes to every session, and what each is owed, if it has room. */
  tick(now = Date.now()): void {
    const batch = this.feed.takeFixes();
    let held = 0;
    for (const session of [...this.#sessions.keys()]) {
      session.tick(batch, now);
      if (session.closed) this.close(session);
      else held += session.heldBytes;
    }
    this.metrics.heldBytes(held);
  }

  /** Stops the ticker and drops every session (the caller closes their sockets). */
  stop(): void {
    for (const session of [...this.#sessions.keys()]) this.close(session);
  }
}

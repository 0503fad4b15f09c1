// One webhook's delivery loop: reads the events after its cursor from the store a page at a time,
// POSTs each one it wants, in outbox order, one at a time, retrying with backoff until a 2xx or
// until the retry period is over, and moves the durable cursor only then. A restart resumes after
// the cursor: at least once, in order. Nothing of one webhook waits for another.

import http from "node:http";
import https from "node:https";
import { Backoff, encodeEvent, type GeofenceEvent } from "@locus/protocol";
import type { DeliveryRecord, OutboxEvent, WebhookRecord, WebhookStore } from "../store/store.ts";
import { type AttemptResult, attempt } from "./attempt.ts";
import { deliveryHeaders } from "./signer.ts";
import { guardedLookup, type Resolve } from "./url-check.ts";

export interface DeliverySettings {
  /** No answer within this long is a failed attempt, ms (CONTRACT: 10 s). */
  timeoutMs: number;
  /** Upper bound of the first retry's delay, ms (CONTRACT: within 5 s); it doubles per failure. */
  firstRetryMs: number;
  /** Largest retry delay, ms (CONTRACT: 10 min). */
  maxRetryMs: number;
  /** How long an event is retried before it is given up, ms (CONTRACT: at least 24 h). */
  retryForMs: number;
  /** Deliveries log entries kept per webhook. */
  deliveriesKept: number;
  /** LOCUS_WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** Events read from the store at once. */
  pageSize: number;
  /** With nothing to do, how often the store is looked at anyway (events of other hubs), ms. */
  pollMs: number;
}

/** What the loop tells its owner: for metrics and logs. */
export interface DeliveryObserver {
  delivered(webhookId: string): void;
  /** An event was given up after retrying for the whole retry period. */
  gaveUp(webhookId: string, eventId: string, error: string): void;
  attemptFailed(webhookId: string, eventId: string, result: AttemptResult, retryInMs: number): void;
  /** A store call failed; it is retried. */
  storeFailed(webhookId: string, err: Error): void;
}

/** Whether a webhook wants an event: its type and geofence among those it names (absent: all). */
export function wants(
  hook: Pick<WebhookRecord, "types" | "geofence_ids">,
  e: GeofenceEvent,
): boolean {
  return (
    (hook.types === null || hook.types.includes(e.type)) &&
    (hook.geofence_ids === null || hook.geofence_ids.includes(e.geofence_id))
  );
}

/**
 * How long a claim on a webhook lasts (renewed at half of it): longer than an attempt may take,
 * so a claim taken before an attempt still holds when the attempt ends.
 */
export const LEASE_MS = 60_000;

export interface DelivererOptions {
  store: WebhookStore;
  /** This hub, among hubs sharing a database: one of them at a time delivers a webhook's events. */
  owner: string;
  settings: DeliverySettings;
  observer: DeliveryObserver;
  now?: () => number;
  random?: () => number;
  /** Name resolution for the guarded lookup; injectable for tests. */
  resolve?: Resolve;
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}

export class Deliverer {
  #hook: WebhookRecord;
  readonly #o: Required<Omit<DelivererOptions, "resolve">>;
  readonly #abort = new AbortController();
  readonly #agents: { http: http.Agent; https: https.Agent };
  #cursor: number;
  /** The event being delivered (its attempts under way), for the lag metrics. */
  #current: OutboxEvent | null = null;
  #retrying = false;
  #wake: (() => void) | null = null;
  /** Set by notify while a page is being read: read again before going idle. */
  #notified = false;
  #running: Promise<void> | null = null;
  /** Until when (this process's clock) the claim on the webhook needs no renewing; 0: not held. */
  #leaseFresh = 0;

  constructor(hook: WebhookRecord, options: DelivererOptions) {
    this.#hook = hook;
    this.#cursor = hook.cursor;
    this.#o = { now: Date.now, random: Math.random, ...options };
    // One connection per webhook, kept between attempts: one attempt is in flight at a time.
    const agentOptions = {
      keepAlive: true,
      maxSockets: 1,
      ...(options.settings.allowPrivate ? {} : { lookup: guardedLookup(options.resolve) }),
    };
    this.#agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  }

  get id(): string {
    return this.#hook.id;
  }

  /** The outbox position of the newest event this webhook is done with. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Whether the current event has failed at least once and waits for its next attempt. */
  get retrying(): boolean {
    return this.#retrying;
  }

  /** When the event being delivered was detected (epoch ms); null when there is none. */
  get pendingSince(): number | null {
    return this.#current === null ? null : Date.parse(this.#current.event.detected_at);
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** New events were committed: look at the store now if idle. */
  notify(): void {
    this.#notified = true;
    this.#wake?.();
  }

  /** New settings (PUT): used from the next attempt on; the cursor stays. */
  update(hook: WebhookRecord): void {
    this.#hook = { ...hook, cursor: this.#cursor };
  }

  /**
   * Stops: an attempt under way is cut short and not counted; the cursor stays where the last
   * delivered (or given up) event put it, so that event's successors go out after a restart.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#running;
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  get #signal(): AbortSignal {
    return this.#abort.signal;
  }

  async #run(): Promise<void> {
    const storeBackoff = this.#storeBackoff();
    while (!this.#signal.aborted) {
      let page: OutboxEvent[];
      this.#notified = false;
      const lease = await this.#claim(storeBackoff);
      if (lease === "gone") break;
      if (lease === "held") continue;
      try {
        page = await this.#o.store.eventsAfter(this.#cursor, this.#o.settings.pageSize);
        storeBackoff.reset();
      } catch (err) {
        this.#o.observer.storeFailed(this.id, asError(err));
        await pause(storeBackoff.next(), this.#signal);
        continue;
      }
      if (page.length === 0) {
        if (!this.#notified) await this.#idle();
        continue;
      }
      let skipped = false;
      for (const entry of page) {
        if (this.#signal.aborted) break;
        if (!wants(this.#hook, entry.event)) {
          this.#cursor = entry.seqno;
          skipped = true;
          continue;
        }
        this.#current = entry;
        const finished = await this.#deliver(entry);
        this.#current = null;
        if (finished === "stopped") break;
        // Another hub holds the webhook now: start again from the stored cursor once it is back.
        if (finished === "lost") {
          skipped = false;
          break;
        }
        this.#cursor = entry.seqno;
        skipped = false;
        await this.#save();
      }
      // Events the filters skipped need no flush of their own: they would be skipped again.
      if (skipped) await this.#save();
    }
    if (this.#leaseFresh > 0) await this.#o.store.release(this.id, this.#o.owner).catch(() => {});
  }

  /**
   * Makes sure this hub holds the webhook (store.claim), renewing the claim once half of it has
   * passed. While another hub holds it, waits a while and answers "held"; on taking it, carries
   * on from the stored cursor, which that hub may have moved.
   */
  async #claim(storeBackoff: Backoff): Promise<"ok" | "held" | "gone"> {
    if (this.#o.now() < this.#leaseFresh) return "ok";
    let claim: Awaited<ReturnType<WebhookStore["claim"]>>;
    try {
      claim = await this.#o.store.claim(this.id, this.#o.owner, LEASE_MS);
    } catch (err) {
      this.#leaseFresh = 0;
      this.#o.observer.storeFailed(this.id, asError(err));
      await pause(storeBackoff.next(), this.#signal);
      return "held";
    }
    if (claim === "gone") return "gone";
    if (claim === "held") {
      this.#leaseFresh = 0;
      await pause(Math.min(LEASE_MS / 4, Math.max(this.#o.settings.pollMs, 1000)), this.#signal);
      return "held";
    }
    this.#cursor = Math.max(this.#cursor, claim.cursor);
    this.#leaseFresh = this.#o.now() + LEASE_MS / 2;
    return "ok";
  }

  /** Waits for notify, stop, or the poll interval. */
  #idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, this.#o.settings.pollMs);
      const wake = () => finish();
      this.#wake = wake;
      function finish() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.#wake = null;
    });
  }

  /**
   * Attempts one event until it is delivered or given up ("done"), the loop stops ("stopped"), or
   * another hub holds the webhook ("lost"). The attempt count and the retry period start again
   * after a restart.
   */
  async #deliver(entry: OutboxEvent): Promise<"done" | "stopped" | "lost"> {
    const s = this.#o.settings;
    const body = encodeEvent(entry.event);
    const first = this.#o.now();
    const backoff = new Backoff({
      initialMs: s.firstRetryMs,
      maxMs: Math.max(s.firstRetryMs, s.maxRetryMs),
      random: this.#o.random,
    });
    const storeBackoff = this.#storeBackoff();
    for (let n = 1; ; n++) {
      // Only the holder attempts: a claim taken now outlasts the attempt.
      const lease = await this.#claim(storeBackoff);
      if (this.#signal.aborted) return "stopped";
      if (lease !== "ok") return "lost";
      const hook = this.#hook;
      const at = this.#o.now();
      const url = new URL(hook.url);
      const result = await attempt({
        url,
        body,
        headers: deliveryHeaders(entry.event.id, body, hook.secret, at),
        timeoutMs: s.timeoutMs,
        agent: url.protocol === "https:" ? this.#agents.https : this.#agents.http,
        allowPrivate: s.allowPrivate,
        signal: this.#signal,
      });
      const ok = result.error === null;
      // Cut short by stop: not an answer from the endpoint, so not logged.
      if (!ok && this.#signal.aborted) return "stopped";
      const givingUp = !ok && this.#o.now() - first >= s.retryForMs;
      const entryLog: DeliveryRecord = {
        event_id: entry.event.id,
        attempt: n,
        status: result.status,
        error: givingUp
          ? `${result.error}; given up after ${n} attempts over ${Math.round((this.#o.now() - first) / 1000)} s: the webhook moves on to the next event`
          : result.error,
        outcome: ok ? "delivered" : givingUp ? "failed" : "retrying",
        at,
      };
      await this.#log(entryLog);
      if (ok) {
        this.#retrying = false;
        this.#o.observer.delivered(this.id);
        return "done";
      }
      if (givingUp) {
        this.#retrying = false;
        this.#o.observer.gaveUp(this.id, entry.event.id, entryLog.error ?? "");
        return "done";
      }
      this.#retrying = true;
      const delay = backoff.next();
      this.#o.observer.attemptFailed(this.id, entry.event.id, result, delay);
      await pause(delay, this.#signal);
      if (this.#signal.aborted) return "stopped";
    }
  }

  /** Logs an attempt; a log that cannot be written does not hold up delivery. */
  async #log(entry: DeliveryRecord): Promise<void> {
    try {
      await this.#o.store.logAttempt(this.id, entry, this.#o.settings.deliveriesKept);
    } catch (err) {
      this.#o.observer.storeFailed(this.id, asError(err));
    }
  }

  /** Saves the cursor, retrying until it is saved or the loop stops (then it is sent again). */
  async #save(): Promise<void> {
    const backoff = this.#storeBackoff();
    while (!this.#signal.aborted) {
      try {
        await this.#o.store.advance(this.id, this.#cursor);
        return;
      } catch (err) {
        this.#o.observer.storeFailed(this.id, asError(err));
        await pause(backoff.next(), this.#signal);
      }
    }
    // Stopping: one last try, so a delivered event is not sent again needlessly.
    await this.#o.store.advance(this.id, this.#cursor).catch(() => {});
  }

  #storeBackoff(): Backoff {
    return new Backoff({ initialMs: 250, maxMs: 30_000, random: this.#o.random });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

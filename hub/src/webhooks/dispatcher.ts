// Owns every webhook's delivery loop (deliverer.ts): starts one per stored webhook, one more for
// each created, changes or stops them as webhooks are replaced or deleted, tells them of new
// events, and stops them all with the hub. The REST routes create, replace and delete webhooks
// through it, so the stored webhooks and the running loops stay in step.

import type { Logger } from "pino";
import type { HubMetrics, WebhookLag } from "../metrics.ts";
import type { OutboxEvent, Store, WebhookInput, WebhookRecord } from "../store/store.ts";
import { Deliverer, type DeliveryObserver, type DeliverySettings } from "./deliverer.ts";
import type { Resolve } from "./url-check.ts";

export interface WebhookSettings extends DeliverySettings {
  /** Webhooks at most (LOCUS_WEBHOOK_MAX). */
  maxWebhooks: number;
}

/** Defaults of CONTRACT §5 (docs/webhooks.md lists the settings that change them). */
export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  timeoutMs: 10_000,
  firstRetryMs: 5_000,
  maxRetryMs: 600_000,
  retryForMs: 24 * 3_600_000,
  deliveriesKept: 1000,
  allowPrivate: false,
  pageSize: 100,
  pollMs: 1000,
  maxWebhooks: 100,
};

export interface WebhookDispatcherOptions {
  store: Store;
  /**
   * This hub's name among hubs sharing a database (the hub passes LOCUS_MQTT_CLIENT_ID, which
   * such hubs must set apart anyway): one hub at a time delivers a webhook. Default "locus-hub".
   */
  owner?: string;
  settings: WebhookSettings;
  metrics?: Pick<HubMetrics, "webhookDelivered" | "webhookFailed" | "webhookAttemptsFailed">;
  logger?: Logger;
  /**
   * How often the stored webhooks are read again, ms, to pick up those created, replaced or
   * deleted through another hub on the same database. Default 5000.
   */
  syncMs?: number;
  now?: () => number;
  random?: () => number;
  resolve?: Resolve;
}

/** What the REST routes need: create, replace and delete keep the loops in step. */
export interface WebhookRegistry {
  readonly settings: WebhookSettings;
  /** null when LOCUS_WEBHOOK_MAX webhooks exist already. */
  create(input: WebhookInput): Promise<WebhookRecord | null>;
  replace(id: string, input: WebhookInput): Promise<WebhookRecord | null>;
  remove(id: string): Promise<boolean>;
}

export class WebhookDispatcher implements WebhookRegistry {
  readonly settings: WebhookSettings;
  readonly #o: WebhookDispatcherOptions;
  readonly #loops = new Map<string, Deliverer>();
  /** The newest outbox position known, for the lag metric. */
  #latest = 0;
  #started = false;
  #stopped = false;
  #syncTimer: NodeJS.Timeout | null = null;
  /** Each loop's webhook as last seen in the store, by id: its updated_at. */
  readonly #seen = new Map<string, number>();

  constructor(options: WebhookDispatcherOptions) {
    this.#o = options;
    this.settings = options.settings;
  }

  /** Starts a loop for every stored webhook, each resuming after its cursor. */
  async start(): Promise<void> {
    this.#started = true;
    this.#latest = await this.#o.store.webhooks.latestSeqno();
    await this.#sync();
    this.#scheduleSync();
  }

  /**
   * Brings the loops in step with the stored webhooks: starts one for a webhook it does not run,
   * passes on settings replaced elsewhere, stops the loop of a webhook deleted elsewhere.
   */
  async #sync(): Promise<void> {
    const stored = new Map<string, WebhookRecord>();
    let after: string | undefined;
    for (;;) {
      const page = await this.#o.store.webhooks.list(
        after === undefined ? { limit: 100 } : { limit: 100, after },
      );
      for (const hook of page) stored.set(hook.id, hook);
      if (page.length < 100) break;
      after = page[page.length - 1]?.id;
    }
    if (this.#stopped) return;
    for (const hook of stored.values()) {
      const loop = this.#loops.get(hook.id);
      if (loop === undefined) this.#startLoop(hook);
      // Only newer settings: a list read before a PUT through this hub must not undo it.
      else if (hook.updated_at > (this.#seen.get(hook.id) ?? 0)) {
        this.#seen.set(hook.id, hook.updated_at);
        loop.update(hook);
      }
    }
    for (const [id, loop] of this.#loops) {
      if (stored.has(id)) continue;
      this.#loops.delete(id);
      this.#seen.delete(id);
      await loop.stop();
    }
  }

  #scheduleSync(): void {
    if (this.#stopped) return;
    this.#syncTimer = setTimeout(() => {
      this.#sync()
        .catch((err: Error) =>
          this.#o.logger?.warn({ err: err.message }, "reading the webhooks failed; will retry"),
        )
        .finally(() => this.#scheduleSync());
    }, this.#o.syncMs ?? 5000);
    this.#syncTimer.unref();
  }

  /** Freshly committed events: loops that are idle look at the store again. */
  notify(events: readonly OutboxEvent[]): void {
    const last = events[events.length - 1];
    if (last === undefined) return;
    this.#latest = Math.max(this.#latest, last.seqno);
    for (const loop of this.#loops.values()) loop.notify();
  }

  async create(input: WebhookInput): Promise<WebhookRecord | null> {
    const now = this.#now();
    const hook = await this.#o.store.webhooks.create(input, now, this.settings.maxWebhooks);
    if (hook !== null) {
      this.#latest = Math.max(this.#latest, hook.cursor);
      this.#startLoop(hook);
    }
    return hook;
  }

  async replace(id: string, input: WebhookInput): Promise<WebhookRecord | null> {
    const hook = await this.#o.store.webhooks.replace(id, input, this.#now());
    if (hook !== null) {
      this.#seen.set(id, hook.updated_at);
      this.#loops.get(id)?.update(hook);
    }
    return hook;
  }

  async remove(id: string): Promise<boolean> {
    const loop = this.#loops.get(id);
    this.#loops.delete(id);
    this.#seen.delete(id);
    // Stopped first, so no attempt of a deleted webhook is logged after its log is gone.
    await loop?.stop();
    return this.#o.store.webhooks.delete(id);
  }

  /** Every webhook's state, for the metrics. */
  lag(): WebhookLag[] {
    const now = this.#now();
    return [...this.#loops.values()].map((loop) => {
      const since = loop.pendingSince;
      return {
        id: loop.id,
        retrying: loop.retrying,
        events: Math.max(0, this.#latest - loop.cursor),
        seconds: since === null ? 0 : Math.max(0, (now - since) / 1000),
      };
    });
  }

  /** Stops every loop: attempts under way are cut short; the cursors stay for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    const loops = [...this.#loops.values()];
    this.#loops.clear();
    await Promise.all(loops.map((loop) => loop.stop()));
  }

  #startLoop(hook: WebhookRecord): void {
    if (!this.#started || this.#stopped || this.#loops.has(hook.id)) return;
    const loop = new Deliverer(hook, {
      store: this.#o.store.webhooks,
      owner: this.#o.owner ?? "locus-hub",
      settings: this.settings,
      observer: this.#observer,
      ...(this.#o.now ? { now: this.#o.now } : {}),
      ...(this.#o.random ? { random: this.#o.random } : {}),
      ...(this.#o.resolve ? { resolve: this.#o.resolve } : {}),
    });
    this.#loops.set(hook.id, loop);
    this.#seen.set(hook.id, hook.updated_at);
    loop.start();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  readonly #observer: DeliveryObserver = {
    delivered: (id) => this.#o.metrics?.webhookDelivered.inc({ webhook: id }),
    gaveUp: (id, eventId, error) => {
      this.#o.metrics?.webhookFailed.inc({ webhook: id });
      // The URL is not logged: it may carry a token in its query.
      this.#o.logger?.warn({ webhook: id, event: eventId, error }, "webhook event given up");
    },
    attemptFailed: (id, eventId, result, retryInMs) => {
      this.#o.metrics?.webhookAttemptsFailed.inc({ webhook: id });
      this.#o.logger?.info(
        { webhook: id, event: eventId, status: result.status, error: result.error, retryInMs },
        "webhook attempt failed; will retry",
      );
    },
    storeFailed: (id, err) =>
      this.#o.logger?.warn(
        { webhook: id, err: err.message },
        "webhook store call failed; will retry",
      ),
  };
}

// Webhook delivery against real HTTP endpoints on 127.0.0.1 that misbehave (refused connections,
// answers that never come, redirects, flapping 500/200), on both stores: order, at-least-once,
// signatures, isolation between webhooks, a restart in the middle, and refused addresses.

import { createHmac, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { buildEvent, encodeEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startPostgres } from "../../../tests/support/postgres.ts";
import { ingest } from "../ingest/test-support.ts";
import { createMetrics } from "../metrics.ts";
import { openPostgresStore } from "../store/postgres.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { OutboxEvent, Store, WebhookInput } from "../store/store.ts";
import { DEFAULT_WEBHOOK_SETTINGS, WebhookDispatcher, type WebhookSettings } from "./dispatcher.ts";
import { type Receiver, startReceiver } from "./test-receiver.ts";

const T0 = Date.parse("2026-11-24T20:00:00.000Z");
const SECRET = "a-secret-of-some-length";

const SETTINGS: WebhookSettings = {
  ...DEFAULT_WEBHOOK_SETTINGS,
  allowPrivate: true,
  timeoutMs: 300,
  firstRetryMs: 40,
  maxRetryMs: 200,
  pollMs: 50,
  pageSize: 7,
};

interface Opened {
  store: Store;
  /** Closes the store and opens the same database again. */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

const pgServer = await startPostgres();
afterAll(async () => {
  await pgServer?.stop();
});

const backends: [string, () => Promise<Opened>][] = [
  [
    "SQLite",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-webhooks-"));
      const file = path.join(dir, "locus.db");
      let store: Store = new SqliteStore(file, { synchronous: "normal" });
      return {
        store,
        reopen: async () => {
          await store.close();
          store = new SqliteStore(file, { synchronous: "normal" });
          return store;
        },
        cleanup: async () => {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];
if (pgServer !== null) {
  backends.push([
    "PostgreSQL",
    async () => {
      const schema = await pgServer.freshSchema();
      let store: Store = await openPostgresStore(schema.url);
      return {
        store,
        reopen: async () => {
          await store.close();
          store = await openPostgresStore(schema.url);
          return store;
        },
        cleanup: async () => {
          await store.close();
          await schema.drop();
        },
      };
    },
  ]);
}

/** Events of one vehicle entering or leaving fences, one per second from `from`. */
function events(
  from: number,
  count: number,
  fence = (i: number) => `fence-${i % 2}`,
): GeofenceEvent[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const fix: Fix = {
      vehicle_id: "truck-01",
      latitude: 34.05,
      longitude: -118.24,
      ts: T0 + i * 1000,
      ts_given: true,
    };
    return buildEvent(
      { type: i % 4 < 2 ? "enter" : "exit", geofence_id: fence(i) },
      fix,
      `name ${fence(i)}`,
      fix.ts + 3,
    );
  });
}

/** Commits events as the pipeline does and tells the dispatcher. */
async function commit(store: Store, dispatcher: WebhookDispatcher, list: GeofenceEvent[]) {
  const fixes: Fix[] = list.map((e) => ({
    vehicle_id: e.vehicle_id,
    latitude: e.latitude,
    longitude: e.longitude,
    ts: Date.parse(e.ts),
    ts_given: true,
  }));
  const { events: committed } = await ingest(store, fixes, () => ({ vehicles: [], events: list }));
  dispatcher.notify(committed);
  return committed;
}

/** Event ids in the order a receiver got them, duplicates removed (at least once allows them). */
function firstCopies(receiver: Receiver): string[] {
  const seen: string[] = [];
  for (const r of receiver.received) {
    const id = JSON.parse(r.body).id as string;
    if (!seen.includes(id)) seen.push(id);
  }
  return seen;
}

function verify(r: { headers: Record<string, unknown>; body: string }, secret: string): boolean {
  const ts = String(r.headers["locus-timestamp"]);
  const given = String(r.headers["locus-signature"]);
  const expected = `sha256=${createHmac("sha256", secret).update(`${ts}.${r.body}`).digest("hex")}`;
  return (
    given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
  );
}

async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const hookInput = (url: string, extra: Partial<WebhookInput> = {}): WebhookInput => ({
  url,
  secret: null,
  types: null,
  geofence_ids: null,
  ...extra,
});

describe.each(backends)("webhook delivery on %s", (_name, open) => {
  let opened: Opened;
  let store: Store;
  const receivers: Receiver[] = [];
  const dispatchers: WebhookDispatcher[] = [];

  async function dispatcher(settings: Partial<WebhookSettings> = {}, owner = "hub-a") {
    const metrics = createMetrics({
      outboxDepth: () => 0,
      connectedDevices: () => 0,
      webhooks: () => d.lag(),
    });
    const d: WebhookDispatcher = new WebhookDispatcher({
      store,
      owner,
      syncMs: 100,
      settings: { ...SETTINGS, ...settings },
      metrics,
    });
    dispatchers.push(d);
    await d.start();
    return { d, metrics };
  }
  async function receiver(respond?: Parameters<typeof startReceiver>[0]) {
    const r = await startReceiver(respond);
    receivers.push(r);
    return r;
  }

  beforeEach(async () => {
    opened = await open();
    store = opened.store;
  });
  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop();
    for (const r of receivers.splice(0)) await r.close();
    await opened.cleanup();
  });

  it("POSTs the event JSON in order with its headers and a signature the receiver verifies", async () => {
    const { d, metrics } = await dispatcher();
    const r = await receiver();
    const signed = await d.create(hookInput(r.url, { secret: SECRET }));
    const list = events(0, 12);
    await commit(store, d, list);
    await r.until((got) => got.length >= 12);
    expect(r.received.map((x) => x.body)).toEqual(list.map(encodeEvent));
    for (const [i, got] of r.received.entries()) {
      expect(got.headers["content-type"]).toBe("application/json");
      expect(got.headers["locus-event-id"]).toBe(list[i]?.id);
      expect(Number(got.headers["locus-timestamp"])).toBeCloseTo(Date.now() / 1000, -2);
      expect(verify(got as never, SECRET)).toBe(true);
      expect(verify(got as never, "another-secret-entirely")).toBe(false);
    }
    await vi.waitFor(async () =>
      expect(await store.webhooks.deliveries(signed?.id as string, 100)).toHaveLength(12),
    );
    const log = await store.webhooks.deliveries(signed?.id as string, 100);
    expect(log[0]).toMatchObject({
      event_id: list[11]?.id,
      attempt: 1,
      status: 204,
      error: null,
      outcome: "delivered",
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`locus_webhook_delivered_total{webhook="${signed?.id}"} 12`);
  });

  it("sends only the types and geofences a webhook names, and no signature without a secret", async () => {
    const { d } = await dispatcher();
    const r = await receiver();
    await d.create(hookInput(r.url, { types: ["exit"], geofence_ids: ["fence-1"] }));
    const list = events(0, 16);
    await commit(store, d, list);
    const wanted = list.filter((e) => e.type === "exit" && e.geofence_id === "fence-1");
    expect(wanted.length).toBeGreaterThan(1);
    await r.until((got) => got.length >= wanted.length);
    expect(firstCopies(r)).toEqual(wanted.map((e) => e.id));
    expect(r.received[0]?.headers["locus-signature"]).toBeUndefined();
  });

  it("retries a flapping endpoint until it answers 2xx, never out of order", async () => {
    const { d } = await dispatcher();
    // 500, 500, 200, 500, 200, …: each event fails at least once.
    const r = await receiver((n) => ({ status: n % 3 === 2 || n % 5 === 4 ? 200 : 500 }));
    const hook = await d.create(hookInput(r.url));
    const list = events(0, 8);
    await commit(store, d, list);
    await r.until(
      (got) =>
        firstCopies({ received: got } as Receiver).length === 8 &&
        JSON.parse(got[got.length - 1]?.body ?? "{}").id === list[7]?.id,
    );
    await vi.waitFor(async () => {
      const log = await store.webhooks.deliveries(hook?.id as string, 1000);
      expect(log.filter((e) => e.outcome === "delivered")).toHaveLength(8);
    });
    // Each event is attempted until delivered before the next one is tried.
    const order = r.received.map((x) => JSON.parse(x.body).id as string);
    const firstIndex = list.map((e) => order.indexOf(e.id));
    expect([...firstIndex].sort((a, b) => a - b)).toEqual(firstIndex);
    const log = await store.webhooks.deliveries(hook?.id as string, 1000);
    expect(
      log.some((e) => e.status === 500 && e.outcome === "retrying" && e.error === "HTTP 500"),
    ).toBe(true);
    expect(log.filter((e) => e.attempt > 1).length).toBeGreaterThan(0);
  });

  it("keeps a healthy webhook and the outbox at pace while dead, slow and redirecting ones stall", async () => {
    const { d, metrics } = await dispatcher({ retryForMs: 60_000 });
    const healthy = await receiver();
    const slow = await receiver(() => "hang");
    const target = await receiver();
    const redirecting = await receiver(() => ({ status: 302, headers: { location: target.url } }));
    const dead = await d.create(hookInput(`http://127.0.0.1:${await deadPort()}/hook`));
    const slowHook = await d.create(hookInput(slow.url));
    const redirectHook = await d.create(hookInput(redirecting.url));
    await d.create(hookInput(healthy.url));
    const list = events(0, 30);
    for (let i = 0; i < 30; i += 5) await commit(store, d, list.slice(i, i + 5));
    await healthy.until((got) => got.length >= 30);
    expect(firstCopies(healthy)).toEqual(list.map((e) => e.id));
    // MQTT's side of the outbox is untouched by webhooks.
    expect(await store.outboxDepth()).toBe(30);

    await vi.waitFor(async () => {
      const log = await store.webhooks.deliveries(dead?.id as string, 10);
      expect(log.length).toBeGreaterThanOrEqual(2);
      expect(log[0]).toMatchObject({ event_id: list[0]?.id, status: null, outcome: "retrying" });
      expect(log[0]?.error).toMatch(/ECONNREFUSED/);
    });
    await vi.waitFor(async () => {
      const log = await store.webhooks.deliveries(slowHook?.id as string, 10);
      expect(log[0]).toMatchObject({
        event_id: list[0]?.id,
        status: null,
        error: "no answer within 0.3 s",
      });
    });
    await vi.waitFor(async () => {
      const log = await store.webhooks.deliveries(redirectHook?.id as string, 10);
      expect(log[0]).toMatchObject({ event_id: list[0]?.id, status: 302, outcome: "retrying" });
      expect(log[0]?.error).toMatch(/redirects are not followed/);
    });
    expect(target.received).toEqual([]);
    // Still on their first event, one attempt at a time.
    for (const r of [slow, redirecting])
      expect(new Set(firstCopies(r))).toEqual(new Set([list[0]?.id]));
    const text = await metrics.registry.metrics();
    expect(text).toContain(`locus_webhook_retrying{webhook="${dead?.id}"} 1`);
    expect(text).toMatch(new RegExp(`locus_webhook_lag_events\\{webhook="${dead?.id}"\\} 30`));
  });

  it("gives an event up after the retry period, logs it failed, and moves on", async () => {
    const { d, metrics } = await dispatcher({ retryForMs: 0 });
    const r = await receiver((n) => ({ status: n === 0 ? 503 : 200 }));
    const hook = await d.create(hookInput(r.url));
    const list = events(0, 3);
    await commit(store, d, list);
    await r.until((got) => got.length >= 3);
    expect(r.received.map((x) => JSON.parse(x.body).id)).toEqual(list.map((e) => e.id));
    await vi.waitFor(async () => {
      const log = await store.webhooks.deliveries(hook?.id as string, 10);
      expect(log.map((e) => e.outcome)).toEqual(["delivered", "delivered", "failed"]);
      expect(log[2]).toMatchObject({ event_id: list[0]?.id, status: 503 });
      expect(log[2]?.error).toMatch(/^HTTP 503; given up after 1 attempts/);
    });
    expect(await metrics.registry.metrics()).toContain(
      `locus_webhook_failed_total{webhook="${hook?.id}"} 1`,
    );
  });

  it("resumes after a restart where it stopped: every event, in order, at least once", async () => {
    const first = await dispatcher();
    // Slow to accept at first: most events are still owed when the dispatcher stops.
    let healthy = false;
    const r = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
    const hook = await first.d.create(hookInput(r.url, { secret: SECRET }));
    const before = events(0, 10);
    await commit(store, first.d, before);
    await r.until((got) => got.length >= 3);
    healthy = true;
    await r.until((got) => firstCopies({ received: got } as Receiver).length >= 2);
    await first.d.stop();
    store = await opened.reopen();
    const second = await dispatcher();
    const after = events(10, 10);
    await commit(store, second.d, after);
    const all = [...before, ...after];
    await r.until((got) => firstCopies({ received: got } as Receiver).length >= 20);
    expect(firstCopies(r)).toEqual(all.map((e) => e.id));
    expect(r.received.every((x) => verify(x as never, SECRET))).toBe(true);
    await vi.waitFor(async () => {
      const stored = await store.webhooks.get(hook?.id as string);
      const committed: OutboxEvent[] = await store.webhooks.eventsAfter(0, 100);
      expect(stored?.cursor).toBe(committed[committed.length - 1]?.seqno);
    });
  });

  it("lets one of two hubs on one database deliver a webhook, and the other take over when it stops", async () => {
    const a = await dispatcher({}, "hub-a");
    const r = await receiver();
    // hub-b runs already: it learns of the webhook created through hub-a from the store.
    const b = await dispatcher({}, "hub-b");
    const hook = await a.d.create(hookInput(r.url));
    const first = events(0, 10);
    await commit(store, a.d, first);
    b.d.notify(await store.webhooks.eventsAfter(0, 100));
    await r.until((got) => got.length >= 10);
    await a.d.stop();
    const second = events(10, 10);
    await commit(store, b.d, second);
    await r.until((got) => firstCopies({ received: got } as Receiver).length >= 20, 15_000);
    // In order, and never both hubs at once: at most the event in flight when hub-a stopped is
    // sent again by hub-b.
    expect(firstCopies(r)).toEqual([...first, ...second].map((e) => e.id));
    expect(r.received.length).toBeLessThanOrEqual(21);
    await vi.waitFor(async () => {
      const log = await store.webhooks.deliveries(hook?.id as string, 100);
      expect(log.filter((e) => e.outcome === "delivered").length).toBeGreaterThanOrEqual(20);
    });
    // A webhook replaced and then deleted in the store (through another hub) is followed: hub-b
    // signs with the new secret, then stops delivering.
    await store.webhooks.replace(
      hook?.id as string,
      hookInput(r.url, { secret: SECRET }),
      Date.now() + 1000,
    );
    // The change reaches hub-b's loop at its next read of the store: events go out until one is
    // signed.
    // Bounded in time, not in events: events go out faster than the loop re-reads its webhook.
    const until = Date.now() + 30_000;
    for (let k = 20; Date.now() < until; k++) {
      const before = r.received.length;
      await commit(store, b.d, events(k, 1));
      await r.until((got) => got.length > before);
      if (r.received[r.received.length - 1]?.headers["locus-signature"] !== undefined) break;
    }
    expect(verify(r.received[r.received.length - 1] as never, SECRET)).toBe(true);
    await store.webhooks.delete(hook?.id as string);
    await vi.waitFor(() => expect(b.d.lag()).toEqual([]));
  });

  it("refuses loopback at delivery when private addresses are not allowed, by address and by name", async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    // Stored directly: the API would refuse these URLs at creation already.
    const byAddress = await store.webhooks.create(hookInput(r.url), Date.now(), 10);
    const byName = await store.webhooks.create(
      hookInput(`http://localhost:${port}/hook`),
      Date.now(),
      10,
    );
    const { d } = await dispatcher({ allowPrivate: false });
    await commit(store, d, events(0, 1));
    await vi.waitFor(async () => {
      const a = await store.webhooks.deliveries(byAddress?.id as string, 10);
      const b = await store.webhooks.deliveries(byName?.id as string, 10);
      expect(a[0]).toMatchObject({ status: null, outcome: "retrying" });
      expect(a[0]?.error).toMatch(/refused address: 127\.0\.0\.1/);
      expect(b[0]).toMatchObject({ status: null, outcome: "retrying" });
      expect(b[0]?.error).toMatch(/localhost resolves to no public address/);
    });
    expect(r.received).toEqual([]);
  });
});

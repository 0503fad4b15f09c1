// The webhooks part of the Store contract (store.webhooks), run inside storeContract against every
// implementation: settings, the per-webhook cursor into the outbox, the bounded deliveries log,
// and retention holding back what a webhook still owes.

import { buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import type { DeliveryRecord, Store, WebhookInput } from "./store.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const DAY = 86_400_000;

const INPUT: WebhookInput = {
  url: "https://hooks.example.com/locus",
  secret: "s3cret-s3cret",
  types: ["enter"],
  geofence_ids: ["fence-a", "fence-b"],
};

function fixAt(ms: number): Fix {
  return { vehicle_id: "v", latitude: 34.05, longitude: -118.24, ts: ms, ts_given: true };
}

function enter(fix: Fix): GeofenceEvent {
  return buildEvent({ type: "enter", geofence_id: "fence-a" }, fix, "fence a", fix.ts + 4);
}

/** Commits one event per fix time; returns their outbox entries. */
async function commitEvents(store: Store, times: number[]) {
  const fixes = times.map(fixAt);
  const { events } = await ingest(store, fixes, () => ({
    vehicles: [],
    events: fixes.map(enter),
  }));
  return events;
}

function attempt(n: number, extra: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return {
    event_id: `e${n}`,
    attempt: n,
    status: 500,
    error: "HTTP 500",
    outcome: "retrying",
    at: T0 + n,
    ...extra,
  };
}

/** Registers the webhook tests; `current` gives the store under test, `reopen` reopens it. */
export function webhooksContract(current: () => Store, reopen: () => Promise<Store>): void {
  describe("webhooks", () => {
    it("creates one with its cursor at the newest event, and gets it back exactly", async () => {
      const store = current();
      const empty = await store.webhooks.create(INPUT, T0, 10);
      expect(empty).toEqual({
        ...INPUT,
        id: expect.any(String),
        created_at: T0,
        updated_at: T0,
        cursor: 0,
      });
      expect(await store.webhooks.get(empty?.id as string)).toEqual(empty);
      const events = await commitEvents(store, [T0, T0 + 1]);
      const later = await store.webhooks.create(
        { ...INPUT, secret: null, types: null, geofence_ids: null },
        T0 + 1,
        10,
      );
      expect(later?.cursor).toBe(events[1]?.seqno);
      expect(await store.webhooks.latestSeqno()).toBe(events[1]?.seqno);
      expect(await store.webhooks.get(later?.id as string)).toEqual(later);
      expect(await store.webhooks.get("01900000-0000-7000-8000-000000000000")).toBeNull();
    });

    it("refuses one more than the maximum, writing nothing", async () => {
      const store = current();
      expect(await store.webhooks.create(INPUT, T0, 2)).not.toBeNull();
      expect(await store.webhooks.create(INPUT, T0, 2)).not.toBeNull();
      expect(await store.webhooks.create(INPUT, T0, 2)).toBeNull();
      expect(await store.webhooks.list({ limit: 10 })).toHaveLength(2);
    });

    it("replaces settings keeping id, created_at and cursor; lists pages in creation order", async () => {
      const store = current();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await store.webhooks.create(INPUT, T0, 10))?.id as string);
      const first = ids[0] as string;
      await store.webhooks.advance(first, 7);
      const input = {
        url: "http://other.example/x",
        secret: null,
        types: null,
        geofence_ids: ["g"],
      };
      const replaced = await store.webhooks.replace(first, input, T0 + 5);
      expect(replaced).toEqual({
        ...input,
        id: first,
        created_at: T0,
        updated_at: T0 + 5,
        cursor: 7,
      });
      expect(
        await store.webhooks.replace("01900000-0000-7000-8000-000000000000", input, T0),
      ).toBeNull();
      const page1 = await store.webhooks.list({ limit: 3 });
      const page2 = await store.webhooks.list({ limit: 3, after: page1[2]?.id as string });
      expect([...page1, ...page2].map((w) => w.id)).toEqual(ids);
    });

    it("reads events after a cursor in outbox order, delivered to MQTT or not", async () => {
      const store = current();
      const events = await commitEvents(store, [T0, T0 + 1, T0 + 2, T0 + 3]);
      await store.markDelivered([events[1]?.seqno as number]);
      const after = await store.webhooks.eventsAfter(events[0]?.seqno as number, 2);
      expect(after).toEqual([events[1], events[2]]);
      expect(await store.webhooks.eventsAfter(events[3]?.seqno as number, 10)).toEqual([]);
    });

    it("moves a cursor only forward, and keeps it across a reopen", async () => {
      let store = current();
      const hook = await store.webhooks.create(INPUT, T0, 10);
      const id = hook?.id as string;
      await store.webhooks.advance(id, 5);
      await store.webhooks.advance(id, 3);
      expect((await store.webhooks.get(id))?.cursor).toBe(5);
      store = await reopen();
      expect((await store.webhooks.get(id))?.cursor).toBe(5);
    });

    it("lets one owner at a time claim a webhook, until it releases it or the claim lapses", async () => {
      const store = current();
      const id = (await store.webhooks.create(INPUT, T0, 10))?.id as string;
      await store.webhooks.advance(id, 4);
      expect(await store.webhooks.claim(id, "hub-a", 60_000)).toEqual({ cursor: 4 });
      expect(await store.webhooks.claim(id, "hub-b", 60_000)).toBe("held");
      // Renewed by its owner.
      expect(await store.webhooks.claim(id, "hub-a", 60_000)).toEqual({ cursor: 4 });
      await store.webhooks.release(id, "hub-b");
      expect(await store.webhooks.claim(id, "hub-b", 60_000)).toBe("held");
      await store.webhooks.release(id, "hub-a");
      expect(await store.webhooks.claim(id, "hub-b", 1)).toEqual({ cursor: 4 });
      // hub-b's claim of 1 ms lapses (the store's clock moves on between calls).
      // Asked again until the store's clock has passed it (bounded: 5 s), not a fixed number of
      // times, which a fast store answers within the same millisecond.
      let claim = await store.webhooks.claim(id, "hub-a", 60_000);
      for (const until = Date.now() + 5000; claim === "held" && Date.now() < until; ) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        claim = await store.webhooks.claim(id, "hub-a", 60_000);
      }
      expect(claim).toEqual({ cursor: 4 });
      expect(
        await store.webhooks.claim("01900000-0000-7000-8000-000000000000", "hub-a", 1000),
      ).toBe("gone");
      // A claim is not part of the webhook as answered.
      expect(await store.webhooks.get(id)).toEqual({
        ...INPUT,
        id,
        created_at: T0,
        updated_at: T0,
        cursor: 4,
      });
    });

    it("keeps the newest entries of each deliveries log, newest first", async () => {
      const store = current();
      const a = (await store.webhooks.create(INPUT, T0, 10))?.id as string;
      const b = (await store.webhooks.create(INPUT, T0, 10))?.id as string;
      for (let n = 1; n <= 6; n++) await store.webhooks.logAttempt(a, attempt(n), 4);
      await store.webhooks.logAttempt(
        b,
        attempt(1, { status: null, error: "connection refused", outcome: "failed" }),
        4,
      );
      await store.webhooks.logAttempt(
        a,
        attempt(7, { status: 204, error: null, outcome: "delivered" }),
        4,
      );
      expect(await store.webhooks.deliveries(a, 10)).toEqual(
        [7, 6, 5, 4].map((n) =>
          n === 7 ? attempt(7, { status: 204, error: null, outcome: "delivered" }) : attempt(n),
        ),
      );
      expect(await store.webhooks.deliveries(a, 2)).toHaveLength(2);
      expect(await store.webhooks.deliveries(b, 10)).toEqual([
        attempt(1, { status: null, error: "connection refused", outcome: "failed" }),
      ]);
    });

    it("deletes a webhook with its log: true once, then false", async () => {
      const store = current();
      const id = (await store.webhooks.create(INPUT, T0, 10))?.id as string;
      await store.webhooks.logAttempt(id, attempt(1), 10);
      expect(await store.webhooks.delete(id)).toBe(true);
      expect(await store.webhooks.delete(id)).toBe(false);
      expect(await store.webhooks.get(id)).toBeNull();
      expect(await store.webhooks.deliveries(id, 10)).toEqual([]);
    });

    it("retention keeps old events a webhook has not done with, and deletes them once it has", async () => {
      const store = current();
      const hook = await store.webhooks.create(INPUT, T0, 10);
      const events = await commitEvents(store, [T0, T0 + 1, T0 + 2]);
      await store.markDelivered(events.map((e) => e.seqno));
      const cutOff = T0 + 10 * DAY;
      // MQTT has them all, but the webhook has done with only the first.
      await store.webhooks.advance(hook?.id as string, events[0]?.seqno as number);
      while ((await store.deleteOlderThan(cutOff, 100)) > 0);
      expect(await store.webhooks.eventsAfter(0, 10)).toEqual([events[1], events[2]]);
      await store.webhooks.advance(hook?.id as string, events[2]?.seqno as number);
      while ((await store.deleteOlderThan(cutOff, 100)) > 0);
      expect(await store.webhooks.eventsAfter(0, 10)).toEqual([]);
      // Deleting the oldest events leaves the newest position where it was.
      expect(await store.webhooks.latestSeqno()).toBeGreaterThanOrEqual(0);
    });
  });
}

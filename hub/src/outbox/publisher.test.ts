// OutboxPublisher against a real SqliteStore: order, retries, overflow to the store, stop and
// crash recovery. `publish` records payloads in place of the broker.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildEvent, decodeEvent, EVENTS_TOPIC, type Fix } from "@locus/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { OutboxEvent, Store } from "../store/store.ts";
import { OutboxPublisher, type PublishEvent } from "./publisher.ts";

const T0 = Date.parse("2026-11-24T20:00:00.000Z");

let dir: string;
let file: string;
let store: SqliteStore;
let nextSecond = 0;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-publisher-"));
  file = path.join(dir, "locus.db");
  store = new SqliteStore(file, { synchronous: "normal" });
  nextSecond = 0;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Commits `count` fixes of one vehicle, each causing one event; returns them as the outbox holds them. */
async function commitEvents(count: number, into: Store = store): Promise<OutboxEvent[]> {
  const fixes: Fix[] = [];
  for (let i = 0; i < count; i++) {
    const s = nextSecond++;
    fixes.push({
      vehicle_id: "v1",
      latitude: 34,
      longitude: -118,
      ts: T0 + s * 1000,
      ts_given: true,
      seq: s,
    });
  }
  const result = await ingest(into, fixes, (fresh) => ({
    vehicles: [],
    events: fresh.map((f, i) =>
      buildEvent(
        { type: i % 2 === 0 ? "enter" : "exit", geofence_id: "fence-a" },
        f,
        "a",
        f.ts + 3,
      ),
    ),
  }));
  expect(result.events).toHaveLength(count);
  return result.events;
}

/** Resolves once everything already scheduled (promise jobs, then I/O callbacks) has run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise and its resolve function (Promise.withResolvers is Node 22+). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The real store, with some methods replaced (to slow them down or make them fail). */
function delegate(target: Store, overrides: Partial<Store>): Store {
  return new Proxy(target, {
    get(_, key) {
      const value = Reflect.get(key in overrides ? overrides : target, key);
      return typeof value === "function"
        ? value.bind(key in overrides ? overrides : target)
        : value;
    },
  });
}

const ids = (events: readonly OutboxEvent[]) => events.map((e) => e.event.id);

/** A broker stand-in: records the id of every payload it takes, in order. */
function recordingBroker(behaviour: (attempt: number) => Promise<void> | void = () => {}) {
  const published: string[] = [];
  let attempts = 0;
  const publish: PublishEvent = async (topic, payload) => {
    await behaviour(++attempts);
    expect(topic).toBe(EVENTS_TOPIC);
    const event = decodeEvent(payload);
    if (event === null) throw new Error(`not an event payload: ${payload}`);
    published.push(event.id);
  };
  return { published, publish, attempts: () => attempts };
}

async function outboxEmptied(into: Store = store): Promise<void> {
  await vi.waitFor(async () => expect(await into.outboxDepth()).toBe(0), {
    timeout: 20_000,
  });
}

describe("OutboxPublisher", () => {
  it("publishes what a previous run left, in seqno order, then marks it delivered", async () => {
    const leftovers = await commitEvents(5);
    const broker = recordingBroker();
    const publisher = new OutboxPublisher({ store, publish: broker.publish });
    publisher.start();
    await outboxEmptied();
    expect(broker.published).toEqual(ids(leftovers));
    expect(await store.undelivered(0, 100)).toEqual([]);
    await publisher.stop();
  });

  it("publishes enqueued events in order as they are committed", async () => {
    const broker = recordingBroker();
    const publisher = new OutboxPublisher({ store, publish: broker.publish });
    publisher.start();
    const committed: OutboxEvent[] = [];
    for (const n of [1, 3, 2]) {
      const events = await commitEvents(n);
      committed.push(...events);
      publisher.enqueue(events);
    }
    await outboxEmptied();
    expect(broker.published).toEqual(ids(committed));
    await publisher.stop();
    expect(broker.published).toEqual(ids(committed));
  });

  it("marks a trickle of delivered events in one store write per interval", async () => {
    const marks: number[][] = [];
    const counting = delegate(store, {
      markDelivered: async (seqnos: readonly number[]) => {
        marks.push([...seqnos]);
        await store.markDelivered(seqnos);
      },
    });
    const broker = recordingBroker();
    const publisher = new OutboxPublisher({
      store: counting,
      publish: broker.publish,
      // Longer than the test: every mark below is the one drain() makes.
      markDelayMs: 60_000,
    });
    publisher.start();
    const committed: OutboxEvent[] = [];
    for (let i = 0; i < 4; i++) {
      const events = await commitEvents(1);
      committed.push(...events);
      publisher.enqueue(events);
      await vi.waitFor(() => expect(broker.published).toHaveLength(committed.length));
    }
    expect(marks).toEqual([]);
    await publisher.drain();
    expect(marks).toEqual([committed.map((e) => e.seqno)]);
    expect(await store.outboxDepth()).toBe(0);
    await publisher.stop();
  });

  it("sends every event once, in order, when more arrive than it may hold", async () => {
    const leftovers = await commitEvents(5);
    // A broker that takes nothing until released, so that commits pile up behind a full queue
    // and must be read back.
    const held = deferred();
    const broker = recordingBroker(() => held.promise);
    const publisher = new OutboxPublisher({
      store,
      publish: broker.publish,
      maxQueued: 3,
      markBatch: 2,
    });
    publisher.start();
    const committed = [...leftovers];
    for (let i = 0; i < 6; i++) {
      const events = await commitEvents(4);
      committed.push(...events);
      publisher.enqueue(events);
      // Half-way, the broker takes what it holds, so the later commits meet a queue on the move.
      if (i === 2) held.resolve();
      await settled();
    }
    await outboxEmptied();
    expect(broker.published).toEqual(ids(committed));
    await publisher.stop();
  });

  it("one at a time, retries a failing publish without skipping or reordering", async () => {
    const committed = await commitEvents(4);
    const failOn = new Set([2, 3, 4, 7]);
    const broker = recordingBroker((attempt) => {
      if (failOn.has(attempt)) throw new Error(`broker refused attempt ${attempt}`);
    });
    const errors: string[] = [];
    const publisher = new OutboxPublisher({
      store,
      publish: broker.publish,
      retryMs: 1,
      window: 1,
      onError: (err) => errors.push(err.message),
    });
    publisher.start();
    const more = await commitEvents(2);
    publisher.enqueue(more);
    await outboxEmptied();
    expect(broker.published).toEqual(ids([...committed, ...more]));
    expect(broker.attempts()).toBe(6 + failOn.size);
    expect(errors).toEqual([...failOn].map((n) => `broker refused attempt ${n}`));
    await publisher.stop();
  });

  it("waits longer after each failure in a row, and starts over after a success", async () => {
    await commitEvents(2);
    const failOn = new Set([1, 2, 3, 5]);
    const broker = recordingBroker((attempt) => {
      if (failOn.has(attempt)) throw new Error("broker down");
    });
    const delays: (number | undefined)[] = [];
    const publisher = new OutboxPublisher({
      store,
      publish: broker.publish,
      retryMs: 20,
      // Each wait is drawn below its bound (full jitter); at 0.5, half of it.
      random: () => 0.5,
      window: 1,
      onError: (_err, retryInMs) => delays.push(retryInMs),
    });
    publisher.start();
    await outboxEmptied();
    await publisher.stop();
    // Attempts 1-3 fail (bounds 20, 40, 80), 4 succeeds, 5 fails afresh (bound 20), 6 succeeds.
    expect(delays).toEqual([10, 20, 40, 10]);
    expect(broker.attempts()).toBe(6);
  });

  it("one at a time, leaves what it did not publish undelivered when stopped", async () => {
    const committed = await commitEvents(6);
    let letThirdThrough = () => {};
    const thirdStarted = deferred();
    const broker = recordingBroker((attempt) => {
      if (attempt !== 3) return;
      thirdStarted.resolve();
      return new Promise<void>((resolve) => {
        letThirdThrough = resolve;
      });
    });
    const publisher = new OutboxPublisher({ store, publish: broker.publish, window: 1 });
    publisher.start();
    await thirdStarted.promise;
    const stopped = publisher.stop();
    letThirdThrough();
    await stopped;
    expect(broker.published).toEqual(ids(committed.slice(0, 3)));
    expect(await store.undelivered(0, 100)).toEqual(committed.slice(3));
    // Nothing goes out after stop, even when handed new events.
    publisher.enqueue(await commitEvents(1));
    await settled();
    expect(broker.published).toHaveLength(3);
    expect(await store.outboxDepth()).toBe(4);
  });

  it("after a crash, a new publisher republishes what was not marked, with the same ids", async () => {
    const committed = await commitEvents(5);
    // The first run publishes three events, then hangs and "crashes" before marking anything.
    const hung = deferred();
    const first = recordingBroker((attempt) => (attempt > 3 ? hung.promise : undefined));
    const crashed = new OutboxPublisher({
      store,
      publish: first.publish,
      markBatch: 1000,
      window: 1,
    });
    crashed.start();
    await vi.waitFor(() => expect(first.attempts()).toBe(4));
    expect(first.published).toEqual(ids(committed.slice(0, 3)));

    await store.close();
    store = new SqliteStore(file);
    expect(await store.outboxDepth()).toBe(5);
    const second = recordingBroker();
    const publisher = new OutboxPublisher({ store, publish: second.publish });
    publisher.start();
    await outboxEmptied();
    expect(second.published).toEqual(ids(committed));
    await publisher.stop();
  });

  it("retries when the store cannot be read, without an unhandled rejection", async () => {
    const committed = await commitEvents(3);
    let failures = 2;
    const flakyStore = delegate(store, {
      undelivered: async (after: number, limit: number) => {
        if (failures-- > 0) throw new Error("store unreachable");
        return store.undelivered(after, limit);
      },
    });
    const errors: string[] = [];
    const broker = recordingBroker();
    const publisher = new OutboxPublisher({
      store: flakyStore,
      publish: broker.publish,
      retryMs: 1,
      onError: (err) => errors.push(err.message),
    });
    publisher.start();
    await outboxEmptied();
    expect(broker.published).toEqual(ids(committed));
    expect(errors).toEqual(["store unreachable", "store unreachable"]);
    await publisher.stop();
  });

  it("does not lose events committed while it reads the outbox", async () => {
    const leftovers = await commitEvents(2);
    // The first outbox read returns its rows only after a new commit has been enqueued, as a
    // networked store's answer can arrive after other work has gone on.
    const readDone = deferred();
    const release = deferred();
    let reads = 0;
    const slowStore = delegate(store, {
      undelivered: async (after: number, limit: number) => {
        const rows = await store.undelivered(after, limit);
        if (reads++ === 0) {
          readDone.resolve();
          await release.promise;
        }
        return rows;
      },
    });
    const broker = recordingBroker();
    const publisher = new OutboxPublisher({ store: slowStore, publish: broker.publish });
    publisher.start();
    await readDone.promise;
    const fresh = await commitEvents(1);
    publisher.enqueue(fresh);
    release.resolve();
    await outboxEmptied();
    expect(broker.published).toEqual(ids([...leftovers, ...fresh]));
    await publisher.stop();
  });

  it("publishes events enqueued while it marks the previous ones delivered", async () => {
    // Marking goes to disk (an fsync) and can take a while; an event committed meanwhile finds
    // the run still going, and must not be left in memory when the run ends.
    const marking = deferred();
    const release = deferred();
    let marks = 0;
    const slowStore = delegate(store, {
      markDelivered: async (seqnos: readonly number[]) => {
        await store.markDelivered(seqnos);
        if (marks++ === 0) {
          marking.resolve();
          await release.promise;
        }
      },
    });
    const broker = recordingBroker();
    const publisher = new OutboxPublisher({ store: slowStore, publish: broker.publish });
    publisher.start();
    const first = await commitEvents(1);
    publisher.enqueue(first);
    await marking.promise;
    const second = await commitEvents(1);
    publisher.enqueue(second);
    release.resolve();
    await outboxEmptied();
    expect(broker.published).toEqual(ids([...first, ...second]));
    await publisher.stop();
  });

  it("hands a window of events to the broker at once, in outbox order", async () => {
    const committed = await commitEvents(10);
    const release = deferred();
    const broker = recordingBroker(() => release.promise);
    const publisher = new OutboxPublisher({ store, publish: broker.publish, window: 4 });
    publisher.start();
    // Four publishes under way before the broker has taken any.
    await vi.waitFor(() => expect(broker.attempts()).toBe(4));
    await settled();
    expect(broker.attempts()).toBe(4);
    release.resolve();
    await outboxEmptied();
    expect(broker.published).toEqual(ids(committed));
    expect(broker.attempts()).toBe(10);
    await publisher.stop();
  });

  it("after a failure in a window, publishes again from the failed event on, in order", async () => {
    const committed = await commitEvents(6);
    // Like a lost connection: a failed publish fails the ones handed over with it too.
    let down = false;
    const broker = recordingBroker((attempt) => {
      if (attempt === 3) {
        down = true;
        setImmediate(() => {
          down = false;
        });
      }
      if (down) throw new Error(`broker lost attempt ${attempt}`);
    });
    const errors: string[] = [];
    const publisher = new OutboxPublisher({
      store,
      publish: broker.publish,
      retryMs: 1,
      window: 4,
      onError: (err) => errors.push(err.message),
    });
    publisher.start();
    await outboxEmptied();
    await publisher.stop();
    // Window 1-4: the third fails and takes the fourth with it; window 3-6 then goes through.
    // Every event once, in outbox order, the failure reported once.
    expect(broker.published).toEqual(ids(committed));
    expect(errors).toEqual(["broker lost attempt 3"]);
    expect(await store.undelivered(0, 100)).toEqual([]);
  });

  it("stops after the window in flight, leaving the rest undelivered", async () => {
    const committed = await commitEvents(6);
    const hold = deferred();
    const started = deferred();
    const broker = recordingBroker((attempt) => {
      if (attempt === 1) started.resolve();
      if (attempt <= 3) return hold.promise;
    });
    const publisher = new OutboxPublisher({ store, publish: broker.publish, window: 3 });
    publisher.start();
    await started.promise;
    const stopped = publisher.stop();
    hold.resolve();
    await stopped;
    expect(broker.published).toEqual(ids(committed.slice(0, 3)));
    expect(await store.undelivered(0, 100)).toEqual(committed.slice(3));
  });
});

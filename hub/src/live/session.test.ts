// The live feed and a client's session without sockets: a recording sink whose unsent bytes the
// test sets, standing for a client that reads or stops reading.

import type { Fix } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import { StreamClients } from "./clients.ts";
import { LiveFeed } from "./feed.ts";
import { type SessionLimits, type Sink, STREAM_TOO_SLOW, StreamSession } from "./session.ts";

class RecordingSink implements Sink {
  bufferedAmount = 0;
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code: number; reason: string } | null = null;
  send(data: Buffer): void {
    this.sent.push(JSON.parse(data.toString("utf8")));
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }
  types(): unknown[] {
    return this.sent.map((m) => m.type);
  }
}

const LIMITS: SessionLimits = {
  highWaterBytes: 1000,
  maxQueuedMessages: 3,
  maxQueuedBytes: 10_000,
  stallTimeoutMs: 5000,
};

function counters() {
  const c = { sent: 0, coalesced: 0, tooSlow: 0, clients: 0, held: 0 };
  return {
    c,
    metrics: {
      sent: () => c.sent++,
      coalesced: (n: number) => {
        c.coalesced += n;
      },
      tooSlow: () => c.tooSlow++,
      clients: (n: number) => {
        c.clients = n;
      },
      heldBytes: (n: number) => {
        c.held = n;
      },
    },
  };
}

function fix(vehicle: string, ts: number): Fix {
  return { vehicle_id: vehicle, latitude: 1, longitude: ts / 1e6, ts, ts_given: true };
}

function setup(limits: SessionLimits = LIMITS) {
  const feed = new LiveFeed();
  const sink = new RecordingSink();
  const { c, metrics } = counters();
  const session = new StreamSession(sink, limits, metrics);
  feed.subscribe(session);
  return { feed, sink, session, c };
}

const SNAPSHOT = Buffer.from('{"type":"snapshot"}');

describe("LiveFeed", () => {
  it("batches the newest fix per vehicle and leaves out fixes older than one already batched", () => {
    let coalesced = 0;
    const feed = new LiveFeed({ onCoalesced: (n) => (coalesced += n) });
    feed.subscribe({ message: () => {} });
    feed.publishFixes([fix("a", 10), fix("b", 5), fix("a", 20), fix("a", 15)]);
    const batch = feed.takeFixes();
    expect([...(batch?.fixes.values() ?? [])].map((f) => [f.vehicle_id, f.ts])).toEqual([
      ["a", 20],
      ["b", 5],
    ]);
    expect(JSON.parse(batch?.data().toString() ?? "")).toMatchObject({
      type: "fixes",
      fixes: [{ vehicle_id: "a", ts: new Date(20).toISOString() }, { vehicle_id: "b" }],
    });
    expect(coalesced).toBe(2);
    expect(feed.takeFixes()).toBeNull();
    // Stored late, out of order: history, not the vehicle's position.
    feed.publishFixes([fix("a", 19), fix("b", 6)]);
    expect([...(feed.takeFixes()?.fixes.keys() ?? [])]).toEqual(["b"]);
  });

  it("keeps nothing while no one listens", () => {
    const feed = new LiveFeed();
    feed.publishFixes([fix("a", 1)]);
    expect(feed.takeFixes()).toBeNull();
    const unsubscribe = feed.subscribe({ message: () => {} });
    feed.publishFixes([fix("a", 2)]);
    unsubscribe();
    expect(feed.takeFixes()).toBeNull();
  });

  it("hands every listener the same encoded message", () => {
    const feed = new LiveFeed();
    const got: Buffer[] = [];
    feed.subscribe({ message: (m) => got.push(m.data) });
    feed.subscribe({ message: (m) => got.push(m.data) });
    feed.publishStatus("a", "offline");
    expect(got).toHaveLength(2);
    expect(got[0]).toBe(got[1]);
    expect(JSON.parse(got[0]?.toString() ?? "")).toEqual({
      type: "status",
      vehicle_id: "a",
      status: "offline",
    });
  });
});

describe("StreamSession", () => {
  it("holds everything until the snapshot, then sends it first and the rest after", () => {
    const { feed, sink, session } = setup();
    feed.publishGeofenceDeleted("g1");
    feed.publishFixes([fix("a", 1)]);
    session.tick(feed.takeFixes(), 0);
    expect(sink.sent).toEqual([]);
    session.start(SNAPSHOT);
    expect(sink.types()).toEqual(["snapshot", "geofence", "fixes"]);
  });

  it("sends a batch's shared bytes when up to date, and messages when woken to flush", () => {
    const { feed, sink, session, c } = setup();
    session.start(SNAPSHOT);
    feed.publishFixes([fix("a", 1), fix("b", 1)]);
    session.tick(feed.takeFixes(), 0);
    feed.publishStatus("a", "online");
    // Publishing writes no socket: the session's owner flushes it after the publisher returns.
    expect(sink.types()).toEqual(["snapshot", "fixes"]);
    session.flush();
    expect(sink.types()).toEqual(["snapshot", "fixes", "status"]);
    expect(sink.sent[1]?.fixes).toHaveLength(2);
    expect(c.sent).toBe(3);
  });

  it("coalesces fixes while the socket is above the high-water mark and sends the newest once it drains", () => {
    const { feed, sink, session, c } = setup();
    session.start(SNAPSHOT);
    sink.bufferedAmount = LIMITS.highWaterBytes + 1;
    for (let ts = 1; ts <= 5; ts++) {
      feed.publishFixes([fix("a", ts), fix(`v${ts}`, ts)]);
      session.tick(feed.takeFixes(), ts);
    }
    expect(sink.types()).toEqual(["snapshot"]);
    expect(session.owedFixes).toBe(6);
    expect(c.coalesced).toBe(4);
    sink.bufferedAmount = 0;
    session.tick(null, 6);
    expect(sink.types()).toEqual(["snapshot", "fixes"]);
    const fixes = sink.sent[1]?.fixes as { vehicle_id: string; ts: string }[];
    expect(fixes).toHaveLength(6);
    expect(fixes.find((f) => f.vehicle_id === "a")?.ts).toBe(new Date(5).toISOString());
    expect(session.owedFixes).toBe(0);
  });

  it("queues other messages while behind and sends them in order once there is room", () => {
    const { feed, sink, session } = setup();
    session.start(SNAPSHOT);
    sink.bufferedAmount = LIMITS.highWaterBytes + 1;
    feed.publishStatus("a", "offline");
    feed.publishStatus("a", "online");
    expect(session.queued).toBe(2);
    sink.bufferedAmount = 0;
    session.tick(null, 0);
    expect(sink.sent.slice(1).map((m) => m.status)).toEqual(["offline", "online"]);
    expect(session.queued).toBe(0);
  });

  it("disconnects a client whose queue overflows, with 4408, and drops what it held", () => {
    const { feed, sink, session, c } = setup();
    session.start(SNAPSHOT);
    sink.bufferedAmount = LIMITS.highWaterBytes + 1;
    for (let i = 0; i <= LIMITS.maxQueuedMessages; i++) feed.publishGeofenceDeleted(`g${i}`);
    expect(sink.closedWith?.code).toBe(STREAM_TOO_SLOW);
    expect(sink.closedWith?.reason).toMatch(/too slow: more than 3 messages/);
    expect(c.tooSlow).toBe(1);
    expect(session.closed).toBe(true);
    expect(session.queued).toBe(0);
    feed.publishGeofenceDeleted("later");
    expect(session.queued).toBe(0);
  });

  it("disconnects a client whose queued bytes pass the bound", () => {
    const { feed, sink, session } = setup({
      ...LIMITS,
      maxQueuedMessages: 100,
      maxQueuedBytes: 60,
    });
    session.start(SNAPSHOT);
    sink.bufferedAmount = LIMITS.highWaterBytes + 1;
    feed.publishGeofenceDeleted("g1");
    expect(sink.closedWith).toBeNull();
    feed.publishGeofenceDeleted("g2");
    expect(sink.closedWith?.reason).toMatch(/more than 60 bytes/);
  });

  it("disconnects a socket that stays above the mark for the stall timeout, not one that recovers", () => {
    const { sink, session } = setup();
    session.start(SNAPSHOT);
    sink.bufferedAmount = LIMITS.highWaterBytes + 1;
    session.tick(null, 1000);
    session.tick(null, 1000 + LIMITS.stallTimeoutMs - 1);
    expect(sink.closedWith).toBeNull();
    sink.bufferedAmount = 0;
    session.tick(null, 1000 + LIMITS.stallTimeoutMs);
    sink.bufferedAmount = LIMITS.highWaterBytes + 1;
    session.tick(null, 2000 + LIMITS.stallTimeoutMs);
    expect(sink.closedWith).toBeNull();
    session.tick(null, 2000 + 2 * LIMITS.stallTimeoutMs);
    expect(sink.closedWith).toEqual({
      code: STREAM_TOO_SLOW,
      reason: "too slow: nothing read for 5 s",
    });
  });
});

describe("StreamClients", () => {
  it("writes a published message on the next turn of the event loop, not in the publisher's call", async () => {
    const feed = new LiveFeed();
    const { metrics } = counters();
    const clients = new StreamClients(feed, { ...LIMITS, maxClients: 5 }, metrics);
    const sink = new RecordingSink();
    clients.open(sink).start(SNAPSHOT);
    feed.publishGeofenceDeleted("g1");
    feed.publishGeofenceDeleted("g2");
    expect(sink.types()).toEqual(["snapshot"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.sent.slice(1)).toEqual([
      { type: "geofence", op: "delete", id: "g1" },
      { type: "geofence", op: "delete", id: "g2" },
    ]);
    clients.stop();
  });

  it("bounds the connections and ticks every session with one shared batch", () => {
    const feed = new LiveFeed();
    const { c, metrics } = counters();
    const clients = new StreamClients(feed, { ...LIMITS, maxClients: 2 }, metrics);
    expect(clients.reserve()).toBe(true);
    expect(clients.reserve()).toBe(true);
    expect(clients.reserve()).toBe(false);
    const sinks = [new RecordingSink(), new RecordingSink()];
    const sessions = sinks.map((s) => clients.open(s));
    expect(c.clients).toBe(2);
    for (const s of sessions) s.start(SNAPSHOT);
    feed.publishFixes([fix("a", 1)]);
    clients.tick();
    expect(sinks.map((s) => s.types())).toEqual([
      ["snapshot", "fixes"],
      ["snapshot", "fixes"],
    ]);
    clients.close(sessions[0] as StreamSession);
    clients.release();
    expect(c.clients).toBe(1);
    expect(feed.listeners).toBe(1);
    expect(clients.reserve()).toBe(true);
    (sinks[1] as RecordingSink).bufferedAmount = 5;
    clients.tick();
    expect(c.held).toBe(5);
    clients.stop();
    expect(feed.listeners).toBe(0);
    expect(c.held).toBe(0);
  });
});

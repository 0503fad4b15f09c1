// Webhook delivery throughput: a backlog of committed events drained by the hub's own delivery
// loops (WebhookDispatcher on a real SQLite store) to local HTTP receivers on 127.0.0.1 that answer
// 204 at once. One webhook shows the cost of one-at-a-time, in-order delivery; several show how
// the loops run side by side.

import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { buildEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { SqliteStore } from "../hub/src/store/sqlite.ts";
import { DEFAULT_WEBHOOK_SETTINGS, WebhookDispatcher } from "../hub/src/webhooks/dispatcher.ts";

export interface WebhookBenchResult {
  events: number;
  webhooks: number;
  seconds: number;
  /** Deliveries (events × webhooks) per second. */
  deliveriesPerSecond: number;
}

/** A receiver that answers 204 and calls `onEvent` per request. */
async function receiver(onEvent: () => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(204).end();
      onEvent();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function eventsFor(count: number): { fixes: Fix[]; events: GeofenceEvent[] } {
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  const fixes: Fix[] = [];
  const events: GeofenceEvent[] = [];
  for (let i = 0; i < count; i++) {
    const fix: Fix = {
      vehicle_id: `v${i % 100}`,
      latitude: 34.05,
      longitude: -118.24,
      ts: t0 + i,
      ts_given: true,
    };
    fixes.push(fix);
    events.push(
      buildEvent({ type: i % 2 ? "exit" : "enter", geofence_id: "yard" }, fix, "yard", fix.ts + 1),
    );
  }
  return { fixes, events };
}

/** Commits `events` events, then times their delivery to `webhooks` receivers. */
export async function runWebhookBench(
  events: number,
  webhooks: number,
): Promise<WebhookBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-bench-webhooks-"));
  const store = new SqliteStore(path.join(dir, "locus.db"));
  const receivers: { url: string; close(): Promise<void> }[] = [];
  let dispatcher: WebhookDispatcher | null = null;
  try {
    const expected = events * webhooks;
    let received = 0;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    for (let i = 0; i < webhooks; i++) {
      receivers.push(
        await receiver(() => {
          if (++received === expected) finish();
        }),
      );
    }
    dispatcher = new WebhookDispatcher({
      store,
      settings: { ...DEFAULT_WEBHOOK_SETTINGS, allowPrivate: true },
    });
    await dispatcher.start();
    // The webhooks exist first (a new one starts at the newest event), then the backlog is committed.
    for (const r of receivers) {
      await dispatcher.create({
        url: r.url,
        secret: "bench-secret-0123456789",
        types: null,
        geofence_ids: null,
      });
    }
    const { fixes, events: list } = eventsFor(events);
    const started = performance.now();
    for (let i = 0; i < events; i += 1000) {
      const committed = await store.commit({
        fixes: fixes.slice(i, i + 1000),
        vehicles: [],
        events: list.slice(i, i + 1000),
      });
      await committed.durable;
      dispatcher.notify(committed.events);
    }
    await done;
    const seconds = (performance.now() - started) / 1000;
    return { events, webhooks, seconds, deliveriesPerSecond: expected / seconds };
  } finally {
    await dispatcher?.stop();
    for (const r of receivers) await r.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

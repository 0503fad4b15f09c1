// RetentionScheduler over a real SqliteStore: a pass deletes what is older than the period in
// steps, lets group commits through between steps, and stops when asked; and the hub runs it at
// start when LOCUS_RETENTION_DAYS is set.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Fix } from "@locus/protocol";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { startHub } from "../hub.ts";
import { ingest } from "../ingest/test-support.ts";
import { RetentionScheduler } from "./retention.ts";
import { SqliteStore } from "./sqlite.ts";

const DAY = 86_400_000;
const NOW = Date.now();
const logger = pino({ level: "silent" });

function fixAt(vehicleId: string, ts: number, seq: number): Fix {
  return { vehicle_id: vehicleId, latitude: 1, longitude: 2, ts, ts_given: true, seq };
}

/** `n` fixes per vehicle of `vehicles`, `daysAgo` days old. */
function oldFixes(vehicles: number, n: number, daysAgo: number): Fix[] {
  const out: Fix[] = [];
  for (let v = 0; v < vehicles; v++) {
    for (let i = 0; i < n; i++) out.push(fixAt(`v${v}`, NOW - daysAgo * DAY + i, i));
  }
  return out;
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-retention-"));
  file = path.join(dir, "locus.db");
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("RetentionScheduler", () => {
  let store: SqliteStore;
  beforeEach(() => {
    store = new SqliteStore(file, { synchronous: "normal", fixes: { moveAt: 1, chunk: 10_000 } });
  });
  afterEach(async () => {
    await store.close();
  });

  it("deletes what is older than the period in steps, letting commits through between them", async () => {
    await ingest(store, oldFixes(10, 200, 30));
    await ingest(store, [fixAt("v0", NOW - DAY, 1_000)]);
    const steps: number[] = [];
    const scheduler = new RetentionScheduler({
      store,
      retentionMs: 7 * DAY,
      logger,
      step: 100,
      onDeleted: (n) => steps.push(n),
    });
    const order: string[] = [];
    const pass = scheduler.runPass().then((n) => {
      order.push("pass");
      return n;
    });
    const commit = ingest(store, [fixAt("v1", NOW, 2_000)]).then(() => order.push("commit"));
    await Promise.all([pass, commit]);
    // The commit did not wait for the 20 steps of the pass.
    expect(order).toEqual(["commit", "pass"]);
    expect(await pass).toBe(2000);
    expect(steps.every((n) => n <= 100)).toBe(true);
    expect(steps.length).toBeGreaterThanOrEqual(20);
    expect((await store.locations("v0", { limit: 10 })).map((f) => f.seq)).toEqual([1_000]);
    expect((await store.locations("v1", { limit: 10 })).map((f) => f.seq)).toEqual([2_000]);
  });

  it("ends a pass early once stopped", async () => {
    await ingest(store, oldFixes(5, 200, 30));
    const scheduler = new RetentionScheduler({
      store,
      retentionMs: 7 * DAY,
      logger,
      step: 50,
      onDeleted: () => void scheduler.stop(),
    });
    expect(await scheduler.runPass()).toBe(50);
    let left = 0;
    for (let v = 0; v < 5; v++) left += (await store.locations(`v${v}`, { limit: 1000 })).length;
    expect(left).toBe(950);
  });
});

it("runs in the hub at start with LOCUS_RETENTION_DAYS, keeping what is newer", async () => {
  const before = new SqliteStore(file);
  await ingest(before, [...oldFixes(3, 50, 40), fixAt("v0", NOW - DAY, 999)]);
  await before.close();
  const hub = await startHub(
    loadConfig({
      LOCUS_DATA_DIR: dir,
      LOCUS_HTTP_PORT: "0",
      LOCUS_MQTT_PORT: "0",
      LOCUS_API_TOKEN: "test-token-0123456789abcdef",
      LOCUS_RETENTION_DAYS: "30",
    }),
    logger,
  );
  try {
    const deadline = Date.now() + 30_000;
    while ((await hub.store.locations("v1", { limit: 10 })).length > 0) {
      if (Date.now() > deadline) throw new Error("old fixes were not deleted");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await hub.store.locations("v0", { limit: 100 })).map((f) => f.seq)).toEqual([999]);
    const res = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: "Bearer test-token-0123456789abcdef" },
    });
    expect(await res.text()).toMatch(/^locus_retention_deleted_total 150$/m);
  } finally {
    await hub.close();
  }
});

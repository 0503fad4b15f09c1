// The live map's cost in the browser: headless Chromium (SwiftShader WebGL) opens the real built
// page against a stand-in stream (bench/harness/map-stream.ts) that moves a synthetic fleet at
// 1 Hz. Reported: p50/p95 of the page's own `locus:apply-fixes` measure per second's update (goal
// ≤ 50 ms), map renders per second while updating, the page's JS heap, and the time to first
// render with a large snapshot. `npm run bench:map -- [--vehicles N] [--seconds N] [--warmup N]
// [--big N] [--batches N] [--json PATH]`.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Browser, Page } from "playwright-core";
import { closeBrowser, launchChromium, openWatchedPage } from "../tests/support/browser.ts";
import {
  type MapWindow,
  mapIdle,
  openWithSessionToken,
  renderedCounts,
  waitMapReady,
} from "../tests/support/map-page.ts";
import { percentile } from "./harness/context.ts";
import { SyntheticFleet, startMapStream } from "./harness/map-stream.ts";
import { machineInfo } from "./harness/versions.ts";

const { values } = parseArgs({
  options: {
    vehicles: { type: "string", default: "10000" },
    seconds: { type: "string", default: "30" },
    warmup: { type: "string", default: "5" },
    big: { type: "string", default: "100000" },
    batches: { type: "string", default: "1" },
    json: { type: "string" },
  },
});
const VEHICLES = Number(values.vehicles);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const BIG = Number(values.big);
const BATCHES = Number(values.batches);
const GOAL_MS = 50;

type BenchWindow = MapWindow & { benchRenders?: number };

const FENCES = {
  type: "FeatureCollection",
  features: [
    {
      type: "Feature",
      id: "bench-downtown",
      properties: { name: "Downtown", created_at: new Date().toISOString() },
      geometry: {
        type: "Polygon",
        coordinates: [
          [
            [-118.27, 34.03],
            [-118.23, 34.03],
            [-118.23, 34.07],
            [-118.27, 34.07],
            [-118.27, 34.03],
          ],
        ],
      },
    },
  ],
};

/** Opens the page with its token and waits for its first snapshot to be drawn. */
async function openMap(page: Page, url: string, token: string, timeoutMs: number): Promise<number> {
  await openWithSessionToken(page, url, token);
  return waitMapReady(page, timeoutMs);
}

async function heapMiB(page: Page): Promise<{ used: number; total: number }> {
  const cdp = await page.context().newCDPSession(page);
  // After a full collection, so the figure is what the page keeps, not garbage not yet swept.
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("Performance.enable");
  const { metrics } = await cdp.send("Performance.getMetrics");
  await cdp.detach();
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? Number.NaN;
  const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  return { used: mib(get("JSHeapUsedSize")), total: mib(get("JSHeapTotalSize")) };
}

async function rendered(page: Page): Promise<{ points: number; clusters: number; zoom: number }> {
  const counts = await renderedCounts(page, ["vehicles", "vehicle-clusters"]);
  const zoom = await page.evaluate(
    () => (globalThis as unknown as MapWindow).locus?.map.getZoom() ?? 0,
  );
  return { points: counts.vehicles ?? 0, clusters: counts["vehicle-clusters"] ?? 0, zoom };
}

/** Waits until the page has applied `n` updates in all. */
async function appliedUpdates(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (count) => ((globalThis as unknown as MapWindow).locus?.stats?.updates ?? 0) >= count,
    n,
    { timeout: 120_000 },
  );
}

async function measureUpdates(browser: Browser) {
  const fleet = new SyntheticFleet(VEHICLES);
  const stream = await startMapStream(() => fleet, FENCES);
  const watched = await openWatchedPage(browser, { actionTimeoutMs: 120_000 });
  try {
    const { page } = watched;
    await openMap(page, stream.url, stream.token, 120_000);
    await mapIdle(page);
    await page.evaluate(() => {
      const w = globalThis as unknown as BenchWindow;
      w.benchRenders = 0;
      w.locus?.map.on("render", () => {
        w.benchRenders = (w.benchRenders ?? 0) + 1;
      });
    });
    let sent = 0;
    const tick = async () => {
      const fixes = fleet.step(1);
      const size = Math.ceil(fixes.length / BATCHES);
      for (let i = 0; i < fixes.length; i += size) {
        await stream.broadcast(fixes.slice(i, i + size));
        sent++;
      }
    };
    const everySecond = async (seconds: number) => {
      const start = Date.now();
      for (let s = 1; s <= seconds; s++) {
        await tick();
        const wait = start + s * 1000 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    };
    await everySecond(WARMUP);
    await appliedUpdates(page, sent);
    await page.evaluate(() => {
      performance.clearMeasures("locus:apply-fixes");
      (globalThis as unknown as BenchWindow).benchRenders = 0;
    });
    const heapBefore = await heapMiB(page);
    const sentBefore = sent;
    const began = Date.now();
    await everySecond(SECONDS);
    // Every update sent in the window has been applied before the figures are read.
    await appliedUpdates(page, sent);
    const messagesSent = sent - sentBefore;
    const elapsedS = (Date.now() - began) / 1000;
    const durations = await page.evaluate(() =>
      performance.getEntriesByName("locus:apply-fixes").map((e) => e.duration),
    );
    const renders = await page.evaluate(
      () => (globalThis as unknown as BenchWindow).benchRenders ?? 0,
    );
    const heapAfter = await heapMiB(page);
    const view = await rendered(page);
    await watched.screenshot(`bench-${VEHICLES}-updates`);
    const sorted = [...durations].sort((a, b) => a - b);
    // With several messages a second, a second's update is the sum of its messages.
    const perSecond: number[] = [];
    for (let i = 0; i + BATCHES <= durations.length; i += BATCHES) {
      perSecond.push(durations.slice(i, i + BATCHES).reduce((a, b) => a + b, 0));
    }
    perSecond.sort((a, b) => a - b);
    return {
      vehicles: VEHICLES,
      seconds: SECONDS,
      messagesPerSecond: BATCHES,
      messagesSent,
      measures: durations.length,
      applyMessageMs: {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        max: sorted.at(-1),
      },
      applySecondMs: {
        p50: percentile(perSecond, 50),
        p95: percentile(perSecond, 95),
        max: perSecond.at(-1),
      },
      rendersPerSecond: renders / elapsedS,
      heapMiB: { before: heapBefore, after: heapAfter },
      view,
      blocked: watched.blocked.length,
      pageErrors: watched.errors,
    };
  } finally {
    await watched.close();
    await stream.close();
  }
}

async function measureFirstRender(browser: Browser, size: number) {
  const fleet = new SyntheticFleet(size);
  const stream = await startMapStream(() => fleet, FENCES);
  const watched = await openWatchedPage(browser, { actionTimeoutMs: 300_000 });
  try {
    const { page } = watched;
    const snapshotSent = stream.nextSnapshotSent();
    const navigatedAt = Date.now();
    const readyAt = await openMap(page, stream.url, stream.token, 300_000);
    const sentAt = await snapshotSent;
    const idleAt = await mapIdle(page);
    const view = await rendered(page);
    const stats = await page.evaluate(
      () => (globalThis as unknown as BenchWindow).locus?.stats ?? null,
    );
    const heap = await heapMiB(page);
    await watched.screenshot(`bench-${size}-first-render`);
    return {
      vehicles: size,
      snapshotSentToReadyMs: readyAt - sentAt,
      snapshotSentToIdleMs: idleAt - sentAt,
      navigationToIdleMs: idleAt - navigatedAt,
      pageStats: stats,
      view,
      heapMiB: heap,
      blocked: watched.blocked.length,
      pageErrors: watched.errors,
    };
  } finally {
    await watched.close();
    await stream.close();
  }
}

function printTable(report: {
  updates: Awaited<ReturnType<typeof measureUpdates>>;
  firstRender: Awaited<ReturnType<typeof measureFirstRender>>;
  machine: ReturnType<typeof machineInfo>;
}): void {
  const { updates: u, firstRender: f, machine: m } = report;
  const ms = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(1)} ms`);
  const verdict = u.applySecondMs.p95 <= GOAL_MS ? "PASS" : "MISS";
  const rows: [string, string][] = [
    ["machine", `${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.loadAtStart.join(" ")}`],
    ["stream", "stand-in WebSocket server, real built page (hub/web/dist)"],
    [
      `apply a second's update, ${u.vehicles.toLocaleString("en-US")} vehicles`,
      `p50 ${ms(u.applySecondMs.p50)}, p95 ${ms(u.applySecondMs.p95)} (goal ≤ ${GOAL_MS} ms: ${verdict})`,
    ],
    [
      "  per message",
      `p50 ${ms(u.applyMessageMs.p50)}, p95 ${ms(u.applyMessageMs.p95)}, max ${ms(u.applyMessageMs.max)}`,
    ],
    ["  map renders while updating", `${u.rendersPerSecond.toFixed(1)} /s`],
    ["  JS heap (used / total)", `${u.heapMiB.after.used} / ${u.heapMiB.after.total} MiB`],
    [
      "  view",
      `zoom ${u.view.zoom.toFixed(1)}, ${u.view.points} points, ${u.view.clusters} clusters drawn`,
    ],
    [
      `first render, ${f.vehicles.toLocaleString("en-US")} vehicles`,
      `${ms(f.snapshotSentToIdleMs)} from snapshot sent to map idle (${ms(f.snapshotSentToReadyMs)} to ready)`,
    ],
    ["  from navigation", ms(f.navigationToIdleMs)],
    ["  JS heap (used / total)", `${f.heapMiB.used} / ${f.heapMiB.total} MiB`],
    ["requests for other hosts", String(u.blocked + f.blocked)],
    ["page errors", String(u.pageErrors.length + f.pageErrors.length)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const browser = await launchChromium();
  try {
    const chromium = browser.version();
    const updates = await measureUpdates(browser);
    const firstRender = await measureFirstRender(browser, BIG);
    machine.loadAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
    const report = { when: new Date().toISOString(), machine, chromium, updates, firstRender };
    printTable(report);
    const file =
      values.json ??
      path.join(import.meta.dirname, "results", `map-${report.when.replace(/[:.]/g, "-")}.json`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`report: ${path.relative(process.cwd(), file)}`);
  } finally {
    await closeBrowser(browser);
  }
}

main().catch((err) => {
  console.error(`bench:map failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});

// The README's picture of the live map, taken from the real thing: the demo (embedded hub, its
// geofences over downtown Los Angeles, a simulated fleet driving through them) opened in headless
// Chromium, logged in, the whole city in view with the events beside it. Run
// `npm run screenshot [-- --out docs/images/map.png] [--vehicles 60]`.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { startDemo } from "../demo/src/demo.ts";
import { DEMO_BBOX } from "../demo/src/fences.ts";
import {
  closeBrowser,
  launchChromium,
  openWatchedPage,
  type WatchedPage,
} from "../tests/support/browser.ts";
import { loginWithToken, type MapWindow } from "../tests/support/map-page.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    out: { type: "string", default: path.join(ROOT, "docs", "images", "map.png") },
    vehicles: { type: "string", default: "60" },
  },
});

/**
 * Centres the demo's city at zoom 14 (it just fits the map's part of the page, and clusters end
 * at 13, so every vehicle is drawn on its own), and waits until it is drawn with the fleet on it.
 * Not the map's "idle": with a whole fleet reporting every second on a busy machine the map may
 * never be idle between updates.
 */
async function frameCity(page: Page): Promise<void> {
  const center: [number, number] = [
    (DEMO_BBOX.west + DEMO_BBOX.east) / 2,
    (DEMO_BBOX.south + DEMO_BBOX.north) / 2,
  ];
  await page.evaluate((c) => {
    (globalThis as unknown as MapWindow).locus?.map.jumpTo({ center: c, zoom: 14 });
  }, center);
  await page.waitForFunction(
    () => {
      const map = (globalThis as unknown as MapWindow).locus?.map;
      return (
        map?.areTilesLoaded() && map.queryRenderedFeatures({ layers: ["vehicles"] }).length > 0
      );
    },
    undefined,
    { timeout: 60_000, polling: 100 },
  );
}

async function main(): Promise<void> {
  const demo = await startDemo({
    env: { LOCUS_HTTP_PORT: "0", LOCUS_MQTT_PORT: "0", LOCUS_LOG_LEVEL: "warn" },
    out: () => {},
    vehicles: Number(values.vehicles),
    seed: 7,
  });
  const browser = await launchChromium();
  try {
    const watched = await openWatchedPage(browser, {
      viewport: { width: 1400, height: 860 },
      actionTimeoutMs: 60_000,
    });
    try {
      await photograph(watched, demo.hub);
    } catch (err) {
      // What the page looked like when it went wrong, beside the test artefacts.
      await watched.screenshot("screenshot-failed").catch(() => {});
      throw new Error(
        `${(err as Error).message}\npage errors: ${watched.errors.join("\n") || "none"}`,
      );
    }
    await watched.close();
  } finally {
    await closeBrowser(browser);
    await demo.stop();
  }
}

/** Logs in, waits for a few events, frames the city and saves the picture. */
async function photograph(watched: WatchedPage, hub: { httpUrl: string; token: string }) {
  const { page } = watched;
  await loginWithToken(page, hub.httpUrl, hub.token);
  // A feed with a few events, so the picture shows the fleet crossing geofences.
  await page.waitForFunction(
    () =>
      (globalThis as unknown as MapWindow).document.querySelectorAll("#events [data-event-id]")
        .length >= 4,
    undefined,
    { timeout: 120_000, polling: 200 },
  );
  await frameCity(page);
  const out = path.resolve(values.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await page.screenshot({ path: out });
  const problems = [...watched.blocked, ...watched.errors];
  if (problems.length > 0) {
    throw new Error(`the page asked other hosts or logged errors:\n${problems.join("\n")}`);
  }
  console.log(`map screenshot: ${path.relative(process.cwd(), out)}`);
}

main().catch((err) => {
  console.error(`screenshot failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});

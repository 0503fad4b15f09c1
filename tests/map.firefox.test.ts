// The live map in Firefox (Debian's firefox-esr over WebDriver BiDi, driven by puppeteer-core): a
// smoke test that the page loads, logs in, lists the fleet and draws its WebGL map there too.
// Headless Firefox has no WebGL on Linux, so it runs headed on a throwaway Xvfb display.

import fs from "node:fs";
import path from "node:path";
import puppeteer, { type Browser, type HTTPRequest } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "./support/binaries.ts";
import { isLoopbackUrl, SCREENSHOT_DIR } from "./support/browser.ts";
import { type LiveHub, startLiveHub } from "./support/live-hub.ts";
import type { MapWindow } from "./support/map-page.ts";
import { startXvfb, type Xvfb } from "./support/xvfb.ts";

const FIREFOX = "/usr/bin/firefox-esr";
const hasFirefox = requireBinary("firefox-esr", "firefox-esr") && requireBinary("Xvfb", "xvfb");

describe.runIf(hasFirefox)("the live map in Firefox", { timeout: 120_000 }, () => {
  let live: LiveHub;
  let xvfb: Xvfb;
  let browser: Browser | undefined;

  beforeAll(async () => {
    live = await startLiveHub();
    await live.publish("truck-ff", { latitude: 34.05, longitude: -118.25, heading: 45 });
    xvfb = await startXvfb();
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: FIREFOX,
      headless: false,
      protocolTimeout: 60_000,
      timeout: 60_000,
      env: { ...process.env, DISPLAY: xvfb.display },
      defaultViewport: { width: 1280, height: 800 },
    });
  });

  afterAll(async () => {
    await Promise.race([
      browser?.close().catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 20_000).unref()),
    ]);
    await xvfb?.stop();
    await live?.close();
  });

  it("loads, logs in, lists the fleet and draws the map", async () => {
    const page = await (browser as Browser).newPage();
    page.setDefaultTimeout(30_000);
    const blocked: string[] = [];
    const errors: string[] = [];
    await page.setRequestInterception(true);
    page.on("request", (request: HTTPRequest) => {
      if (isLoopbackUrl(request.url())) return void request.continue();
      blocked.push(request.url());
      return void request.abort("blockedbyclient");
    });
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => errors.push(`pageerror: ${String(error)}`));

    await page.goto(live.httpUrl);
    await page.type("#login input[name=token]", live.token);
    await page.keyboard.press("Enter");
    await page.waitForSelector("body[data-access=admin]");
    const item = await page.waitForSelector('#vehicles [data-vehicle-id="truck-ff"]');
    expect(await item?.evaluate((el) => el.getAttribute("data-status"))).toMatch(
      /^(online|stale|offline)$/,
    );
    await page.waitForSelector("#map canvas");
    // The first snapshot drawn, and the vehicle among the features WebGL rendered.
    await page.waitForFunction(
      () => {
        const locus = (globalThis as unknown as MapWindow).locus;
        return locus !== undefined && locus.ready !== undefined;
      },
      { timeout: 30_000 },
    );
    await page.evaluate(() => (globalThis as unknown as MapWindow).locus?.ready);
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const map = (globalThis as unknown as MapWindow).locus?.map;
          map?.once("idle", () => resolve());
          map?.jumpTo({ center: [-118.25, 34.05], zoom: 15 });
        }),
    );
    const ids = await page.evaluate(() =>
      (globalThis as unknown as MapWindow).locus?.map
        .queryRenderedFeatures({ layers: ["vehicles"] })
        .map((f) => f.properties.id),
    );
    expect(ids).toEqual(["truck-ff"]);
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, "firefox.png") });
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

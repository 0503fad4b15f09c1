// A short smoke check of the built page as the hub serves it, in Debian's Chromium: under the
// hub's strict Content-Security-Policy MapLibre's worker starts and the offline basemap is drawn
// with WebGL, the login form is up, nothing is asked of another host, and nothing errs. (The
// thorough browser suite, with a live fleet, is in tests/map*.test.ts.)

import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../tests/support/binaries.ts";
import { type HubProcess, startHubProcess } from "../../tests/support/hub-process.ts";

const CHROMIUM = "/usr/bin/chromium";

interface PageWindow {
  locus?: {
    map: {
      loaded(): boolean;
      queryRenderedFeatures(options: { layers: string[] }): unknown[];
    };
  };
}

describe.runIf(requireBinary("chromium", "chromium"))("the map page in Chromium", () => {
  let hub: HubProcess;
  let browser: Browser;

  beforeAll(async () => {
    hub = await startHubProcess({ timeoutMs: 120_000 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--disable-background-networking",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it("draws the offline basemap under the hub's policy and asks for a token", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const problems: string[] = [];
    const elsewhere: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.protocol.startsWith("http") && url.hostname !== "127.0.0.1") elsewhere.push(r.url());
    });

    const response = await page.goto(hub.httpUrl);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    expect(await page.getAttribute("#login input[name=token]", "type")).toBe("password");
    expect(await page.isVisible("form#login")).toBe(true);

    // Land features rendered: the worker ran (CSP build) and WebGL drew the basemap.
    await page.waitForFunction(
      () => {
        const map = (globalThis as unknown as PageWindow).locus?.map;
        return (
          map?.loaded() === true && map.queryRenderedFeatures({ layers: ["land-110m"] }).length > 0
        );
      },
      undefined,
      { timeout: 60_000 },
    );
    expect(problems).toEqual([]);
    expect(elsewhere).toEqual([]);
    await page.close();
  });
});

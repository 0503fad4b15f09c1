// The live map in a real browser (Debian's Chromium) against the real hub: logging in, the fleet
// in the list and drawn by MapLibre, live movement and events from MQTT, selections, and a page
// that asks nothing of other hosts and logs no errors. The editor has its own file.

import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  closeBrowser,
  launchChromium,
  openWatchedPage,
  requireChromium,
  type WatchedPage,
  type WatchOptions,
} from "./support/browser.ts";
import { type LiveHub, startLiveHub } from "./support/live-hub.ts";
import {
  jumpTo,
  loginWithToken,
  type MapWindow,
  renderedCounts,
  renderedVehicles,
  waitMapReady,
} from "./support/map-page.ts";

const hasChromium = requireChromium();

/**
 * Downtown Los Angeles. At zoom 14 (clusters end at 13) the view spans about ±0.013° of latitude
 * around it, so every position below stays on screen.
 */
const CENTER: [number, number] = [-118.25, 34.05];
const DEPOT = {
  type: "Feature",
  properties: { name: "Depot" },
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [-118.246, 34.046],
        [-118.238, 34.046],
        [-118.238, 34.054],
        [-118.246, 34.054],
        [-118.246, 34.046],
      ],
    ],
  },
};
const FLEET: Record<string, [number, number]> = {
  "truck-a": [-118.256, 34.05],
  "truck-b": [-118.25, 34.056],
  "van-c": [-118.253, 34.044],
};

describe.runIf(hasChromium)("the live map in Chromium", { timeout: 120_000 }, () => {
  let live: LiveHub;
  let browser: Browser;
  let depotId: string;
  const pages: WatchedPage[] = [];
  /** Failed loads a test provokes on purpose (the browser logs them as console errors). */
  let provoked: RegExp[] = [];

  /** A fresh browser session (own sessionStorage), watched for outside requests and errors. */
  async function newPage(options: WatchOptions = {}): Promise<WatchedPage> {
    const watched = await openWatchedPage(browser, options);
    pages.push(watched);
    return watched;
  }

  async function loggedIn(token = live.token): Promise<WatchedPage> {
    const watched = await newPage();
    await loginWithToken(watched.page, live.httpUrl, token);
    await waitMapReady(watched.page);
    return watched;
  }

  beforeAll(async () => {
    live = await startLiveHub();
    const created = await live.api("POST", "/api/v1/geofences", DEPOT);
    expect(created.status).toBe(201);
    depotId = created.body.id;
    for (const [id, [lon, lat]] of Object.entries(FLEET)) {
      await live.publish(id, { latitude: lat, longitude: lon, heading: 90, speed: 8 });
    }
    browser = await launchChromium();
  });

  afterEach(async () => {
    // Every page of the test: nothing asked of another host, nothing logged as an error.
    for (const watched of pages.splice(0)) {
      await watched.close();
      expect(watched.blocked).toEqual([]);
      expect(watched.errors.filter((e) => e.startsWith("http 404"))).toEqual([]);
      expect(watched.unexpectedErrors(provoked)).toEqual([]);
    }
    provoked = [];
  });

  afterAll(async () => {
    for (const watched of pages.splice(0)) await watched.close();
    await closeBrowser(browser);
    await live?.close();
  });

  it("never puts the token in the address, even when it is entered at once", async () => {
    const { page } = await newPage();
    await page.goto(live.httpUrl);
    // No waiting for the page to settle: a quick user (or a password manager) submits at once.
    await page.locator("#login input[name=token]").fill(live.token);
    await page.locator("#login input[name=token]").press("Enter");
    // Either the map opens, or the form went to the server with the token in the address.
    const leaked = page
      .waitForURL((url) => url.href.includes(live.token), { timeout: 60_000 })
      .then(
        () => true,
        () => false,
      );
    const opened = waitMapReady(page).then(() => false);
    // Settled by the race either way; a late failure after a leak is not a second error.
    opened.catch(() => {});
    expect(await Promise.race([leaked, opened]), "the token appeared in the address").toBe(false);
    expect(page.url()).not.toContain(live.token);
    expect(await page.locator("body").getAttribute("data-access")).toBe("admin");
  });

  it("refuses a wrong token: the form says why and nothing is loaded", async () => {
    const { page, screenshot } = await newPage();
    await page.goto(live.httpUrl);
    await page.locator("#login input[name=token]:focus").waitFor();
    await page.locator("#login input[name=token]").fill("not-the-token-0123456789");
    await page.locator("#login input[name=token]").press("Enter");
    const error = page.locator("#login [data-error]");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toMatch(/refused|token/i);
    expect(await page.locator("body").getAttribute("data-access")).toBeNull();
    expect(await page.locator("#vehicles [data-vehicle-id]").count()).toBe(0);
    expect(await page.locator("#geofences [data-geofence-id]").count()).toBe(0);
    const kept = await page.evaluate(() =>
      (globalThis as unknown as MapWindow).sessionStorage.getItem("locus.token"),
    );
    expect(kept).toBeNull();
    await screenshot("login-refused");
  });

  it("logs in with the token and shows the fleet in the list and on the map", async () => {
    const { page, screenshot } = await loggedIn();
    expect(await page.locator("body").getAttribute("data-access")).toBe("admin");
    for (const id of Object.keys(FLEET)) {
      const item = page.locator(`#vehicles [data-vehicle-id="${id}"]`);
      await item.waitFor();
      expect(await item.getAttribute("data-status")).toMatch(/^(online|stale|offline)$/);
    }
    await page.locator(`#geofences [data-geofence-id="${depotId}"]`).waitFor();
    // The token stays in this tab's session: never in the address, never in localStorage.
    expect(page.url()).not.toContain(live.token);
    const stored = await page.evaluate(() => {
      const w = globalThis as unknown as MapWindow;
      return { session: w.sessionStorage.getItem("locus.token"), local: w.localStorage.length };
    });
    expect(stored).toEqual({ session: live.token, local: 0 });

    await jumpTo(page, CENTER, 14);
    const drawn = await renderedVehicles(page);
    expect(drawn.map((v) => v.id).sort()).toEqual(Object.keys(FLEET).sort());
    for (const v of drawn) {
      const [lon, lat] = FLEET[v.id] as [number, number];
      expect(v.lon).toBeCloseTo(lon, 4);
      expect(v.lat).toBeCloseTo(lat, 4);
    }
    expect((await renderedCounts(page, ["geofence-fill"]))["geofence-fill"]).toBeGreaterThan(0);
    await screenshot("fleet");
  });

  it("moves a vehicle on the map when its fix arrives over MQTT", async () => {
    const { page, screenshot } = await loggedIn();
    await jumpTo(page, CENTER, 14);
    const before = (await renderedVehicles(page)).find((v) => v.id === "truck-b");
    expect(before).toBeDefined();
    const to: [number, number] = [-118.2525, 34.0575];
    const published = Date.now();
    await live.publish("truck-b", { latitude: to[1], longitude: to[0], heading: 300, speed: 9 });
    // The rendered point moves to the new fix, without a reload.
    await page.waitForFunction(
      ([lon, lat]) => {
        const map = (globalThis as unknown as MapWindow).locus?.map;
        const f = map
          ?.queryRenderedFeatures({ layers: ["vehicles"] })
          .find((x) => x.properties.id === "truck-b");
        const [x, y] = (f?.geometry.coordinates ?? [0, 0]) as [number, number];
        return Math.abs(x - lon) < 1e-5 && Math.abs(y - lat) < 1e-5;
      },
      to,
      { timeout: 20_000, polling: 20 },
    );
    // How long it took is reported, not asserted: speed is the benchmark's business.
    console.log(`fix published → vehicle moved on the map: ${Date.now() - published} ms`);
    const after = (await renderedVehicles(page)).find((v) => v.id === "truck-b");
    expect(after?.lon).not.toBeCloseTo(before?.lon ?? 0, 4);
    await screenshot("moved");
  });

  it("shows an enter event in the feed as it happens", async () => {
    const { page, screenshot } = await loggedIn();
    expect(await page.locator("#events [data-event-id]").count()).toBe(0);
    await live.publish("truck-a", { latitude: 34.05, longitude: -118.242, heading: 90, speed: 8 });
    const item = page.locator("#events [data-event-id]").first();
    await item.waitFor();
    const events = await live.api("GET", "/api/v1/events?vehicle_id=truck-a&type=enter");
    expect(events.body.events).toHaveLength(1);
    const event = events.body.events[0];
    expect(event.geofence_id).toBe(depotId);
    expect(await item.getAttribute("data-event-id")).toBe(event.id);
    expect(await item.textContent()).toContain("truck-a");
    expect(await item.textContent()).toContain("Depot");
    await screenshot("event");
  });

  it("selecting a vehicle shows its details and its track", async () => {
    // A short history: the track is read from the locations API.
    for (let i = 1; i <= 4; i++) {
      await live.publish("van-c", {
        latitude: 34.044 + i * 0.0008,
        longitude: -118.253 + i * 0.0006,
      });
    }
    const { page, screenshot } = await loggedIn();
    await page.locator('#vehicles [data-vehicle-id="van-c"]').click();
    await page.locator('#details[data-vehicle-id="van-c"]').waitFor({ state: "visible" });
    expect(await page.locator("#details").textContent()).toContain("van-c");
    await page.locator("#track-period").selectOption("6h");
    await jumpTo(page, [-118.251, 34.046], 15);
    await page.waitForFunction(
      () => {
        const map = (globalThis as unknown as MapWindow).locus?.map;
        return (map?.queryRenderedFeatures({ layers: ["track"] }).length ?? 0) > 0;
      },
      undefined,
      { timeout: 20_000, polling: 50 },
    );
    await screenshot("vehicle-details");
  });

  it("selecting a geofence lists the vehicles inside it", async () => {
    await live.publish("truck-a", { latitude: 34.05, longitude: -118.241 });
    const { page, screenshot } = await loggedIn();
    await page.locator(`#geofences [data-geofence-id="${depotId}"]`).click();
    const details = page.locator(`#details[data-geofence-id="${depotId}"]`);
    await details.waitFor({ state: "visible" });
    await details.locator('[data-inside-vehicle-id="truck-a"]').waitFor();
    expect(await details.locator("[data-inside-vehicle-id]").count()).toBe(1);
    await screenshot("geofence-details");
  });

  it("filters the vehicle list by the search box", async () => {
    const { page } = await loggedIn();
    await page.locator("#vehicle-search").fill("van");
    await page.waitForFunction(() => {
      const w = globalThis as unknown as MapWindow;
      const items = Array.from(w.document.querySelectorAll("#vehicles [data-vehicle-id]"));
      const shown = items
        .filter((el) => el.offsetParent !== null)
        .map((el) => el.dataset.vehicleId);
      return shown.length === 1 && shown[0] === "van-c";
    });
  });

  it("with a read token: the map, but no editor, and the API refuses edits", async () => {
    const token = await live.readToken();
    const { page, screenshot } = await loggedIn(token);
    expect(await page.locator("body").getAttribute("data-access")).toBe("read");
    await page.locator('#vehicles [data-vehicle-id="truck-a"]').waitFor();
    for (const action of ["draw-polygon", "draw-circle", "edit"]) {
      const button = page.locator(`button[data-action=${action}]`);
      expect(
        (await button.count()) === 0 || !(await button.isVisible()) || (await button.isDisabled()),
      ).toBe(true);
    }
    await page.locator(`#geofences [data-geofence-id="${depotId}"]`).click();
    await page.locator(`#details[data-geofence-id="${depotId}"]`).waitFor({ state: "visible" });
    for (const action of ["rename", "delete"]) {
      expect(await page.locator(`#details button[data-action=${action}]:visible`).count()).toBe(0);
    }
    const refused = await live.api("DELETE", `/api/v1/geofences/${depotId}`, undefined, token);
    expect(refused.status).toBe(403);
    await screenshot("read-only");
  });

  it("logs in once through a one-time login link, which leaves the address clean", async () => {
    const link = live.hub.loginLink();
    const first = await newPage();
    await first.page.goto(link);
    await waitMapReady(first.page);
    expect(await first.page.locator("body").getAttribute("data-access")).toBe("admin");
    expect(first.page.url()).not.toContain("#login");
    const kept = await first.page.evaluate(() =>
      (globalThis as unknown as MapWindow).sessionStorage.getItem("locus.token"),
    );
    expect(kept).toBe(live.token);
    await first.page.locator('#vehicles [data-vehicle-id="truck-a"]').waitFor();

    // The same link again, in another browser session: refused, and the form says so.
    provoked = [/^http 401: POST \S+\/api\/v1\/login$/, /status of 401/];
    const second = await newPage();
    await second.page.goto(link);
    const error = second.page.locator("#login [data-error]");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toMatch(/link/i);
    expect(await second.page.locator("body").getAttribute("data-access")).toBeNull();
    expect(second.page.url()).not.toContain("#login");
    await second.screenshot("login-link-used");
  });

  it("on a phone-sized screen: the lists open from the menu, a vehicle is chosen by keyboard", async () => {
    const { page, screenshot } = await newPage({ viewport: { width: 390, height: 844 } });
    await loginWithToken(page, live.httpUrl, live.token);
    await waitMapReady(page);
    const item = page.locator('#vehicles [data-vehicle-id="van-c"]');
    await page.locator("#menu").click();
    await item.waitFor({ state: "visible" });
    await screenshot("phone-menu");
    await item.focus();
    await page.keyboard.press("Enter");
    await page.locator('#details[data-vehicle-id="van-c"]').waitFor({ state: "visible" });
    expect(await page.locator("#menu").getAttribute("aria-expanded")).toBe("false");
    await screenshot("phone-details");
  });

  it("logs out: the token is forgotten and the form is back", async () => {
    const { page } = await loggedIn();
    await page.locator("button[data-action=logout]").click();
    await page.locator("#login input[name=token]").waitFor({ state: "visible" });
    expect(await page.locator("body").getAttribute("data-access")).toBeNull();
    const kept = await page.evaluate(() =>
      (globalThis as unknown as MapWindow).sessionStorage.getItem("locus.token"),
    );
    expect(kept).toBeNull();
  });
});

// The geofence editor in a real browser (Debian's Chromium) against the real hub: shapes drawn with
// real mouse events at the pixels MapLibre projects, stored, renamed, reshaped and deleted through
// the REST API, and the API's validation message shown where the user is.

import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  closeBrowser,
  launchChromium,
  openWatchedPage,
  requireChromium,
  type WatchedPage,
} from "./support/browser.ts";
import { waitFor } from "./support/hub-process.ts";
import { type LiveHub, startLiveHub } from "./support/live-hub.ts";
import {
  jumpTo,
  loginWithToken,
  type MapLike,
  type MapWindow,
  mapSettled,
  pixelOf,
  waitMapReady,
} from "./support/map-page.ts";

const hasChromium = requireChromium();

type LonLat = [number, number];
const CENTER: LonLat = [-118.25, 34.05];
/** A square drawn counter-clockwise, a few hundred metres across (about 100 px at zoom 15). */
const YARD: LonLat[] = [
  [-118.258, 34.047],
  [-118.252, 34.047],
  [-118.252, 34.052],
  [-118.258, 34.052],
];
/** Its corners in the order of a bow tie: the second and fourth edges cross. */
const BOW_TIE: LonLat[] = [
  [-118.247, 34.047],
  [-118.241, 34.052],
  [-118.241, 34.047],
  [-118.247, 34.052],
];
/** The browser logs the API's 4xx answers the tests provoke; the page itself logs nothing. */
const EXPECTED_400 = [/status of 400/, /^http 400: POST .*\/api\/v1\/geofences$/];

/** The geofence ids of the features a layer drew. */
function renderedGids(page: Page, layer: string): Promise<string[]> {
  return page.evaluate((id) => {
    const map = (globalThis as unknown as MapWindow).locus?.map as MapLike;
    return map.queryRenderedFeatures({ layers: [id] }).map((f) => String(f.properties.gid));
  }, layer);
}

/** The geofence ids of the corridor features drawn at a map position's pixel. */
async function hitsAt(page: Page, [lon, lat]: LonLat): Promise<string[]> {
  return page.evaluate(
    ([x, y]) => {
      const map = (globalThis as unknown as MapWindow).locus?.map as unknown as {
        project(p: [number, number]): { x: number; y: number };
        queryRenderedFeatures(
          point: [number, number],
          options: { layers: string[] },
        ): { properties: Record<string, unknown> }[];
      };
      const p = map.project([x, y]);
      return map
        .queryRenderedFeatures([p.x, p.y], { layers: ["geofence-corridor"] })
        .map((f) => String(f.properties.gid));
    },
    [lon, lat] as const,
  );
}

/** Clicks like a person: moves there first (terra-draw follows the pointer), then presses. */
async function clickAt(page: Page, [lon, lat]: LonLat): Promise<void> {
  const { x, y } = await pixelOf(page, lon, lat);
  await page.mouse.move(x, y, { steps: 5 });
  await page.mouse.down();
  await page.mouse.up();
}

/** Draws a polygon with the toolbar and mouse clicks, closing it on its first corner. */
async function drawPolygon(page: Page, corners: LonLat[]): Promise<void> {
  await page.locator("button[data-action=draw-polygon]").click();
  for (const corner of corners) await clickAt(page, corner);
  await clickAt(page, corners[0] as LonLat);
  await page.locator("#geofence-form").waitFor({ state: "visible" });
}

async function saveAs(page: Page, name: string): Promise<void> {
  await page.locator("#geofence-form input[name=name]").fill(name);
  await page.locator("#geofence-form button[data-action=save]").click();
}

describe.runIf(hasChromium)("the geofence editor in Chromium", { timeout: 120_000 }, () => {
  let live: LiveHub;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;

  /** The stored geofence of that name, once the API has it. */
  async function storedNamed(name: string): Promise<any> {
    return waitFor(
      async () => {
        const list = await live.api("GET", "/api/v1/geofences");
        return list.body.features.find((f: any) => f.properties.name === name);
      },
      20_000,
      `a geofence named ${name} in GET /api/v1/geofences`,
    );
  }

  beforeAll(async () => {
    live = await startLiveHub();
    await live.publish("truck-e", { latitude: 34.049, longitude: -118.255 });
    browser = await launchChromium();
    watched = await openWatchedPage(browser);
    page = watched.page;
    await loginWithToken(page, live.httpUrl, live.token);
    await waitMapReady(page);
    await jumpTo(page, CENTER, 15);
  });

  beforeEach(async () => {
    // Each test starts from the same view, with nothing selected and no form open.
    if (await page.locator("#geofence-form").isVisible()) {
      await page.locator("#geofence-form button[data-action=cancel]").click();
    }
    if (await page.locator("#details").isVisible()) await page.locator("#details-close").click();
    await mapSettled(page);
    await jumpTo(page, CENTER, 15);
  });

  afterEach(() => {
    expect(watched.blocked).toEqual([]);
    expect(watched.unexpectedErrors(EXPECTED_400)).toEqual([]);
  });

  afterAll(async () => {
    await watched?.close();
    await closeBrowser(browser);
    await live?.close();
  });

  it("draws a polygon with the mouse and stores it through the API", async () => {
    await drawPolygon(page, YARD);
    await watched.screenshot("editor-drawn");
    await saveAs(page, "Yard");
    const stored = await storedNamed("Yard");
    expect(stored.geometry.type).toBe("Polygon");
    const ring: LonLat[] = stored.geometry.coordinates[0];
    expect(ring).toHaveLength(5);
    // Every corner within a few pixels (at zoom 15 a pixel is about 4 m) of where it was clicked.
    for (const [lon, lat] of YARD) {
      const near = ring.some(([x, y]) => Math.abs(x - lon) < 1e-4 && Math.abs(y - lat) < 1e-4);
      expect(near, `a stored corner near ${lon},${lat}`).toBe(true);
    }
    await page.locator(`#geofences [data-geofence-id="${stored.id}"]`).waitFor();
    await page.locator("#geofence-form").waitFor({ state: "hidden" });
    await watched.screenshot("editor-saved");
  });

  it("renames a geofence through the form", async () => {
    const yard = await storedNamed("Yard");
    await page.locator(`#geofences [data-geofence-id="${yard.id}"]`).click();
    await page.locator(`#details[data-geofence-id="${yard.id}"]`).waitFor({ state: "visible" });
    await page.locator("#details button[data-action=rename]").click();
    await page.locator("#geofence-form").waitFor({ state: "visible" });
    expect(await page.locator("#geofence-form input[name=name]").inputValue()).toBe("Yard");
    await saveAs(page, "North yard");
    const renamed = await storedNamed("North yard");
    expect(renamed.id).toBe(yard.id);
    const item = page.locator(`#geofences [data-geofence-id="${yard.id}"]`);
    await page.waitForFunction(
      (id) =>
        (globalThis as any).document
          .querySelector(`#geofences [data-geofence-id="${id}"]`)
          ?.textContent.includes("North yard"),
      yard.id,
    );
    expect(await item.textContent()).toContain("North yard");
  });

  it("moves a corner of the selected geofence and stores the new shape", async () => {
    const yard = await storedNamed("North yard");
    await page.locator(`#geofences [data-geofence-id="${yard.id}"]`).click();
    // Selecting flies to the geofence; the corners are dragged in the usual view.
    await mapSettled(page);
    await jumpTo(page, CENTER, 15);
    await page.locator("button[data-action=edit]").click();
    await page.locator("#geofence-form").waitFor({ state: "visible" });
    // Drag the south-west corner 0.002° further south (clear of the form and the details).
    const [west, south] = YARD[0] as LonLat;
    const from = await pixelOf(page, west, south);
    const to = await pixelOf(page, west, south - 0.002);
    await page.mouse.move(from.x, from.y, { steps: 5 });
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 10 });
    await page.mouse.up();
    await watched.screenshot("editor-reshaped");
    await page.locator("#geofence-form button[data-action=save]").click();
    const moved = await waitFor(
      async () => {
        const got = await live.api("GET", `/api/v1/geofences/${yard.id}`);
        const ring: LonLat[] = got.body.geometry.coordinates[0];
        const near = (lon: number, lat: number) =>
          ring.some(([x, y]) => Math.abs(x - lon) < 1e-4 && Math.abs(y - lat) < 1e-4);
        return near(west, south - 0.002) ? { ring, near } : undefined;
      },
      20_000,
      "the moved corner in the stored geofence",
    );
    expect(moved.near(west, south)).toBe(false);
    expect(moved.ring).toHaveLength(5);
    const after = await live.api("GET", `/api/v1/geofences/${yard.id}`);
    expect(after.body.properties.name).toBe("North yard");
  });

  it("shows the API's message for a polygon that crosses itself, and keeps the shape", async () => {
    const before = (await live.api("GET", "/api/v1/geofences")).body.features.length;
    await drawPolygon(page, BOW_TIE);
    await saveAs(page, "Bow tie");
    const error = page.locator("#geofence-form [data-error]");
    await error.waitFor({ state: "visible" });
    const shown = (await error.textContent()) ?? "";
    // The same ring sent to the API directly: the page shows the API's own words.
    const ring = [...BOW_TIE, BOW_TIE[0]];
    const direct = await live.api("POST", "/api/v1/geofences", {
      type: "Feature",
      properties: { name: "Bow tie" },
      geometry: { type: "Polygon", coordinates: [ring] },
    });
    expect(direct.status).toBe(400);
    expect(shown).toMatch(/cross|intersect/i);
    expect(direct.body.message).toMatch(/cross|intersect/i);
    expect(await page.locator("#geofence-form").isVisible()).toBe(true);
    expect((await live.api("GET", "/api/v1/geofences")).body.features).toHaveLength(before);
    await watched.screenshot("editor-validation");
    await page.locator("#geofence-form button[data-action=cancel]").click();
    await page.locator("#geofence-form").waitFor({ state: "hidden" });
  });

  it("draws a circle, stored as a Point with radius_m, drawn on the map and judged", async () => {
    await page.locator("button[data-action=draw-circle]").click();
    await clickAt(page, [-118.245, 34.055]);
    await clickAt(page, [-118.242, 34.055]);
    await page.locator("#geofence-form").waitFor({ state: "visible" });
    await saveAs(page, "Round");
    const round = await storedNamed("Round");
    expect(round.geometry.type).toBe("Point");
    const [lon, lat] = round.geometry.coordinates as LonLat;
    // The centre within a few pixels (about 4 m each at zoom 15) of the first click.
    expect(Math.abs(lon - -118.245)).toBeLessThan(1e-4);
    expect(Math.abs(lat - 34.055)).toBeLessThan(1e-4);
    // 0.003° of longitude at 34.055° N is about 276 m.
    expect(round.properties.radius_m).toBeGreaterThan(240);
    expect(round.properties.radius_m).toBeLessThan(310);
    expect(round.properties.drawn_as).toBeUndefined();
    await page.locator(`#geofences [data-geofence-id="${round.id}"]`).waitFor();
    await mapSettled(page);
    expect(await renderedGids(page, "geofence-fill")).toContain(round.id);
    // The hub judges the true circle: a vehicle 200 m east of the centre is inside.
    await live.publish("truck-round", { latitude: 34.055, longitude: -118.24283 });
    await waitFor(
      async () => {
        const inside = await live.api("GET", `/api/v1/geofences/${round.id}/vehicles`);
        return inside.body.vehicles.includes("truck-round") ? true : undefined;
      },
      20_000,
      "truck-round inside the circle",
    );
  });

  it("shows a corridor stored through the API as wide as it is", async () => {
    const created = await live.api("POST", "/api/v1/geofences", {
      type: "Feature",
      geometry: {
        type: "LineString",
        coordinates: [
          [-118.256, 34.044],
          [-118.244, 34.044],
        ],
      },
      properties: { name: "Haul road", width_m: 60 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await page.locator(`#geofences [data-geofence-id="${id}"]`).waitFor();
    await mapSettled(page);
    expect(await renderedGids(page, "geofence-corridor")).toContain(id);
    // 25 m from the line is on the drawn corridor, 45 m is not (30 m is its half width).
    const at = (metresNorth: number) => hitsAt(page, [-118.25, 34.044 + metresNorth / 111_195]);
    expect(await at(25)).toContain(id);
    expect(await at(-25)).toContain(id);
    expect(await at(45)).not.toContain(id);
    await page.locator(`#geofences [data-geofence-id="${id}"]`).click();
    await page.locator(`#details[data-geofence-id="${id}"]`).waitFor({ state: "visible" });
    expect(await page.locator("#details").textContent()).toContain("corridor, 60 m wide");
  });

  it("deletes a geofence after the confirmation", async () => {
    const yard = await storedNamed("North yard");
    await page.locator(`#geofences [data-geofence-id="${yard.id}"]`).click();
    await page.locator(`#details[data-geofence-id="${yard.id}"]`).waitFor({ state: "visible" });
    const dialog = page.waitForEvent("dialog");
    const click = page.locator("#details button[data-action=delete]").click();
    const confirm = await dialog;
    expect(confirm.type()).toBe("confirm");
    await confirm.accept();
    await click;
    await waitFor(
      async () =>
        (await live.api("GET", `/api/v1/geofences/${yard.id}`)).status === 404 ? true : undefined,
      20_000,
      "the geofence deleted",
    );
    await page.locator(`#geofences [data-geofence-id="${yard.id}"]`).waitFor({ state: "detached" });
  });
});

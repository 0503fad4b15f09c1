// What the map's browser tests, its benchmark and its screenshot do with the page: log in, wait for
// the first snapshot to be drawn, read what MapLibre rendered, and turn map positions into the
// pixels a real mouse clicks. The page's hooks are `window.locus = { map, ready, stats }`.

import type { Page } from "playwright-core";

/** The part of maplibre-gl's Map these helpers use (the page's own copy, in the browser). */
export interface MapLike {
  queryRenderedFeatures(options: { layers: string[] }): {
    properties: Record<string, unknown>;
    geometry: { type: string; coordinates: unknown };
  }[];
  project(lngLat: [number, number]): { x: number; y: number };
  getLayer(id: string): unknown;
  getZoom(): number;
  isMoving(): boolean;
  areTilesLoaded(): boolean;
  jumpTo(options: { center: [number, number]; zoom: number }): void;
  fitBounds(bounds: [[number, number], [number, number]], options?: object): void;
  once(event: string, listener: () => void): void;
  on(event: string, listener: () => void): void;
  triggerRepaint(): void;
  getCanvas(): { getBoundingClientRect(): { left: number; top: number } };
}

interface StorageLike {
  readonly length: number;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

interface ElementLike {
  dataset: Record<string, string | undefined>;
  /** null when the element is not displayed. */
  offsetParent: unknown;
}

/** The page's globals as the helpers see them; evaluated code casts globalThis to this. */
export interface MapWindow {
  locus?: { map: MapLike; ready: Promise<unknown>; stats?: { updates: number; vehicles: number } };
  sessionStorage: StorageLike;
  localStorage: StorageLike;
  document: {
    body: { dataset: Record<string, string | undefined> };
    querySelectorAll(selector: string): ArrayLike<ElementLike>;
  };
  mapTestReadyAt?: number;
  mapTestHooked?: boolean;
}

export interface RenderedVehicle {
  id: string;
  status: string;
  lon: number;
  lat: number;
}

/** Logs in through the form as a user does, and waits for the page to say which access it has. */
export async function loginWithToken(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  // The page focuses the field once it listens for a token.
  await page.locator("#login input[name=token]:focus").waitFor();
  await page.locator("#login input[name=token]").fill(token);
  await page.locator("#login input[name=token]").press("Enter");
  await page.waitForSelector("body[data-access]");
}

/** Opens the page already holding a token for this browser session, as after a login. */
export async function openWithSessionToken(page: Page, url: string, token: string): Promise<void> {
  await page.addInitScript((t) => {
    (globalThis as unknown as MapWindow).sessionStorage.setItem("locus.token", t);
  }, token);
  await page.goto(url);
}

/**
 * Waits for `window.locus.ready` (the first snapshot drawn) and returns the page's Date.now() at
 * that moment, taken in the page so that polling does not add to it.
 */
export async function waitMapReady(page: Page, timeoutMs = 60_000): Promise<number> {
  const handle = await page.waitForFunction(
    () => {
      const w = globalThis as unknown as MapWindow;
      if (w.locus?.ready && !w.mapTestHooked) {
        w.mapTestHooked = true;
        w.locus.ready.then(() => {
          w.mapTestReadyAt = Date.now();
        });
      }
      return w.mapTestReadyAt;
    },
    undefined,
    { timeout: timeoutMs, polling: 20 },
  );
  return (await handle.jsonValue()) as number;
}

/** Resolves (with the page's Date.now()) once the map drew everything it has after a repaint. */
export function mapIdle(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const map = (globalThis as unknown as MapWindow).locus?.map as MapLike;
        map.once("idle", () => resolve(Date.now()));
        map.triggerRepaint();
      }),
  );
}

/** Waits until the map stopped moving (a selection may fly to its target) and has drawn. */
export async function mapSettled(page: Page): Promise<void> {
  await page.waitForFunction(
    () => !(globalThis as unknown as MapWindow).locus?.map.isMoving(),
    undefined,
    { polling: 50 },
  );
  await mapIdle(page);
}

/** Moves the view and waits until it is drawn. */
export async function jumpTo(page: Page, center: [number, number], zoom: number): Promise<void> {
  await page.evaluate(
    ([c, z]) =>
      new Promise<void>((resolve) => {
        const map = (globalThis as unknown as MapWindow).locus?.map as MapLike;
        map.once("idle", () => resolve());
        map.jumpTo({ center: c, zoom: z });
        map.triggerRepaint();
      }),
    [center, zoom] as const,
  );
}

/** The unclustered vehicle points MapLibre drew, with their positions. */
export function renderedVehicles(page: Page): Promise<RenderedVehicle[]> {
  return page.evaluate(() => {
    const map = (globalThis as unknown as MapWindow).locus?.map as MapLike;
    if (!map.getLayer("vehicles")) return [];
    return map.queryRenderedFeatures({ layers: ["vehicles"] }).map((f) => {
      const [lon, lat] = f.geometry.coordinates as [number, number];
      return { id: String(f.properties.id), status: String(f.properties.status), lon, lat };
    });
  });
}

/** How many features each layer drew (0 for a layer the map does not have). */
export function renderedCounts(page: Page, layers: string[]): Promise<Record<string, number>> {
  return page.evaluate((ids) => {
    const map = (globalThis as unknown as MapWindow).locus?.map as MapLike;
    const out: Record<string, number> = {};
    for (const id of ids) {
      out[id] = map.getLayer(id) ? map.queryRenderedFeatures({ layers: [id] }).length : 0;
    }
    return out;
  }, layers);
}

/** Page coordinates (for page.mouse) of a map position. */
export function pixelOf(page: Page, lon: number, lat: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([x, y]) => {
      const map = (globalThis as unknown as MapWindow).locus?.map as MapLike;
      const p = map.project([x, y]);
      const box = map.getCanvas().getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    },
    [lon, lat] as const,
  );
}

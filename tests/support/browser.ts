// A real browser for the map's tests: Debian's Chromium driven by playwright-core, in a context
// that lets only loopback requests through (anything else is aborted and counted), collects the
// page's console errors and uncaught exceptions, and saves screenshots as test artefacts.

import fs from "node:fs";
import path from "node:path";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type LaunchOptions,
  type Page,
} from "playwright-core";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const CHROMIUM_PATH = "/usr/bin/chromium";
/** Where screenshots go; gitignored, kept by CI as artefacts. */
export const SCREENSHOT_DIR = path.join(ROOT, "test-results", "map");

/** WebGL 2 through SwiftShader: no GPU here, and MapLibre needs WebGL. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  "--disable-background-networking",
];

/** True when Chromium is installed; otherwise one loud line (and under CI=true, an error). */
export function requireChromium(): boolean {
  if (fs.existsSync(CHROMIUM_PATH)) return true;
  const line = `${CHROMIUM_PATH} not found: apt-get install chromium to run the map's browser tests`;
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
  return false;
}

export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    ...options,
  });
}

/** Closes the browser; one that does not answer within the bound is left to the process exit. */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (browser === undefined) return;
  await Promise.race([
    browser.close().catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, 20_000).unref()),
  ]);
}

export function isLoopbackUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  // data: and blob: never leave the browser (MapLibre starts its workers from a blob: URL).
  if (url.protocol === "data:" || url.protocol === "blob:") return true;
  return ["127.0.0.1", "localhost", "[::1]", "::1"].includes(url.hostname);
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Requests and WebSockets for another host, aborted. Tests expect none. */
  blocked: string[];
  /** Console errors, uncaught exceptions and answers of 400 or more, in order. */
  errors: string[];
  /**
   * The errors not matched by `expected`: the browser itself logs a failed load (a 400 or 401
   * the test provoked on purpose) as a console error, which says nothing about the page.
   */
  unexpectedErrors(expected?: RegExp[]): string[];
  /** Saves test-results/map/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface WatchOptions {
  viewport?: { width: number; height: number };
  /** Timeout for each action and wait, ms. */
  actionTimeoutMs?: number;
}

/** A fresh context (its own sessionStorage) and page, with the watches above. */
export async function openWatchedPage(
  browser: Browser,
  options: WatchOptions = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    serviceWorkers: "block",
  });
  context.setDefaultTimeout(options.actionTimeoutMs ?? 20_000);
  context.setDefaultNavigationTimeout(30_000);
  const blocked: string[] = [];
  const errors: string[] = [];
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    if (isLoopbackUrl(url)) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  // WebSockets have their own routing: one for another host is closed unopened, and counted.
  await context.routeWebSocket(
    (url) => !isLoopbackUrl(url.href),
    (socket) => {
      blocked.push(socket.url());
      void socket.close({ code: 1008, reason: "blocked: only loopback in tests" });
    },
  );
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.stack ?? error.message}`));
  // The browser's own line for a failed load does not say which; this one does.
  page.on("response", (response) => {
    if (response.status() >= 400) {
      errors.push(`http ${response.status()}: ${response.request().method()} ${response.url()}`);
    }
  });
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    page,
    blocked,
    errors,
    unexpectedErrors: (expected = []) => errors.filter((e) => !expected.some((re) => re.test(e))),
    async screenshot(name) {
      const file = path.join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path: file, timeout: 30_000 });
      return file;
    },
    async close() {
      await Promise.race([
        context.close().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
      ]);
    },
  };
}

// `npm run demo` as a newcomer runs it: the hub's URLs, token and one-time map link, sample geofences, enter/exit
// lines within seconds; Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops
// everything with exit code 0 and leaves no process and no data behind.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { api, freePort, waitFor } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
/** Generous for a loaded two-core machine; on an idle one the first event prints in ~3 s. */
const FIRST_EVENT_WITHIN_MS = 20_000;
const EVENT_LINE = /^\d\d:\d\d:\d\d {2}demo-\d{5} {2}(enter|exit) +\S+$/m;

function hubOf(httpPort: number, token: string) {
  return { httpUrl: `http://127.0.0.1:${httpPort}`, token };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm run demo", () => {
  let child: ChildProcess | null = null;

  afterEach(() => {
    // Only if the test failed half-way: the group this test started, by its id.
    if (child?.pid && groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
    child = null;
  });

  it("prints the hub's URLs and token, then enter/exit events within seconds; Ctrl-C exits 0 and leaves nothing behind", async () => {
    const httpPort = await freePort();
    const mqttPort = await freePort();
    const started = Date.now();
    const proc = spawn("npm", ["run", "demo"], {
      cwd: ROOT,
      detached: true, // its own process group, as a terminal job
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        LOCUS_HTTP_PORT: String(httpPort),
        LOCUS_MQTT_PORT: String(mqttPort),
      },
    });
    child = proc;
    let out = "";
    proc.stdout?.on("data", (d) => {
      out += d;
    });
    proc.stderr?.on("data", (d) => {
      out += d;
    });
    const exited = new Promise<number | string>((resolve) => {
      proc.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    });

    const firstEventMs = await waitFor(
      () => (EVENT_LINE.test(out) ? Date.now() - started : undefined),
      FIRST_EVENT_WITHIN_MS,
      `an enter/exit line; output so far:\n${out}`,
    );
    console.log(`npm run demo: first event line after ${firstEventMs} ms`);

    expect(out).toContain(`http://127.0.0.1:${httpPort}/`);
    expect(out).toContain(`mqtt://127.0.0.1:${mqttPort}`);
    const token = /API token\s+(\S+)/.exec(out)?.[1] as string;
    // The map's link logs in without copying the token: its code works once, and only once.
    const link = new URL(/^ {2}map\s+(\S+)/m.exec(out)?.[1] as string);
    expect(`${link.origin}${link.pathname}`).toBe(`http://127.0.0.1:${httpPort}/`);
    const loginCode = /^#login=([\w-]+)$/.exec(link.hash)?.[1] as string;
    const redeem = () =>
      fetch(`${link.origin}/api/v1/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: loginCode }),
      });
    const first = await redeem();
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ token, role: "admin" });
    expect((await redeem()).status).toBe(401);
    const dataDir = /data\s+(\S+) \(removed at exit\)/.exec(out)?.[1] as string;
    expect(fs.existsSync(dataDir)).toBe(true);
    const fences = await api(hubOf(httpPort, token), "GET", "/api/v1/geofences");
    expect(fences.status).toBe(200);
    const types = fences.body.features.map((f: any) => f.geometry.type);
    expect(types).toContain("MultiPolygon");
    expect(
      fences.body.features.some(
        (f: any) => f.geometry.type === "Polygon" && f.geometry.coordinates.length > 1,
      ),
    ).toBe(true);
    // The whole fleet of 200 reports (within a few seconds on an idle machine).
    await waitFor(
      async () => {
        const vehicles = await api(hubOf(httpPort, token), "GET", "/api/v1/vehicles?limit=1000");
        return vehicles.body.vehicles.length === 200 ? true : undefined;
      },
      30_000,
      "200 vehicles",
    );

    process.kill(-(proc.pid as number), "SIGINT");
    const code = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve("still running after 30 s"), 30_000)),
    ]);
    expect(code, out).toBe(0);
    await waitFor(
      () => (groupAlive(proc.pid as number) ? undefined : true),
      20_000,
      "no process left",
    );
    expect(fs.existsSync(dataDir)).toBe(false);
  }, 150_000);
});

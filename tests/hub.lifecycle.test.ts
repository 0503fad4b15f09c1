// The hub's start and stop: bad settings give one clear line and a non-zero exit; SIGINT and
// SIGTERM exit 0; a restart keeps geofences, vehicles, history and membership state.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import {
  api,
  freePort,
  type HubProcess,
  startHubProcess,
  tempDir,
  waitFor,
} from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Runs the hub expecting it to refuse to start; resolves to its exit code and output. */
function failedStart(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "hub/src/main.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", LOCUS_DATA_DIR: tempDir(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the hub did not exit; output:\n${out}`));
    }, 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("hub start-up refusals", () => {
  it.each([
    [{ LOCUS_HTTP_PORT: "http" }, /^locus hub: LOCUS_HTTP_PORT: "http" is not a port number/],
    [{ LOCUS_MQTT_PORT: "70000" }, /^locus hub: LOCUS_MQTT_PORT: "70000" is not a port number/],
    [{ LOCUS_API_TOKEN: "short" }, /^locus hub: LOCUS_API_TOKEN: must be at least 16 characters/],
    [{ LOCUS_LOG_LEVEL: "loud" }, /^locus hub: LOCUS_LOG_LEVEL: "loud" is not one of/],
    [
      { LOCUS_DATA_DIR: "/dev/null/locus" },
      /^locus hub: LOCUS_DATA_DIR: \/dev\/null\/locus is not a writable directory/,
    ],
  ])("refuses %o with one line naming the setting", async (env, message) => {
    const { code, out } = await failedStart(env);
    expect(code).toBe(1);
    expect(out.trim()).toMatch(message);
    expect(out.trim().split("\n")).toHaveLength(1);
  });

  it("names the MQTT port setting when the port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const address = blocker.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const { code, out } = await failedStart({
        LOCUS_MQTT_PORT: String(port),
        LOCUS_HTTP_PORT: String(await freePort()),
      });
      expect(code).toBe(1);
      expect(out.trim()).toBe(
        `locus hub: LOCUS_MQTT_PORT: port ${port} on 127.0.0.1 is already in use`,
      );
    } finally {
      blocker.close();
    }
  });
});

describe("hub stop and restart", () => {
  const hubs: HubProcess[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) await h.stop("SIGKILL");
  });

  it("exits 0 on SIGINT and keeps geofences, history and membership across a restart", async () => {
    const dataDir = tempDir();
    const httpPort = await freePort();
    const mqttPort = await freePort();
    const first = await startHubProcess({ dataDir, httpPort, mqttPort });
    hubs.push(first);
    expect(first.output()).toMatch(
      /locus hub ready {2}http: http:\/\/127\.0\.0\.1:\d+ {2}mqtt: mqtt:\/\/127\.0\.0\.1:\d+/,
    );
    const fence = await api(first, "POST", "/api/v1/geofences", {
      type: "Feature",
      properties: { name: "depot" },
      geometry: {
        type: "Polygon",
        coordinates: [
          [
            [2.35, 48.85],
            [2.36, 48.85],
            [2.36, 48.86],
            [2.35, 48.86],
            [2.35, 48.85],
          ],
        ],
      },
    });
    expect(fence.status).toBe(201);
    const device = await mqtt.connectAsync(first.mqttUrl, { reconnectPeriod: 0 });
    await device.publishAsync(
      "locus/vehicles/van-7/location",
      JSON.stringify({ latitude: 48.855, longitude: 2.355, ts: "2026-11-24T09:00:00Z", seq: 1 }),
      { qos: 1 },
    );
    await device.endAsync();
    expect(await first.stop("SIGINT")).toBe(0);

    const second = await startHubProcess({ dataDir, httpPort, mqttPort });
    hubs.push(second);
    const kept = await api(second, "GET", `/api/v1/geofences/${fence.body.id}`);
    expect(kept.body.properties.name).toBe("depot");
    const vehicle = await api(second, "GET", "/api/v1/vehicles/van-7");
    expect(vehicle.body.geofences).toEqual([fence.body.id]);
    const inside = await api(second, "GET", `/api/v1/geofences/${fence.body.id}/vehicles`);
    expect(inside.body).toEqual({ vehicles: ["van-7"] });

    // The kept membership means the next fix outside is an exit, not nothing.
    const device2 = await mqtt.connectAsync(second.mqttUrl, { reconnectPeriod: 0 });
    await device2.publishAsync(
      "locus/vehicles/van-7/location",
      JSON.stringify({ latitude: 48.87, longitude: 2.355, ts: "2026-11-24T09:01:00Z", seq: 2 }),
      { qos: 1 },
    );
    await device2.endAsync();
    const events = await waitFor(async () => {
      const r = await api(second, "GET", "/api/v1/events?vehicle_id=van-7");
      return r.body.events.length === 2 ? r.body.events : undefined;
    });
    expect(events.map((e: any) => e.type)).toEqual(["enter", "exit"]);
    const left = await api(second, "GET", `/api/v1/geofences/${fence.body.id}/vehicles`);
    expect(left.body).toEqual({ vehicles: [] });
    expect((await api(second, "GET", "/api/v1/geofences/no-such/vehicles")).status).toBe(404);
    const track = await api(second, "GET", "/api/v1/vehicles/van-7/locations");
    expect(track.body.locations.map((f: any) => f.seq)).toEqual([1, 2]);
    expect(fs.existsSync(path.join(dataDir, "locus.db"))).toBe(true);
    expect(await second.stop("SIGTERM")).toBe(0);
  });
});

// `npm run demo`: the embedded hub, sample geofences in downtown Los Angeles and a simulated
// fleet driving through them, with each enter/exit printed as it arrives.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, type Hub, loadConfig, startHub } from "@locus/hub";
import type { GeofenceEvent } from "@locus/protocol";
import { Fleet, type FleetStats } from "@locus/simulator";
import { DEMO_BBOX, DEMO_BLOCK_M, DEMO_FENCES } from "./fences.ts";
import { choosePort } from "./ports.ts";

export const DEMO_VEHICLES = 200;
export const DEMO_INTERVAL_MS = 1000;
const STATUS_EVERY_MS = 30_000;

type Env = Record<string, string | undefined>;

export interface DemoOptions {
  env: Env;
  out: (line: string) => void;
  vehicles?: number;
  intervalMs?: number;
  /** Seed of the fleet's paths; default random. */
  seed?: number;
}

export interface Demo {
  hub: Hub;
  fleet: Fleet;
  /** Stops the fleet, closes the hub and removes the demo's data directory. */
  stop(): Promise<void>;
}

/** A problem the user must fix, reported in one line (exit 1). */
export class DemoError extends Error {
  override name = "DemoError";
}

/**
 * Starts everything and returns once the fleet drives. The hub keeps its data in a fresh
 * directory under the OS temp dir, removed by `stop()`; a demo always starts empty.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const { out } = options;
  const env: Env = { ...options.env };
  const notes: string[] = [];
  // Defaults that suit a demo; each can still be set in the environment.
  env.LOCUS_OUTBOX_GRACE_MS ||= "0";
  env.LOCUS_SQLITE_SYNCHRONOUS ||= "normal";
  for (const [setting, hostSetting, fallback] of [
    ["LOCUS_HTTP_PORT", "LOCUS_HTTP_HOST", 3000],
    ["LOCUS_MQTT_PORT", "LOCUS_MQTT_HOST", 1883],
  ] as const) {
    if (env[setting]) continue;
    const choice = await choosePort(setting, env[hostSetting] || "127.0.0.1", fallback);
    env[setting] = String(choice.port);
    if (choice.note) notes.push(choice.note);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-demo-"));
  env.LOCUS_DATA_DIR = dataDir;
  const removeData = () => fs.rmSync(dataDir, { recursive: true, force: true });

  let hub: Hub;
  try {
    hub = await startHub(loadConfig(env));
  } catch (err) {
    removeData();
    if (err instanceof ConfigError) throw new DemoError(err.message);
    throw err;
  }
  let fleet: Fleet | null = null;
  const stopAll = async () => {
    await fleet?.stop({ drainMs: 0 });
    await hub.close();
    removeData();
  };

  try {
    for (const note of notes) out(`locus demo: ${note}`);
    out("locus demo: hub ready");
    out(`  map           ${hub.loginLink()}   (opens the map logged in, once)`);
    out(`  API           ${hub.httpUrl}/docs   (the API reference)`);
    out(`  MQTT          ${hub.mqttUrl}`);
    out(`  API token     ${hub.token}`);
    out(`  data          ${dataDir} (removed at exit)`);

    const names: string[] = [];
    for (const fence of DEMO_FENCES) {
      const created = await createFence(hub, fence);
      names.push(`${fence.properties.name} (${created})`);
    }
    out(`  geofences     ${names.join(", ")}`);

    const vehicles = options.vehicles ?? DEMO_VEHICLES;
    const intervalMs = options.intervalMs ?? DEMO_INTERVAL_MS;
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    out(
      `  fleet         ${vehicles} vehicles on a street grid, a fix every ${intervalMs / 1000}s ` +
        `(seed ${seed}); events below as they arrive. Ctrl-C to stop.`,
    );
    fleet = await Fleet.start({
      vehicles,
      intervalMs,
      brokerUrl: hub.mqttUrl,
      idPrefix: "demo-",
      seed,
      motion: { kind: "grid", bbox: DEMO_BBOX, blockM: DEMO_BLOCK_M },
      noiseM: 3,
      buffer: { kind: "memory" },
      maxBuffer: 100_000,
      rampMs: 500,
      reconnectMaxMs: 5000,
      onEvent: (event) => out(eventLine(event)),
      onNotice: (line) => out(`locus demo: ${line}`),
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  const running = fleet;
  const status = setInterval(() => {
    for (const line of running.takeNotices()) out(`locus demo: agents: ${line}`);
    out(statusLine(running.stats()));
  }, STATUS_EVERY_MS);
  let stopping: Promise<void> | null = null;
  return {
    hub,
    fleet: running,
    stop() {
      clearInterval(status);
      stopping ??= stopAll();
      return stopping;
    },
  };
}

async function createFence(hub: Hub, fence: (typeof DEMO_FENCES)[number]): Promise<string> {
  const res = await fetch(`${hub.httpUrl}/api/v1/geofences`, {
    method: "POST",
    headers: { authorization: `Bearer ${hub.token}`, "content-type": "application/json" },
    body: JSON.stringify(fence),
  });
  const body = (await res.json()) as { id?: string; message?: string };
  if (res.status !== 201 || typeof body.id !== "string") {
    throw new Error(
      `creating geofence ${fence.properties.name}: ${res.status} ${body.message ?? ""}`,
    );
  }
  return fence.geometry.type === "MultiPolygon"
    ? "MultiPolygon"
    : fence.geometry.coordinates.length > 1
      ? "with a hole"
      : "Polygon";
}

/** `12:00:01  demo-00042  enter  civic-center` in local time of the fix. */
export function eventLine(e: GeofenceEvent): string {
  const t = new Date(e.ts);
  const hh = String(t.getHours()).padStart(2, "0");
  const mm = String(t.getMinutes()).padStart(2, "0");
  const ss = String(t.getSeconds()).padStart(2, "0");
  return `${hh}:${mm}:${ss}  ${e.vehicle_id}  ${e.type.padEnd(5)}  ${e.geofence_name}`;
}

function statusLine(s: FleetStats): string {
  const n = (v: number) => v.toLocaleString("en-US");
  return (
    `locus demo: fleet ${n(s.connected)}/${n(s.vehicles)} connected, ${n(s.acked)} fixes delivered, ` +
    `${n(s.buffered)} buffered, ${n(s.events)} events`
  );
}

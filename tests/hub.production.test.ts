// Production mode: the hub as a client of Mosquitto (the repo's config) with PostgreSQL. Its
// persistent session keeps what devices publish while the hub is stopped or killed; it says
// clearly when it cannot start; health follows the broker; a broker crash loses nothing that
// Mosquitto had saved.

import fs from "node:fs";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../hub/src/config.ts";
import { type HubEnvironment, mosquittoBinary, openHubEnvironment } from "./support/broker.ts";
import { api, failedHubStart, freePort, type HubProcess, waitFor } from "./support/hub-process.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";
import { YARD, yardFix } from "./support/yard.ts";

/** The events fixes 0..n-1 of one vehicle cause: enter at 3, exit at 6, enter at 9, … */
function expectedTypes(n: number): string[] {
  const types: string[] = [];
  for (let i = 3; i < n; i += 3) types.push(Math.floor(i / 3) % 2 === 1 ? "enter" : "exit");
  return types;
}

describe("production settings", () => {
  it("checks the new settings once, at start", () => {
    const config = loadConfig({ LOCUS_DATABASE_URL: "postgres://db/locus" });
    expect(config.geofenceEval).toBe("memory");
    expect(config.mqtt).toMatchObject({
      clientId: "locus-hub",
      sessionExpirySeconds: 604_800,
      receiveMaximum: 1000,
    });
    expect(
      loadConfig({ LOCUS_DATABASE_URL: "postgres://db/locus", LOCUS_GEOFENCE_EVAL: "postgis" })
        .geofenceEval,
    ).toBe("postgis");
    const refusals: [Record<string, string>, string][] = [
      [{ LOCUS_GEOFENCE_EVAL: "postgis" }, "LOCUS_GEOFENCE_EVAL"],
      [{ LOCUS_GEOFENCE_EVAL: "rtree" }, "LOCUS_GEOFENCE_EVAL"],
      [{ LOCUS_MQTT_RECEIVE_MAXIMUM: "0" }, "LOCUS_MQTT_RECEIVE_MAXIMUM"],
      [{ LOCUS_MQTT_SESSION_EXPIRY_S: "1.5" }, "LOCUS_MQTT_SESSION_EXPIRY_S"],
      [{ LOCUS_MQTT_CLIENT_ID: "has space" }, "LOCUS_MQTT_CLIENT_ID"],
      [{ LOCUS_MQTT_URL: "http://broker" }, "LOCUS_MQTT_URL"],
      [{ LOCUS_DATABASE_URL: "mysql://db" }, "LOCUS_DATABASE_URL"],
    ];
    for (const [env, setting] of refusals) {
      let thrown: unknown = null;
      try {
        loadConfig(env);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).setting).toBe(setting);
    }
  });

  it("refuses LOCUS_GEOFENCE_EVAL=postgis with SQLite in one line", async () => {
    const { code, out } = await failedHubStart({ LOCUS_GEOFENCE_EVAL: "postgis" });
    expect(code).toBe(1);
    expect(out.trim()).toMatch(/^locus hub: LOCUS_GEOFENCE_EVAL: postgis needs PostgreSQL/);
    expect(out.trim().split("\n")).toHaveLength(1);
  });

  it("names LOCUS_MQTT_URL in one line when the broker cannot be reached", {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const { code, out, ms } = await failedHubStart(
      {
        LOCUS_MQTT_URL: `mqtt://127.0.0.1:${port}`,
        LOCUS_HTTP_PORT: String(await freePort()),
      },
      60_000,
    );
    expect(code).toBe(1);
    expect(out.trim()).toMatch(
      new RegExp(`^locus hub: LOCUS_MQTT_URL: cannot reach the broker at mqtt://127.0.0.1:${port}`),
    );
    expect(out.trim().split("\n")).toHaveLength(1);
    // It keeps trying for 10 s (a broker that is still starting) before it gives up.
    expect(ms).toBeGreaterThan(9_000);
  });

  it("names LOCUS_DATABASE_URL in one line when the database cannot be reached", async () => {
    const port = await freePort();
    const { code, out } = await failedHubStart({
      LOCUS_DATABASE_URL: `postgres://locus:secret@127.0.0.1:${port}/locus`,
      LOCUS_MQTT_PORT: String(await freePort()),
      LOCUS_HTTP_PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    expect(out.trim()).toMatch(/^locus hub: LOCUS_DATABASE_URL: cannot/);
    expect(out).not.toContain("secret");
    expect(out.trim().split("\n")).toHaveLength(1);
  });
});

describe.runIf(mosquittoBinary() !== null)("hub with Mosquitto and PostgreSQL", () => {
  let environment: HubEnvironment | null = null;
  const hubs: HubProcess[] = [];
  const clients: mqtt.MqttClient[] = [];
  const STREAMING = ["prod-2", "prod-3", "prod-4", "prod-5"];
  const VEHICLES = ["prod-0", "prod-1", ...STREAMING, "prod-health", "prod-saved"];

  async function device(vehicleId: string): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(environment?.mosquitto?.url ?? "", {
      ...environment?.device(vehicleId),
      reconnectPeriod: 0,
    });
    clients.push(client);
    return client;
  }

  async function startHub(env: Record<string, string> = {}): Promise<HubProcess> {
    const hub = await (environment as HubEnvironment).startHub({ env });
    hubs.push(hub);
    return hub;
  }

  async function locations(hub: HubProcess, vehicleId: string): Promise<number[]> {
    const r = await api(hub, "GET", `/api/v1/vehicles/${vehicleId}/locations?limit=10000`);
    return (r.body?.locations ?? []).map((f: any) => f.seq);
  }

  beforeAll(async () => {
    environment = await openHubEnvironment("production", { vehicles: VEHICLES });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    for (const h of hubs.splice(0)) await h.stop("SIGKILL");
  });

  afterAll(async () => {
    await environment?.close();
  });

  it("refuses wrong broker credentials in one line naming the setting", {
    timeout: 90_000,
  }, async (ctx) => {
    if (environment === null) return ctx.skip();
    const mosquitto = environment.mosquitto as NonNullable<HubEnvironment["mosquitto"]>;
    // Through a proxy that counts the hub's connection attempts.
    const proxy = await startTcpProxy(mosquitto.port);
    try {
      const { code, out } = await failedHubStart(
        {
          ...environment.env,
          LOCUS_MQTT_URL: proxy.url,
          LOCUS_MQTT_PASSWORD: "wrong",
          LOCUS_HTTP_PORT: String(await freePort()),
        },
        60_000,
      );
      expect(code).toBe(1);
      expect(out.trim()).toMatch(
        /^locus hub: LOCUS_MQTT_USERNAME: the broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the hub's credentials/,
      );
      expect(out.trim().split("\n")).toHaveLength(1);
      // A refusal is final: one attempt, not the retries an unreachable broker gets.
      expect(proxy.accepted()).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it("gets every fix published while it was stopped (SIGTERM) or killed (kill -9)", async (ctx) => {
    if (environment === null) return ctx.skip();
    let hub = await startHub();
    const fence = await api(hub, "POST", "/api/v1/geofences", YARD);
    expect(fence.status).toBe(201);
    const [a, b] = [await device("prod-0"), await device("prod-1")];
    let next = 0;
    /** 12 fixes per vehicle, acknowledged by Mosquitto (not by the stopped hub). */
    const publishRound = async () => {
      for (let k = 0; k < 12; k++, next++) {
        for (const [d, id] of [
          [a, "prod-0"],
          [b, "prod-1"],
        ] as const) {
          await d.publishAsync(`locus/vehicles/${id}/location`, JSON.stringify(yardFix(next)), {
            qos: 1,
          });
        }
      }
    };
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const code = await hub.stop(signal);
      expect(code).toBe(signal === "SIGTERM" ? 0 : "SIGKILL");
      await publishRound();
      hub = await startHub();
      const expected = Array.from({ length: next }, (_, i) => i);
      for (const id of ["prod-0", "prod-1"]) {
        const stored = await waitFor(
          async () => {
            const seqs = await locations(hub, id);
            return seqs.length >= next ? seqs : undefined;
          },
          30_000,
          `${id}'s fixes after ${signal}`,
        );
        expect(stored).toEqual(expected);
      }
    }
    const events = await api(
      hub,
      "GET",
      `/api/v1/events?vehicle_id=prod-0&geofence_id=${fence.body.id}&limit=1000`,
    );
    expect(events.body.events.map((e: any) => e.type)).toEqual(expectedTypes(next));
    expect(await hub.stop("SIGTERM")).toBe(0);
  });

  it("keeps every fix Mosquitto acknowledged when the hub is killed mid-stream", async (ctx) => {
    if (environment === null) return ctx.skip();
    const first = await startHub();
    const fence = await api(first, "POST", "/api/v1/geofences", YARD);
    expect(fence.status).toBe(201);
    const ids = STREAMING;
    const devices = await Promise.all(ids.map((id) => device(id)));
    const FIXES = 300;
    let acked = 0;
    const done = Promise.all(
      devices.map(
        (d, v) =>
          new Promise<void>((resolve, reject) => {
            let left = FIXES;
            for (let i = 0; i < FIXES; i++) {
              d.publish(
                `locus/vehicles/${ids[v]}/location`,
                JSON.stringify(yardFix(i)),
                { qos: 1 },
                (err) => {
                  if (err) return reject(err);
                  acked++;
                  if (--left === 0) resolve();
                },
              );
            }
          }),
      ),
    );
    // Kill the hub once it has stored some, while much is still on the way.
    await waitFor(
      async () => ((await locations(first, ids[0] as string)).length >= 20 ? true : undefined),
      20_000,
      "some fixes stored",
    );
    first.child.kill("SIGKILL");
    await first.exited;
    await done;
    expect(acked).toBe(ids.length * FIXES);

    const second = await startHub();
    const all = Array.from({ length: FIXES }, (_, i) => i);
    for (const id of ids) {
      const stored = await waitFor(
        async () => {
          const seqs = await locations(second, id);
          return seqs.length >= FIXES ? seqs : undefined;
        },
        30_000,
        `every fix of ${id}`,
      );
      expect(stored).toEqual(all);
      const events = await api(
        second,
        "GET",
        `/api/v1/events?vehicle_id=${id}&geofence_id=${fence.body.id}&limit=1000`,
      );
      expect(events.body.events.map((e: any) => e.type)).toEqual(expectedTypes(FIXES));
    }
    expect(await second.stop("SIGTERM")).toBe(0);
  });

  it("reports the broker in health while it is down, and resumes when it is back", async (ctx) => {
    if (environment === null) return ctx.skip();
    const mosquitto = environment.mosquitto;
    if (mosquitto === null) throw new Error("production mode runs Mosquitto");
    const hub = await startHub();
    expect((await api(hub, "GET", "/api/v1/health")).status).toBe(200);

    await mosquitto.stop();
    const down = await waitFor(async () => {
      const r = await api(hub, "GET", "/api/v1/health");
      return r.status === 503 ? r.body : undefined;
    });
    expect(down.checks).toMatchObject({ broker: "disconnected", store: "ok" });

    await mosquitto.start();
    await waitFor(
      async () => ((await api(hub, "GET", "/api/v1/health")).status === 200 ? true : undefined),
      40_000,
      "health 200 after the broker came back",
    );
    const d = await device("prod-health");
    await d.publishAsync("locus/vehicles/prod-health/location", JSON.stringify(yardFix(0)), {
      qos: 1,
    });
    await waitFor(async () =>
      (await locations(hub, "prod-health")).length === 1 ? true : undefined,
    );
    expect(await hub.stop("SIGTERM")).toBe(0);
  });

  it("loses nothing Mosquitto saved before it crashed (autosave_interval 5 s)", {
    timeout: 90_000,
  }, async (ctx) => {
    if (environment === null) return ctx.skip();
    const mosquitto = environment.mosquitto as NonNullable<HubEnvironment["mosquitto"]>;
    // The hub's session exists, the hub is away: fixes queue in Mosquitto.
    const hub = await startHub();
    expect(await hub.stop("SIGTERM")).toBe(0);
    const d = await device("prod-saved");
    const BASE = 1000;
    for (let i = 0; i < 50; i++) {
      await d.publishAsync(
        "locus/vehicles/prod-saved/location",
        JSON.stringify(yardFix(BASE + i)),
        { qos: 1 },
      );
    }
    d.end(true);
    // Mosquitto handles messages and saves on one thread, so a save that lands (a new file renamed
    // into place) after the last PUBACK holds all 50. Then it dies without saving.
    const inode = () =>
      fs.existsSync(mosquitto.persistenceFile) ? fs.statSync(mosquitto.persistenceFile).ino : 0;
    const acked = inode();
    await waitFor(() => (inode() !== acked ? true : undefined), 30_000, "an autosave");
    await mosquitto.stop("SIGKILL");
    await mosquitto.start();
    const again = await startHub();
    const stored = await waitFor(async () => {
      const seqs = (await locations(again, "prod-saved")).filter((s) => s >= BASE);
      return seqs.length >= 50 ? seqs : undefined;
    }, 30_000);
    expect(stored).toEqual(Array.from({ length: 50 }, (_, i) => BASE + i));
    expect(await again.stop("SIGTERM")).toBe(0);
  });
});

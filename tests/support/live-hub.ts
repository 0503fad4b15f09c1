// The real hub in this process (embedded mode: aedes and SQLite in a temp dir, free loopback
// ports) with one MQTT device connection that publishes fixes for any vehicle, as the simulator's
// anonymous agents do on loopback: what the map's browser tests and the screenshot run against.

import fs from "node:fs";
import mqtt from "mqtt";
import pino from "pino";
import { loadConfig } from "../../hub/src/config.ts";
import { type Hub, startHub } from "../../hub/src/hub.ts";
import { api, TEST_TOKEN, tempDir } from "./hub-process.ts";

export interface FixInput {
  latitude: number;
  longitude: number;
  heading?: number;
  speed?: number;
  /** Default: now, so the vehicle is not stale. */
  ts?: string;
}

export interface LiveHub {
  hub: Hub;
  httpUrl: string;
  token: string;
  /** Publishes one fix at QoS 1 and resolves once the hub acknowledged (so stored) it. */
  publish(vehicleId: string, fix: FixInput): Promise<void>;
  api(method: string, route: string, body?: unknown, token?: string): ReturnType<typeof api>;
  /** Issues a token of role `read` and returns it. */
  readToken(name?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLiveHub(env: Record<string, string> = {}): Promise<LiveHub> {
  const dataDir = tempDir("locus-map-");
  const config = loadConfig({
    LOCUS_DATA_DIR: dataDir,
    LOCUS_HTTP_HOST: "127.0.0.1",
    LOCUS_HTTP_PORT: "0",
    LOCUS_MQTT_HOST: "127.0.0.1",
    LOCUS_MQTT_PORT: "0",
    LOCUS_API_TOKEN: TEST_TOKEN,
    LOCUS_OUTBOX_GRACE_MS: "0",
    LOCUS_LOG_LEVEL: "warn",
    ...env,
  });
  const hub = await startHub(config, pino({ level: "warn" }));
  let device: mqtt.MqttClient;
  try {
    device = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: `map-test-${process.pid}`,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
  } catch (err) {
    await hub.close();
    throw err;
  }
  const seqs = new Map<string, number>();
  const http = { httpUrl: hub.httpUrl, token: hub.token };
  return {
    hub,
    httpUrl: hub.httpUrl,
    token: hub.token,
    async publish(vehicleId, fix) {
      const seq = (seqs.get(vehicleId) ?? 0) + 1;
      seqs.set(vehicleId, seq);
      const payload = { ts: new Date().toISOString(), seq, ...fix };
      await device.publishAsync(`locus/vehicles/${vehicleId}/location`, JSON.stringify(payload), {
        qos: 1,
      });
    },
    api: (method, route, body, token) =>
      api({ httpUrl: hub.httpUrl, token: token ?? hub.token }, method, route, body),
    async readToken(name = "viewer") {
      const res = await api(http, "POST", "/api/v1/tokens", { name, role: "read" });
      if (res.status !== 201) throw new Error(`issuing a read token: ${JSON.stringify(res)}`);
      return res.body.token as string;
    },
    async close() {
      await device.endAsync(true).catch(() => {});
      await hub.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

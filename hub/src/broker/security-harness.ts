// A real embedded broker for the security suites: aedes on a free 127.0.0.1 port, the hub's real
// receiver, group commit and SQLite store behind it, and a few MQTT accounts kept in the test.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import pino from "pino";
import { waitFor } from "../../../tests/support/hub-process.ts";
import { GeofenceEngine } from "../geofence/engine.ts";
import { DEFAULT_JUDGE_OPTIONS } from "../geofence/membership.ts";
import { MemoryFenceIndex } from "../geofence/memory-index.ts";
import type { MqttRefusal } from "../identity/access.ts";
import type { MqttAuthenticator, Principal } from "../identity/principal.ts";
import { IngestPipeline } from "../ingest/pipeline.ts";
import { Receiver } from "../ingest/receiver.ts";
import { createMetrics, type HubMetrics } from "../metrics.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { EmbeddedBroker, type EmbeddedBrokerOptions } from "./embedded.ts";

/** The accounts the suites log in with: username → password and principal. */
export const ACCOUNTS: ReadonlyMap<string, { password: string; principal: Principal }> = new Map([
  ["truck-1", { password: "pw-truck-1", principal: { kind: "vehicle", id: "truck-1" } }],
  ["truck-2", { password: "pw-truck-2", principal: { kind: "vehicle", id: "truck-2" } }],
  [
    "dispatch",
    { password: "pw-dispatch", principal: { kind: "client", name: "dispatch", role: "events" } },
  ],
  ["map", { password: "pw-map", principal: { kind: "client", name: "map", role: "observer" } }],
]);

/** Who connects: an account's username, or nobody in particular. */
export type Who = "truck-1" | "truck-2" | "dispatch" | "map" | "anonymous";

export interface SecuredBroker {
  broker: EmbeddedBroker;
  store: SqliteStore;
  /** The accounts' passwords as the authenticator checks them now (a test may change one). */
  passwords: Map<string, string>;
  /** How many refusals of this reason locus_mqtt_refused_total counted so far. */
  refused(reason: MqttRefusal): Promise<number>;
  /** An mqtt.js client logged in as `who` (MQTT 3.1.1), closed with the broker. */
  connect(who: Who, options?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

let nextClient = 0;

export async function openSecuredBroker(
  options: Pick<EmbeddedBrokerOptions, "allowAnonymous" | "retainedLimits" | "tls"> & {
    port?: number;
  },
): Promise<SecuredBroker> {
  const logger = pino({ level: "silent" });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-security-"));
  const store = new SqliteStore(path.join(dir, "locus.db"), { synchronous: "normal" });
  const engine = new GeofenceEngine(new MemoryFenceIndex(), DEFAULT_JUDGE_OPTIONS);
  await engine.load([], await store.vehicleStates());
  const metrics: HubMetrics = createMetrics({
    outboxDepth: () => store.outboxDepth(),
    connectedDevices: () => 0,
  });
  const pipeline = new IngestPipeline({ store, engine, metrics, onEvents: () => {} });
  const receiver = new Receiver({ pipeline, store, metrics, logger, maxPayloadBytes: 256 * 1024 });
  const passwords = new Map([...ACCOUNTS].map(([name, a]) => [name, a.password]));
  const authenticate: MqttAuthenticator = async (username, password) => {
    const expected = passwords.get(username);
    if (expected === undefined || password.toString() !== expected) return null;
    return ACCOUNTS.get(username)?.principal ?? null;
  };
  const broker = await EmbeddedBroker.start({
    host: "127.0.0.1",
    port: 0,
    receiver,
    logger,
    authenticate,
    onRefused: (reason) => metrics.mqttRefused.inc({ reason }),
    ...options,
  }).catch(async (err) => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const clients: MqttClient[] = [];
  return {
    broker,
    store,
    passwords,
    async refused(reason) {
      const { values } = await metrics.mqttRefused.get();
      return values.find((v) => v.labels.reason === reason)?.value ?? 0;
    },
    async connect(who, extra = {}) {
      const client = await mqtt.connectAsync(broker.url, {
        ...credentials(who),
        clientId: `${who}-${process.pid}-${nextClient++}`,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
        ...extra,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await broker.close();
      await pipeline.flush();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The username and password `who` logs in with (none for anonymous). */
export function credentials(who: Who): { username?: string; password?: string } {
  if (who === "anonymous") return {};
  return { username: who, password: ACCOUNTS.get(who)?.password };
}

/** Every message a client receives, in order, and a wait for one of them. */
export class Inbox {
  readonly messages: { topic: string; payload: string; retain: boolean }[] = [];

  constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    });
  }

  /** Resolves with the messages received before the first carrying `payload` on `topic`. */
  async until(topic: string, payload: string): Promise<Inbox["messages"]> {
    const at = await waitFor(
      () => {
        const i = this.messages.findIndex((m) => m.topic === topic && m.payload === payload);
        return i >= 0 ? i : undefined;
      },
      20_000,
      `${payload} on ${topic}`,
    );
    return this.messages.slice(0, at);
  }
}

/** Runs a command line client; resolves with its exit code and output, never rejects. */
export async function runClient(
  program: "mosquitto_pub" | "mosquitto_sub",
  args: string[],
): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(program, args, { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, out: `${e.stdout}${e.stderr}` };
  }
}

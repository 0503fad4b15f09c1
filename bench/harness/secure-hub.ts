// The embedded hub with device authentication on: anonymous clients refused, every publisher a
// vehicle registered over REST with its own password, and with a certificate MQTT over TLS too.
// The geofences are the benchmark's, as in scenario 2; events go to an `events` client account.

import fs from "node:fs";
import { EVENTS_TOPIC } from "@locus/protocol";
import mqtt from "mqtt";
import { freePort, type HubProcess, tempDir } from "../../tests/support/hub-process.ts";
import type { TestPki } from "../../tests/support/tls.ts";
import type { BenchContext } from "./context.ts";
import { seedSqlite } from "./fences.ts";
import { hubMetrics, startBenchHub } from "./hub.ts";
import type { Credentials } from "./load-plan.ts";
import { type HubEndpoint, hubJson } from "./rest.ts";

export interface SecureHub {
  hub: HubProcess;
  /** Its REST API (https with the test CA when it has a certificate). */
  endpoint: HubEndpoint;
  /** mqtts://… when it has a certificate, else null. */
  tlsUrl: string | null;
  /** Events the `events` client received so far. */
  events(): number;
  /** Registers these vehicles over REST; the credentials issued to each, in order. */
  register(ids: readonly string[]): Promise<Credentials[]>;
  /** MQTT logins, publishes and subscriptions refused since the start (every reason). */
  refusals(): Promise<number>;
  stop(): Promise<void>;
}

/** What POST /api/v1/vehicles and /api/v1/clients answer, as far as read here. */
interface Issued {
  mqtt: Credentials;
}

/** Registers vehicles a few at a time: each costs the hub a scrypt hash. */
async function registerAll(endpoint: HubEndpoint, ids: readonly string[]): Promise<Credentials[]> {
  const out: Credentials[] = [];
  for (let first = 0; first < ids.length; first += 8) {
    const batch = await Promise.all(
      ids.slice(first, first + 8).map(async (id) => {
        const body = await hubJson<Issued>(endpoint, "POST", "/api/v1/vehicles", { id }, 201);
        return body.mqtt;
      }),
    );
    out.push(...batch);
  }
  return out;
}

/**
 * Starts the hub with LOCUS_MQTT_ALLOW_ANONYMOUS=false (and LOCUS_TLS_CERT/KEY from `pki`) and
 * subscribes an `events` client to the geofence events.
 */
export async function startSecureHub(ctx: BenchContext, pki: TestPki | null): Promise<SecureHub> {
  const dataDir = tempDir("locus-bench-identity-");
  await seedSqlite(dataDir, ctx.fences().fences);
  const env: Record<string, string> = {
    LOCUS_MQTT_HOST: "127.0.0.1",
    LOCUS_MQTT_ALLOW_ANONYMOUS: "false",
  };
  if (pki !== null) {
    env.LOCUS_TLS_CERT = pki.server.certFile;
    env.LOCUS_TLS_KEY = pki.server.keyFile;
    env.LOCUS_MQTT_TLS_PORT = String(await freePort());
  }
  let hub: HubProcess;
  try {
    hub = await startBenchHub({ dataDir, env, nodeArgs: ctx.hubNodeArgs() });
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let subscriber: mqtt.MqttClient | null = null;
  const stop = async () => {
    await subscriber?.endAsync(true);
    await hub.stop("SIGTERM");
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const endpoint: HubEndpoint = {
      httpUrl: hub.httpUrl,
      token: hub.token,
      ...(pki === null ? {} : { ca: pki.ca.certPem }),
    };
    const tlsUrl = /mqtts: (\S+)/.exec(hub.output())?.[1] ?? null;
    if (pki !== null && tlsUrl === null) throw new Error("the hub did not announce mqtts");
    const client = await hubJson<Issued>(
      endpoint,
      "POST",
      "/api/v1/clients",
      { name: "bench-events", role: "events" },
      201,
    );
    subscriber = await mqtt.connectAsync(hub.mqttUrl, {
      clientId: "bench-events",
      reconnectPeriod: 0,
      username: client.mqtt.username,
      password: client.mqtt.password,
    });
    let events = 0;
    subscriber.on("message", () => {
      events++;
    });
    const granted = await subscriber.subscribeAsync(EVENTS_TOPIC, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) throw new Error("the events client was refused");
    return {
      hub,
      endpoint,
      tlsUrl,
      events: () => events,
      register: (ids) => registerAll(endpoint, ids),
      async refusals() {
        let n = 0;
        for (const [k, v] of await hubMetrics(endpoint)) {
          if (k.startsWith("locus_mqtt_refused_total")) n += v;
        }
        return n;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Wires the hub's parts together: store, geofence engine, group commit, outbox, broker, REST API.

import path from "node:path";
import type { FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { buildApi } from "./api/app.ts";
import type { HealthReport } from "./api/deps.ts";
import { EmbeddedBroker } from "./broker/embedded.ts";
import { ConfigError, type HubConfig } from "./config.ts";
import { ensureDataDir, resolveApiToken } from "./data-dir.ts";
import { FenceCatalogue } from "./geofence/catalogue.ts";
import { MemoryFenceIndex } from "./geofence/memory-index.ts";
import { Detector } from "./ingest/detector.ts";
import { IngestPipeline } from "./ingest/pipeline.ts";
import { Receiver } from "./ingest/receiver.ts";
import { createMetrics } from "./metrics.ts";
import { OutboxPublisher } from "./outbox/publisher.ts";
import { SqliteStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";

/** The vertex cap of CONTRACT §5. */
export const MAX_VERTICES = 100_000;

export interface Hub {
  httpUrl: string;
  mqttUrl: string;
  token: string;
  /** Where the token came from: LOCUS_API_TOKEN, the data dir, or generated now. */
  tokenSource: "env" | "file" | "generated";
  tokenFile: string | null;
  store: Store;
  logger: Logger;
  /** Stops accepting, commits and acknowledges what is in flight, publishes the outbox, closes. */
  close(): Promise<void>;
}

function portTaken(err: unknown, setting: string, host: string, port: number): unknown {
  if ((err as NodeJS.ErrnoException)?.code === "EADDRINUSE") {
    return new ConfigError(setting, `port ${port} on ${host} is already in use`);
  }
  if ((err as NodeJS.ErrnoException)?.code === "EADDRNOTAVAIL") {
    return new ConfigError(setting, `cannot listen on ${host}: no such local address`);
  }
  return err;
}

function httpUrlOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Starts an embedded hub. Throws ConfigError for a problem the operator must fix. */
export async function startHub(config: HubConfig, logger?: Logger): Promise<Hub> {
  const log = logger ?? pino({ level: config.logLevel });
  if (config.databaseUrl !== null) {
    throw new ConfigError(
      "LOCUS_DATABASE_URL",
      "PostgreSQL/PostGIS mode is not available in this build yet; unset it to use the embedded SQLite store",
    );
  }
  if (config.mqttUrl !== null) {
    throw new ConfigError(
      "LOCUS_MQTT_URL",
      "an external broker is not supported in this build yet; unset it to use the embedded broker",
    );
  }
  ensureDataDir(config.dataDir);
  const token = resolveApiToken(config.apiToken, config.dataDir);

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const store = openSqlite(config);
    cleanups.push(() => store.close());

    const fences = new FenceCatalogue(new MemoryFenceIndex());
    for (const record of await store.allGeofences()) await fences.upsert(record);
    const detector = new Detector(await store.vehicleStates(), fences, {
      defaultMaxAccuracyM: config.maxAccuracyM,
    });

    let broker: EmbeddedBroker | null = null;
    const metrics = createMetrics({
      outboxDepth: () => store.outboxDepth(),
      connectedDevices: () => broker?.connectedClients ?? 0,
    });
    const publisher = new OutboxPublisher({
      store,
      publish: (topic, payload) => {
        if (broker === null || broker.closed) return Promise.reject(new Error("broker is closed"));
        return broker.publish(topic, payload);
      },
      onError: (err) => log.warn({ err: err.message }, "event publication failed; will retry"),
    });
    const pipeline = new IngestPipeline({
      store,
      fences,
      detector,
      metrics,
      onEvents: (events) => publisher.enqueue(events),
      maxFixesPerCommit: config.groupCommitMaxFixes,
    });
    const receiver = new Receiver({
      pipeline,
      store,
      metrics,
      logger: log,
      maxPayloadBytes: config.maxPayloadBytes,
    });

    const { host: mqttHost, port: mqttPort } = config.mqtt;
    const started = await EmbeddedBroker.start({
      host: mqttHost,
      port: mqttPort,
      receiver,
      logger: log,
    }).catch((err) => {
      throw portTaken(err, "LOCUS_MQTT_PORT", mqttHost, mqttPort);
    });
    broker = started;
    cleanups.push(() => started.close());
    publisher.start(config.outboxGraceMs);
    cleanups.push(() => publisher.stop());

    const health = async (): Promise<HealthReport> => {
      const checks: Record<string, string> = {};
      checks.broker = started.closed ? "closed" : "ok";
      try {
        await store.ping();
        checks.store = "ok";
      } catch (err) {
        checks.store = err instanceof Error ? err.message : String(err);
      }
      return { ok: Object.values(checks).every((c) => c === "ok"), checks };
    };
    const api: FastifyInstance = await buildApi(
      {
        store,
        fences,
        token: token.token,
        metrics: metrics.registry,
        health,
        bodyLimitBytes: config.http.bodyLimitBytes,
        maxVertices: MAX_VERTICES,
      },
      { logger: log },
    );
    cleanups.push(() => api.close());
    const { host: httpHost, port: httpPort } = config.http;
    await api.listen({ host: httpHost, port: httpPort }).catch((err) => {
      throw portTaken(err, "LOCUS_HTTP_PORT", httpHost, httpPort);
    });
    const address = api.server.address();
    const boundHttpPort = typeof address === "object" && address ? address.port : httpPort;

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        started.stopAccepting();
        await pipeline.flush();
        await publisher.drain();
        await publisher.stop();
        await started.close();
        await pipeline.flush();
        await api.close();
        await store.close();
      })();
      return closing;
    };
    return {
      httpUrl: httpUrlOf(httpHost, boundHttpPort),
      mqttUrl: started.url,
      token: token.token,
      tokenSource: token.source,
      tokenFile: token.file,
      store,
      logger: log,
      close,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function openSqlite(config: HubConfig): SqliteStore {
  const file = path.join(config.dataDir, "locus.db");
  try {
    return new SqliteStore(file, { synchronous: config.sqliteSynchronous });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError("LOCUS_DATA_DIR", `cannot open ${file}: ${message}`);
  }
}

// Wires the hub's parts together: store, geofence engine, group commit, outbox, broker, REST API.
// Embedded (SQLite, aedes) or production (PostgreSQL/PostGIS, Mosquitto), in any combination.

import path from "node:path";
import {
  EVENTS_TOPIC,
  parseStatusTopic,
  parseVehicleStatus,
  redactUrl,
  STATUS_TOPIC_FILTER,
} from "@locus/protocol";
import type { FastifyInstance } from "fastify";
import pino, { type Logger } from "pino";
import { buildApi } from "./api/app.ts";
import type { HealthReport } from "./api/deps.ts";
import { LiveFences } from "./api/live-fences.ts";
import { buildOsmAndServer } from "./api/osmand-server.ts";
import type { Broker } from "./broker/broker.ts";
import { type OpenedBrokerAccounts, openBrokerAccounts } from "./broker/broker-accounts-factory.ts";
import { type BrokerBridge, BrokerListenError, EmbeddedBroker } from "./broker/embedded.ts";
import { EmbeddedBrokerAccounts } from "./broker/embedded-accounts.ts";
import { BrokerConnectError, ExternalBroker } from "./broker/external.ts";
import { Cluster, type ClusterOptions } from "./cluster/cluster.ts";
import { EngineLinkError } from "./cluster/engine-link.ts";
import { ConfigError, type HubConfig } from "./config.ts";
import { ensureDataDir, resolveApiToken } from "./data-dir.ts";
import { GeofenceEngine } from "./geofence/engine.ts";
import type { FenceIndex } from "./geofence/fence-index.ts";
import { FenceSync } from "./geofence/fence-sync.ts";
import { MemoryFenceIndex } from "./geofence/memory-index.ts";
import { PostgisFenceIndex } from "./geofence/postgis-index.ts";
import { AccountService } from "./identity/accounts.ts";
import { LoginLinks } from "./identity/login-links.ts";
import type { MqttAuthenticator } from "./identity/principal.ts";
import { DeviceFixes } from "./ingest/device-fixes.ts";
import { IngestPipeline } from "./ingest/pipeline.ts";
import { Receiver } from "./ingest/receiver.ts";
import { LiveFeed } from "./live/feed.ts";
import { createMetrics, type HubMetrics, streamMetrics } from "./metrics.ts";
import { OutboxPublisher } from "./outbox/publisher.ts";
import { openPostgresStore, type PostgresStore } from "./store/postgres.ts";
import { GeofenceChangeListener } from "./store/postgres-geofence-changes.ts";
import { RetentionScheduler } from "./store/retention.ts";
import { SqliteStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";
import { WebhookDispatcher } from "./webhooks/dispatcher.ts";

/** The vertex cap of CONTRACT §5. */
export const MAX_VERTICES = 100_000;

/** What a live stream client may be owed besides fixes before it is disconnected as too slow. */
const STREAM_QUEUE = { maxQueuedMessages: 1000, maxQueuedBytes: 16 * 1024 * 1024 };

export interface Hub {
  httpUrl: string;
  mqttUrl: string;
  /** Where devices connect over TLS (the embedded broker with LOCUS_TLS_CERT), else null. */
  mqttTlsUrl: string | null;
  /** Where the OsmAnd protocol is served at `/` (LOCUS_OSMAND_PORT), else null. */
  osmandUrl: string | null;
  token: string;
  /** Where the token came from: LOCUS_API_TOKEN, the data dir, or generated now. */
  tokenSource: "env" | "file" | "generated";
  tokenFile: string | null;
  /** A one-time link into the map (`…/#login=CODE`) that needs no copying of the token. */
  loginLink(): string;
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

/** The URL a listening server answers on (its bound port, for port 0). */
function boundUrl(server: FastifyInstance, scheme: "http" | "https", host: string): string {
  const address = server.server.address();
  return httpUrlOf(scheme, host, typeof address === "object" && address ? address.port : 0);
}

function httpUrlOf(scheme: "http" | "https", host: string, port: number): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Starts the hub. Throws ConfigError for a problem the operator must fix. */
export async function startHub(config: HubConfig, logger?: Logger): Promise<Hub> {
  const log = logger ?? pino({ level: config.logLevel });
  ensureDataDir(config.dataDir);
  const token = resolveApiToken(config.apiToken, config.dataDir);

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const { store, pool } = await openStore(config);
    cleanups.push(() => store.close());

    const engine = new GeofenceEngine(fenceIndex(config, pool), {
      defaultMaxAccuracyM: config.maxAccuracyM,
      crossingMaxGapMs: config.crossingMaxGapMs,
    });
    let broker: Broker | null = null;
    // With several hubs (LOCUS_ENGINE_URL), events and fixes committed by any hub reach every
    // hub's subscribers through the engine; set below, before any fix is taken.
    let cluster: Cluster | null = null;
    const metrics = createMetrics({
      outboxDepth: () => store.outboxDepth(),
      connectedDevices: () => broker?.connectedClients ?? 0,
      // Read at scrapes only, once the dispatcher below exists.
      webhooks: () => dispatcher.lag(),
      partitionsHeld: () => cluster?.held().size ?? 0,
      mqttRelaySubjects: () => cluster?.devices.subjects.length ?? 0,
    });
    // Webhooks read the outbox by their own cursors: a slow endpoint holds up only its own.
    const dispatcher = new WebhookDispatcher({
      store,
      settings: config.webhooks,
      // Hubs sharing PostgreSQL take turns per webhook under their own MQTT client ids.
      owner: config.mqtt.clientId,
      metrics,
      logger: log,
    });
    // The live stream (GET /api/v1/stream) is told of every committed fix, event, geofence
    // change and status; it never holds up what tells it.
    const feed = new LiveFeed({ onCoalesced: (n) => metrics.streamFixesCoalesced.inc(n) });
    // Geofence changes reach the engine and the stream one way, whether made through this hub's
    // API or announced by PostgreSQL after another hub made them. The listener starts before the
    // catalogue is read, so nothing written meanwhile is missed.
    // With several hubs, memberships are read from the store (see LiveFences).
    const insideFromStore = config.engine !== null ? store.vehiclesInside?.bind(store) : undefined;
    const fences = new LiveFences(engine, feed, insideFromStore ?? null);
    const sync = new FenceSync({
      store,
      fences,
      onApplied: (op) => metrics.geofenceNotifications.inc({ op }),
      onError: (err) => log.warn({ err: err.message }, "applying a geofence change failed"),
    });
    const changes = await listenForGeofenceChanges(config, sync, log);
    cleanups.push(() => changes?.close());
    const records = await store.allGeofences();
    await engine.load(
      records,
      store.versionedStates ? await store.versionedStates() : await store.vehicleStates(),
    );
    fences.loaded(records);
    sync.start();

    const toBroker = (topic: string, payload: string) => {
      if (broker === null || broker.state === "closed") {
        return Promise.reject(new Error("broker is closed"));
      }
      return broker.publish(topic, payload);
    };
    const publisher = new OutboxPublisher({
      store,
      // With several hubs, to the engine: every hub's broker gets it from there (onEvent below).
      publish: (topic, payload, id) =>
        cluster === null ? toBroker(topic, payload) : cluster.publishEvent(payload, id),
      onError: (err) => log.warn({ err: err.message }, "event publication failed; will retry"),
    });
    const pipeline = new IngestPipeline({
      store,
      engine,
      metrics,
      onEvents: (events) => {
        publisher.enqueue(events);
        dispatcher.notify(events);
        if (cluster === null) feed.publishEvents(events.map((e) => e.event));
      },
      onFixes: (fixes) => {
        if (cluster === null) feed.publishFixes(fixes);
        else cluster.publishFixes(fixes);
      },
      maxFixesPerCommit: config.groupCommitMaxFixes,
    });
    // MQTT accounts (CONTRACT §3): the embedded broker checks logins against them; the broker's
    // side (cutting sessions, or Mosquitto's own copy) is attached once the broker runs.
    const accounts = new AccountService({ store });
    if (config.engine !== null) {
      cluster = await startCluster(config, pipeline, store, log, metrics, {
        onEvent: (payload, event) => {
          feed.publishEvents([event]);
          toBroker(EVENTS_TOPIC, payload).catch((err: Error) =>
            log.warn({ err: err.message }, "could not publish a relayed event"),
          );
        },
        onFixes: (fixes) => feed.publishFixes(fixes),
        onDeviceMessage: (topic, payload, retain) => {
          // Another hub's device went online or offline: this hub's live stream says so too.
          const vehicleId = parseStatusTopic(topic);
          const status = vehicleId === null ? null : parseVehicleStatus(payload);
          if (vehicleId !== null && status !== null) feed.publishStatus(vehicleId, status);
          if (broker instanceof EmbeddedBroker) broker.deliver(topic, payload, retain);
        },
        forgetLogins: (username) => accounts.forgetLogins(username),
      });
      const started = cluster;
      cleanups.push(() => started.close());
      // Statuses of every hub's devices, for this hub's live stream (and retained here).
      started.devices.interest(STATUS_TOPIC_FILTER, true);
    }
    // Where received fixes go: this hub's group commit, or their partition on the engine.
    const sink = cluster?.forwarder ?? pipeline;
    const receiver = new Receiver({
      pipeline: sink,
      store,
      metrics,
      logger: log,
      maxPayloadBytes: config.maxPayloadBytes,
      maxFutureMs: config.maxFutureMs,
      onStatus: (vehicleId, status) => feed.publishStatus(vehicleId, status),
    });

    const started = await openBroker(
      config,
      receiver,
      log,
      metrics,
      accounts.authenticate,
      cluster?.devices,
    );
    broker = started;
    cleanups.push(() => started.close());
    let externalAccounts: { close(): Promise<void> } | null = null;
    if (started instanceof EmbeddedBroker) {
      const local = new EmbeddedBrokerAccounts(started);
      accounts.useBroker(cluster === null ? local : cluster.accountsAcrossHubs(local));
    } else {
      // An external broker keeps accounts in its dynamic security plugin while the hub can
      // manage it; one it cannot manage still carries fixes, and issuing credentials answers 501.
      const external = await openExternalAccounts(config);
      if (external.accounts !== null) {
        externalAccounts = external.accounts;
        cleanups.push(() => external.accounts.close());
        accounts.useBroker(external.accounts);
      } else {
        accounts.brokerCannotHoldAccounts(external.unmanaged);
        log.warn({ reason: external.unmanaged }, "MQTT accounts are not managed by the hub");
      }
    }
    publisher.start(config.outboxGraceMs);
    cleanups.push(() => publisher.stop());
    await dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    const retention =
      config.retentionMs === null
        ? null
        : new RetentionScheduler({
            store,
            retentionMs: config.retentionMs,
            logger: log,
            onDeleted: (rows) => metrics.retentionDeleted.inc(rows),
          });
    retention?.start();
    cleanups.push(() => retention?.stop());

    const health = async (): Promise<HealthReport> => {
      const checks: Record<string, string> = {};
      checks.broker = started.state;
      if (cluster !== null) {
        checks.engine = cluster.connected ? "ok" : "reconnecting to the engine";
      }
      try {
        await store.ping();
        checks.store = "ok";
      } catch (err) {
        checks.store = err instanceof Error ? err.message : String(err);
      }
      // A store that answers but cannot commit (a full disk) takes no fixes: not healthy.
      checks.ingest = pipeline.failure === null ? "ok" : `commits failing: ${pipeline.failure}`;
      return { ok: Object.values(checks).every((c) => c === "ok"), checks };
    };
    const loginLinks = new LoginLinks();
    // Phones, trackers and imports (CONTRACT §5, §9) go through the same pipeline.
    const devices = new DeviceFixes({
      pipeline: sink,
      metrics,
      allowAnonymous: config.mqtt.allowAnonymous,
      maxFutureMs: config.maxFutureMs,
    });
    const api: FastifyInstance = await buildApi(
      {
        store,
        fences,
        token: token.token,
        accounts,
        loginLinks,
        metrics: metrics.registry,
        health,
        bodyLimitBytes: config.http.bodyLimitBytes,
        maxVertices: MAX_VERTICES,
        mapStyleUrl: config.mapStyleUrl,
        stream: {
          feed,
          limits: { ...config.stream, ...STREAM_QUEUE },
          authTimeoutMs: config.stream.authTimeoutMs,
          metrics: streamMetrics(metrics),
        },
        devices,
        webhooks: dispatcher,
      },
      { logger: log, https: config.tls },
    );
    cleanups.push(() => api.close());
    const { host: httpHost, port: httpPort } = config.http;
    await api.listen({ host: httpHost, port: httpPort }).catch((err) => {
      throw portTaken(err, "LOCUS_HTTP_PORT", httpHost, httpPort);
    });
    const address = api.server.address();
    const boundHttpPort = typeof address === "object" && address ? address.port : httpPort;
    let osmand: FastifyInstance | null = null;
    if (config.osmandPort !== null) {
      const server = await buildOsmAndServer(
        { store, accounts, devices },
        { logger: log, https: config.tls },
      );
      osmand = server;
      cleanups.push(() => server.close());
      const osmandPort = config.osmandPort;
      await server.listen({ host: httpHost, port: osmandPort }).catch((err) => {
        throw portTaken(err, "LOCUS_OSMAND_PORT", httpHost, osmandPort);
      });
    }

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        started.stopAccepting();
        // Every message taken before this is committed and acknowledged below, before the
        // broker closes; later ones are left to be sent again.
        receiver.stop();
        await retention?.stop();
        // With several hubs: forwarding ends, then each partition is given back once what this
        // hub took from it is committed, so the other hubs take over at once.
        await cluster?.stopForwarding();
        await cluster?.releasePartitions();
        await pipeline.flush();
        await publisher.drain();
        await publisher.stop();
        // Attempts under way are cut short; each webhook's cursor stays after its last delivered
        // event, so nothing is lost, and the rest goes out after the next start.
        await dispatcher.stop();
        await externalAccounts?.close();
        await started.close();
        // HTTP devices and imports submit fixes too: their answers wait for the commit, so the
        // HTTP side closes (finishing what it took) before the last flush.
        await osmand?.close();
        await api.close();
        await changes?.close();
        await sync.idle();
        await pipeline.flush();
        await cluster?.close();
        await store.close();
      })();
      return closing;
    };
    const httpUrl = httpUrlOf(config.tls ? "https" : "http", httpHost, boundHttpPort);
    return {
      httpUrl,
      mqttUrl: started.url,
      mqttTlsUrl: started instanceof EmbeddedBroker ? started.tlsUrl : null,
      osmandUrl: osmand === null ? null : boundUrl(osmand, config.tls ? "https" : "http", httpHost),
      token: token.token,
      tokenSource: token.source,
      tokenFile: token.file,
      loginLink: () => `${httpUrl}/#login=${loginLinks.issue()}`,
      store,
      logger: log,
      close,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The store LOCUS_DATABASE_URL selects: PostgreSQL (with its pool, for PostGIS) or SQLite. */
async function openStore(
  config: HubConfig,
): Promise<{ store: Store; pool: PostgresStore["pool"] | null }> {
  if (config.databaseUrl !== null) {
    try {
      const store = await openPostgresStore(config.databaseUrl);
      return { store, pool: store.pool };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ConfigError(
        "LOCUS_DATABASE_URL",
        `cannot open the database at ${redactUrl(config.databaseUrl)}: ${message}`,
      );
    }
  }
  const file = path.join(config.dataDir, "locus.db");
  try {
    return { store: new SqliteStore(file, { synchronous: config.sqliteSynchronous }), pool: null };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError("LOCUS_DATA_DIR", `cannot open ${file}: ${message}`);
  }
}

/** With PostgreSQL, the connection that hears geofence changes (this hub's and other hubs'). */
async function listenForGeofenceChanges(
  config: HubConfig,
  sync: FenceSync,
  log: Logger,
): Promise<GeofenceChangeListener | null> {
  if (config.databaseUrl === null) return null;
  try {
    return await GeofenceChangeListener.start(config.databaseUrl, {
      change: (change) => sync.change(change),
      reconnected: () => sync.resync(),
      lost: (err) =>
        log.warn(
          { err: err.message },
          "geofence change listener lost its connection; reconnecting",
        ),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      "LOCUS_DATABASE_URL",
      `cannot listen for geofence changes at ${redactUrl(config.databaseUrl)}: ${message}`,
    );
  }
}

/** Joins the hubs sharing the fleet through the engine (LOCUS_ENGINE_URL). */
async function startCluster(
  config: HubConfig,
  pipeline: IngestPipeline,
  store: Store,
  log: Logger,
  metrics: HubMetrics,
  relay: Pick<ClusterOptions, "onEvent" | "onFixes" | "onDeviceMessage" | "forgetLogins">,
): Promise<Cluster> {
  const engine = config.engine as NonNullable<HubConfig["engine"]>;
  try {
    return await Cluster.start({
      settings: { ...engine, name: config.mqtt.clientId },
      pipeline,
      store,
      ...relay,
      onForwarded: (fixes, duplicate) =>
        metrics.engineFixesForwarded.inc({ duplicate: String(duplicate) }, fixes),
      onTaken: (partition, token) => log.info({ partition, token }, "took a partition"),
      onDropped: (partition) => log.info({ partition }, "gave up a partition"),
      onError: (err, context) => log.warn({ err: err.message, context }, "engine"),
      onNotice: (message) => log.warn(message),
    });
  } catch (err) {
    if (err instanceof EngineLinkError) throw new ConfigError("LOCUS_ENGINE_URL", err.message);
    throw err;
  }
}

/** LOCUS_GEOFENCE_EVAL: PostGIS queries on the store's pool, or the in-memory index. */
function fenceIndex(config: HubConfig, pool: PostgresStore["pool"] | null): FenceIndex {
  if (config.geofenceEval === "postgis") {
    if (pool === null) {
      throw new ConfigError("LOCUS_GEOFENCE_EVAL", "postgis needs PostgreSQL (LOCUS_DATABASE_URL)");
    }
    return new PostgisFenceIndex(pool, { storeWrites: true });
  }
  return new MemoryFenceIndex();
}

/** The external broker's account management (Mosquitto's dynamic security), or why there is none. */
function openExternalAccounts(config: HubConfig): Promise<OpenedBrokerAccounts> {
  const { mqtt } = config;
  return openBrokerAccounts(
    {
      url: config.mqttUrl as string,
      username: mqtt.username,
      password: mqtt.password,
      clientId: mqtt.clientId,
    },
    { allowAnonymous: mqtt.allowAnonymous },
  );
}

/** LOCUS_MQTT_URL: a client of that broker; unset: the embedded broker on LOCUS_MQTT_HOST/PORT. */
async function openBroker(
  config: HubConfig,
  receiver: Receiver,
  log: Logger,
  metrics: HubMetrics,
  /** Checks MQTT credentials on the embedded broker. */
  authenticate: MqttAuthenticator,
  /** With several hubs: MQTT across hubs. */
  bridge?: BrokerBridge,
): Promise<Broker> {
  const { mqtt } = config;
  if (config.mqttUrl !== null) {
    return ExternalBroker.start({
      url: config.mqttUrl,
      username: mqtt.username,
      password: mqtt.password,
      clientId: mqtt.clientId,
      sessionExpirySeconds: mqtt.sessionExpirySeconds,
      receiveMaximum: mqtt.receiveMaximum,
      receiver,
      logger: log,
    }).catch((err) => {
      if (!(err instanceof BrokerConnectError)) throw err;
      const setting = err.reason === "unreachable" ? "LOCUS_MQTT_URL" : "LOCUS_MQTT_USERNAME";
      throw new ConfigError(setting, err.message);
    });
  }
  return EmbeddedBroker.start({
    host: mqtt.host,
    port: mqtt.port,
    receiver,
    logger: log,
    authenticate,
    allowAnonymous: mqtt.allowAnonymous,
    ...(config.tls !== null ? { tls: { ...config.tls, port: mqtt.tlsPort } } : {}),
    retainedLimits: { maxMessages: mqtt.maxRetainedMessages, maxBytes: mqtt.maxRetainedBytes },
    onRefused: (reason) => metrics.mqttRefused.inc({ reason }),
    limits: config.mqttLimits,
    onLimited: (reason) => metrics.mqttLimited.inc({ reason }),
    ...(bridge !== undefined ? { bridge } : {}),
  }).catch((err) => {
    if (err instanceof BrokerListenError && err.listener === "mqtts") {
      throw portTaken(err, "LOCUS_MQTT_TLS_PORT", mqtt.host, err.port);
    }
    throw portTaken(err, "LOCUS_MQTT_PORT", mqtt.host, mqtt.port);
  });
}

// The hub's configuration: read once from the environment at start-up into a typed, checked object.

import path from "node:path";
import { DEFAULT_MQTT_LIMITS, type MqttLimits } from "./broker/limits.ts";
import { DEFAULT_PARTITIONS } from "./cluster/partition.ts";
import { loadTlsCredentials, type TlsCredentials, TlsSettingError } from "./tls.ts";
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings } from "./webhooks/dispatcher.ts";

export interface HubConfig {
  http: { host: string; port: number; bodyLimitBytes: number };
  /** LOCUS_OSMAND_PORT: where the OsmAnd protocol is also served at `/` (CONTRACT §9); null: not. */
  osmandPort: number | null;
  /** Set: an external broker (production). Unset: the embedded broker below. */
  mqttUrl: string | null;
  mqtt: {
    host: string;
    port: number;
    username: string | null;
    password: string | null;
    /** The hub's client id on an external broker: fixed, so its session outlives restarts. */
    clientId: string;
    /** How long an external broker keeps the hub's session while the hub is away, s. */
    sessionExpirySeconds: number;
    /** Messages an external broker may send before the hub acknowledges one. */
    receiveMaximum: number;
    /** Where the embedded broker listens for MQTT over TLS (only with `tls`). */
    tlsPort: number;
    /** Whether MQTT clients without credentials may publish fixes (CONTRACT §3). */
    allowAnonymous: boolean;
    /** The embedded broker's bounds on retained messages: how many, and their bytes in all. */
    maxRetainedMessages: number;
    maxRetainedBytes: number;
  };
  /** LOCUS_TLS_CERT/LOCUS_TLS_KEY read and checked: HTTPS, and MQTT over TLS. Null: no TLS. */
  tls: TlsCredentials | null;
  /** What one client of the embedded broker may take (broker/limits.ts). */
  mqttLimits: MqttLimits;
  /** Set: PostgreSQL + PostGIS. Unset: SQLite in dataDir. */
  databaseUrl: string | null;
  /** Which geofence lookup judges fixes: in the hub's memory, or PostGIS queries (PostgreSQL only). */
  geofenceEval: "memory" | "postgis";
  dataDir: string;
  /** Unset: generated on first start and kept in dataDir. */
  apiToken: string | null;
  /** Largest MQTT location payload accepted, bytes. */
  maxPayloadBytes: number;
  /** Fixes and delivered events older than this (by ts) are deleted, ms; null keeps them all. */
  retentionMs: number | null;
  /** How far a fix's ts may be ahead of the hub's clock before it is refused (future_ts), ms. */
  maxFutureMs: number;
  /** Fixes whose accuracy is worse than this change no membership, unless a geofence says otherwise. */
  maxAccuracyM: number;
  /** Longest gap between two fixes with crossings judged between them (detect_crossing), ms. */
  crossingMaxGapMs: number;
  sqliteSynchronous: "full" | "normal";
  /** Most fixes per group commit; 1 commits every message on its own (no grouping). */
  groupCommitMaxFixes: number;
  /** After a start, how long event publication waits for subscribers to reconnect, ms. */
  outboxGraceMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** An operator's online MapLibre style for the live map instead of its offline basemap. */
  mapStyleUrl: string | null;
  /** Webhook delivery and limits (docs/webhooks.md). */
  webhooks: WebhookSettings;
  /**
   * LOCUS_ENGINE_URL set: several hubs share the fleet through the engine (docs/scaling.md).
   * Null: this hub judges every fix it receives.
   */
  engine: {
    urls: string[];
    partitions: number;
    replicas: number;
    leaseMs: number;
    /** How long the engine keeps each fix, hours. */
    retentionHours: number;
  } | null;
  /** The live stream's limits (docs/stream.md). */
  stream: {
    /** Stream connections at most (LOCUS_STREAM_MAX_CLIENTS). */
    maxClients: number;
    /** How long a new connection has to authenticate, ms. */
    authTimeoutMs: number;
    /** Unsent bytes in a client's socket above which its fixes are coalesced, not written. */
    highWaterBytes: number;
    /** How long a client's socket may stay above that mark before it is disconnected, ms. */
    stallTimeoutMs: number;
  };
}

/** A configuration problem, naming the setting, for one clear line at start-up. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === "" ? fallback : value;
}

function optional(env: Env, name: string): string | null {
  const value = env[name];
  return value === undefined || value === "" ? null : value;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = text(env, name, String(fallback));
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535) {
    throw new ConfigError(name, `"${raw}" is not a port number (0-65535)`);
  }
  return value;
}

function number(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `"${raw}" is not a number between ${min} and ${max}`);
  }
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = number(env, name, fallback, min, max);
  if (!Number.isInteger(value)) {
    throw new ConfigError(name, `"${env[name]}" is not a whole number between ${min} and ${max}`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = text(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `"${raw}" is not one of ${allowed.join(", ")}`);
  }
  return raw as T;
}

function url(env: Env, name: string, protocols: readonly string[]): string | null {
  const raw = optional(env, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `"${raw}" is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `"${raw}" must start with ${protocols.join(" or ")}//`);
  }
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name, String(fallback));
  if (raw !== "true" && raw !== "false") {
    throw new ConfigError(name, `"${raw}" is not true or false`);
  }
  return raw === "true";
}

/** Only a broker that no other machine can reach lets clients in without credentials by default. */
function isLoopbackHost(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost";
}

/** The embedded broker's limits (docs/security.md, "Limits"). */
function mqttLimits(env: Env, maxPayloadBytes: number): MqttLimits {
  const d = DEFAULT_MQTT_LIMITS;
  const maxPacketBytes = integer(
    env,
    "LOCUS_MQTT_MAX_PACKET_BYTES",
    maxPayloadBytes + 65_536,
    1024,
    268_435_455,
  );
  if (maxPacketBytes < maxPayloadBytes) {
    throw new ConfigError(
      "LOCUS_MQTT_MAX_PACKET_BYTES",
      `${maxPacketBytes} is below LOCUS_MAX_PAYLOAD_BYTES (${maxPayloadBytes}): location messages of the allowed size would be cut off`,
    );
  }
  const many = 10_000_000;
  return {
    maxConnections: integer(env, "LOCUS_MQTT_MAX_CONNECTIONS", d.maxConnections, 1, many),
    maxConnectionsPerAddress: integer(
      env,
      "LOCUS_MQTT_MAX_CONNECTIONS_PER_ADDRESS",
      d.maxConnectionsPerAddress,
      1,
      many,
    ),
    connectTimeoutMs: integer(
      env,
      "LOCUS_MQTT_CONNECT_TIMEOUT_MS",
      d.connectTimeoutMs,
      100,
      600_000,
    ),
    maxPacketBytes,
    messagesPerSecond: integer(
      env,
      "LOCUS_MQTT_CLIENT_MESSAGES_PER_S",
      d.messagesPerSecond,
      1,
      many,
    ),
    bytesPerSecond: integer(env, "LOCUS_MQTT_CLIENT_BYTES_PER_S", d.bytesPerSecond, 1024, 2 ** 40),
    maxInflight: integer(env, "LOCUS_MQTT_CLIENT_MAX_INFLIGHT", d.maxInflight, 1, 65_535),
    queueMessages: integer(env, "LOCUS_MQTT_CLIENT_QUEUE_MESSAGES", d.queueMessages, 1, many),
    queueBytes: integer(env, "LOCUS_MQTT_CLIENT_QUEUE_BYTES", d.queueBytes, 16_384, 2 ** 32),
    stallTimeoutMs: integer(
      env,
      "LOCUS_MQTT_CLIENT_STALL_TIMEOUT_MS",
      d.stallTimeoutMs,
      1000,
      3_600_000,
    ),
  };
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Reads and checks the hub's settings (CONTRACT §2). Throws ConfigError on a bad value. */
export function loadConfig(env: Env = process.env): HubConfig {
  const apiToken = optional(env, "LOCUS_API_TOKEN");
  if (apiToken !== null && (apiToken.length < 16 || /\s/.test(apiToken))) {
    throw new ConfigError("LOCUS_API_TOKEN", "must be at least 16 characters, without spaces");
  }
  const databaseUrl = url(env, "LOCUS_DATABASE_URL", ["postgres:", "postgresql:"]);
  const geofenceEval = oneOf(env, "LOCUS_GEOFENCE_EVAL", "memory", ["memory", "postgis"]);
  if (geofenceEval === "postgis" && databaseUrl === null) {
    throw new ConfigError(
      "LOCUS_GEOFENCE_EVAL",
      "postgis needs PostgreSQL (LOCUS_DATABASE_URL); the SQLite store uses memory",
    );
  }
  const clientId = text(env, "LOCUS_MQTT_CLIENT_ID", "locus-hub");
  if (!/^[\x21-\x7e]{1,128}$/.test(clientId)) {
    throw new ConfigError("LOCUS_MQTT_CLIENT_ID", "must be 1 to 128 printable ASCII characters");
  }
  const maxPayloadBytes = number(
    env,
    "LOCUS_MAX_PAYLOAD_BYTES",
    256 * 1024,
    1024,
    16 * 1024 * 1024,
  );
  const mqttPort = port(env, "LOCUS_MQTT_PORT", 1883);
  const tlsPort = port(env, "LOCUS_MQTT_TLS_PORT", 8883);
  const tls = tlsSettings(env);
  if (tls !== null && tlsPort === mqttPort && tlsPort !== 0) {
    throw new ConfigError("LOCUS_MQTT_TLS_PORT", `${tlsPort} is LOCUS_MQTT_PORT already`);
  }
  const mqttHost = text(env, "LOCUS_MQTT_HOST", "127.0.0.1");
  return {
    http: {
      host: text(env, "LOCUS_HTTP_HOST", "127.0.0.1"),
      port: port(env, "LOCUS_HTTP_PORT", 3000),
      bodyLimitBytes: number(env, "LOCUS_HTTP_BODY_LIMIT", 8 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    },
    osmandPort:
      optional(env, "LOCUS_OSMAND_PORT") === null ? null : port(env, "LOCUS_OSMAND_PORT", 0),
    mqttUrl: url(env, "LOCUS_MQTT_URL", ["mqtt:", "mqtts:", "tcp:", "ssl:", "ws:", "wss:"]),
    mqtt: {
      host: mqttHost,
      port: mqttPort,
      username: optional(env, "LOCUS_MQTT_USERNAME"),
      password: optional(env, "LOCUS_MQTT_PASSWORD"),
      clientId,
      sessionExpirySeconds: integer(env, "LOCUS_MQTT_SESSION_EXPIRY_S", 604_800, 60, 2 ** 32 - 2),
      receiveMaximum: integer(env, "LOCUS_MQTT_RECEIVE_MAXIMUM", 1000, 1, 65535),
      tlsPort,
      // By default only the embedded broker, listening on loopback alone, lets them in (§2).
      allowAnonymous: boolean(
        env,
        "LOCUS_MQTT_ALLOW_ANONYMOUS",
        optional(env, "LOCUS_MQTT_URL") === null && isLoopbackHost(mqttHost),
      ),
      maxRetainedMessages: integer(env, "LOCUS_MQTT_MAX_RETAINED", 100_000, 0, 10_000_000),
      maxRetainedBytes: integer(env, "LOCUS_MQTT_MAX_RETAINED_BYTES", 64 * 1024 * 1024, 0, 2 ** 40),
    },
    tls,
    mqttLimits: mqttLimits(env, maxPayloadBytes),
    databaseUrl,
    geofenceEval,
    dataDir: path.resolve(text(env, "LOCUS_DATA_DIR", "./data")),
    apiToken,
    maxPayloadBytes,
    retentionMs:
      optional(env, "LOCUS_RETENTION_DAYS") === null
        ? null
        : number(env, "LOCUS_RETENTION_DAYS", 0, 0.001, 36_500) * 86_400_000,
    maxFutureMs: 1000 * integer(env, "LOCUS_MAX_FUTURE_S", 600, 0, 31_536_000),
    maxAccuracyM: number(env, "LOCUS_MAX_ACCURACY_M", Number.POSITIVE_INFINITY, 0, Infinity),
    crossingMaxGapMs: 1000 * number(env, "LOCUS_CROSSING_MAX_GAP_S", 600, 0, 86_400),
    sqliteSynchronous: oneOf(env, "LOCUS_SQLITE_SYNCHRONOUS", "full", ["full", "normal"]),
    groupCommitMaxFixes: number(env, "LOCUS_GROUP_COMMIT_MAX_FIXES", 5000, 1, 100_000),
    outboxGraceMs: number(env, "LOCUS_OUTBOX_GRACE_MS", 2000, 0, 600_000),
    logLevel: oneOf(env, "LOCUS_LOG_LEVEL", "warn", LOG_LEVELS),
    mapStyleUrl: url(env, "LOCUS_MAP_STYLE_URL", ["https:", "http:"]),
    webhooks: webhookSettings(env),
    engine: engineSettings(env, databaseUrl),
    stream: {
      maxClients: integer(env, "LOCUS_STREAM_MAX_CLIENTS", 1000, 0, 1_000_000),
      authTimeoutMs: integer(env, "LOCUS_STREAM_AUTH_TIMEOUT_MS", 10_000, 100, 600_000),
      highWaterBytes: integer(env, "LOCUS_STREAM_HIGH_WATER_BYTES", 1024 * 1024, 1024, 2 ** 30),
      stallTimeoutMs: integer(env, "LOCUS_STREAM_STALL_TIMEOUT_MS", 30_000, 100, 3_600_000),
    },
  };
}

/** Several hubs on the engine (CONTRACT §11; docs/scaling.md): needs PostgreSQL. */
function engineSettings(env: Env, databaseUrl: string | null): HubConfig["engine"] {
  const raw = optional(env, "LOCUS_ENGINE_URL");
  if (raw === null) return null;
  const urls = raw.split(",").map((u) => u.trim());
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new ConfigError("LOCUS_ENGINE_URL", `"${u}" is not a URL`);
    }
    if (parsed.protocol !== "nats:" && parsed.protocol !== "tls:") {
      throw new ConfigError("LOCUS_ENGINE_URL", `"${parsed.protocol}" is not nats: or tls:`);
    }
  }
  if (databaseUrl === null) {
    throw new ConfigError(
      "LOCUS_ENGINE_URL",
      "several hubs share their store: set LOCUS_DATABASE_URL (PostgreSQL) too",
    );
  }
  if (optional(env, "LOCUS_MQTT_URL") !== null) {
    throw new ConfigError(
      "LOCUS_ENGINE_URL",
      "with several hubs, each hub is its devices' MQTT front (its embedded broker): " +
        "unset LOCUS_MQTT_URL (docs/scaling.md)",
    );
  }
  return {
    urls,
    partitions: integer(env, "LOCUS_ENGINE_PARTITIONS", DEFAULT_PARTITIONS, 1, 4096),
    replicas: integer(env, "LOCUS_ENGINE_REPLICAS", 3, 1, 5),
    leaseMs: integer(env, "LOCUS_ENGINE_LEASE_MS", 4000, 1000, 60_000),
    retentionHours: integer(env, "LOCUS_ENGINE_RETENTION_HOURS", 24, 1, 720),
  };
}

/** Webhooks (CONTRACT §2, §5; docs/webhooks.md). */
function webhookSettings(env: Env): WebhookSettings {
  const d = DEFAULT_WEBHOOK_SETTINGS;
  const firstRetryMs = integer(env, "LOCUS_WEBHOOK_FIRST_RETRY_MS", d.firstRetryMs, 1, 5_000);
  const maxRetryMs = integer(env, "LOCUS_WEBHOOK_MAX_RETRY_MS", d.maxRetryMs, 1, 600_000);
  if (maxRetryMs < firstRetryMs) {
    throw new ConfigError(
      "LOCUS_WEBHOOK_MAX_RETRY_MS",
      `${maxRetryMs} is below LOCUS_WEBHOOK_FIRST_RETRY_MS (${firstRetryMs})`,
    );
  }
  return {
    allowPrivate: boolean(env, "LOCUS_WEBHOOK_ALLOW_PRIVATE", d.allowPrivate),
    timeoutMs: integer(env, "LOCUS_WEBHOOK_TIMEOUT_MS", d.timeoutMs, 1, 10_000),
    firstRetryMs,
    maxRetryMs,
    retryForMs:
      1000 * integer(env, "LOCUS_WEBHOOK_RETRY_FOR_S", d.retryForMs / 1000, 0, 31_536_000),
    deliveriesKept: integer(env, "LOCUS_WEBHOOK_DELIVERIES_KEPT", d.deliveriesKept, 1, 100_000),
    maxWebhooks: integer(env, "LOCUS_WEBHOOK_MAX", d.maxWebhooks, 0, 1000),
    pageSize: d.pageSize,
    pollMs: integer(env, "LOCUS_WEBHOOK_POLL_MS", d.pollMs, 10, 60_000),
  };
}

/** LOCUS_TLS_CERT and LOCUS_TLS_KEY: both or neither; the files are read and checked now. */
function tlsSettings(env: Env): TlsCredentials | null {
  try {
    return loadTlsCredentials(optional(env, "LOCUS_TLS_CERT"), optional(env, "LOCUS_TLS_KEY"));
  } catch (err) {
    if (err instanceof TlsSettingError) throw new ConfigError(err.setting, err.message);
    throw err;
  }
}

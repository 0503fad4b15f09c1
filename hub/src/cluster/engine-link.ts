// The hub's connection to the engine (NATS JetStream, docs/scaling.md), and the streams and the
// ownership buckets every hub expects there: created by whichever hub comes first, checked by the
// rest.

import { redactUrl } from "@locus/protocol";
import {
  connect,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "nats";
import {
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  FIXES_STREAM,
  MEMBERS_BUCKET,
  OWNERS_BUCKET,
} from "./partition.ts";

export interface EngineSettings {
  /** The engine's nodes: `nats://` or `tls://` URLs, credentials in the URL if any. */
  urls: string[];
  /** Partitions of the fleet: the same on every hub (checked). */
  partitions: number;
  /** Replicas of every stream and of the lease bucket: 3 on a three-node engine, 1 on one node. */
  replicas: number;
  /** How long a partition lease lives without renewal, ms: failover takes about this long. */
  leaseMs: number;
  /**
   * How long the engine keeps each fix, hours: a partition no hub commits for longer (PostgreSQL
   * down, every hub down) loses what waited there. Also bounds the engine's disk.
   */
  retentionHours: number;
  /** A name for this hub's connection, as the engine's monitoring shows it. */
  name: string;
}

/** How long committed events stay on the events stream for hubs that fell behind. */
const EVENTS_MAX_AGE_NS = 3600 * 1e9;
/** Resends within this window are stored once (by message id). */
const DUPLICATE_WINDOW_NS = 120 * 1e9;
/** How long a starting hub keeps trying to set up the streams while the engine is unavailable. */
const SETUP_RETRY_MS = 60_000;

/** An answer of an engine that is electing a leader or lost a node: worth trying again. */
function transient(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  return (
    code === "TIMEOUT" ||
    code === "503" ||
    /timeout|timed out|no responders|temporarily unavailable|no suitable peers/i.test(
      String(message),
    )
  );
}

export class EngineLinkError extends Error {
  override name = "EngineLinkError";
}

export class EngineLink {
  /** Whether the connection is up now (it reconnects by itself meanwhile). */
  connected = true;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    /** Heartbeats of the hubs (TTL: the lease time). */
    readonly members: KV,
    /** Each partition's owner. */
    readonly owners: KV,
    readonly settings: EngineSettings,
  ) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.connected = false;
        else if (s.type === "reconnect") this.connected = true;
      }
    })();
  }

  /**
   * Connects (trying every URL), then creates or checks the streams and the lease bucket.
   * `notice` hears of a setting this hub changed on the engine.
   */
  static async open(
    settings: EngineSettings,
    notice: (message: string) => void = () => {},
  ): Promise<EngineLink> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...serverOptions(settings.urls),
        name: settings.name,
        // Keeps trying for as long as the hub runs: fixes wait (unacknowledged) meanwhile.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 10_000,
        // Every request (each publish waits for one) would otherwise capture a stack trace up
        // front, for an error that almost never comes (3-4% of a loaded hub's CPU, profiled).
        noAsyncTraces: true,
      });
    } catch (err) {
      const where = settings.urls.map(redactUrl).join(", ");
      throw new EngineLinkError(`cannot reach the engine at ${where}: ${(err as Error).message}`);
    }
    // A hub (re)started while the engine elects a leader (a node just died) sees its API time
    // out or answer "temporarily unavailable" for a few seconds: the set-up is tried again until
    // SETUP_RETRY_MS has passed, instead of the hub exiting on the first such answer.
    const deadline = Date.now() + SETUP_RETRY_MS;
    for (;;) {
      try {
        return await EngineLink.#setUp(nc, settings, notice);
      } catch (err) {
        if (!(err instanceof EngineLinkError) && transient(err) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        await nc.close().catch(() => undefined);
        if (err instanceof EngineLinkError) throw err;
        throw new EngineLinkError(`cannot set up the engine's streams: ${(err as Error).message}`);
      }
    }
  }

  /** Creates or checks the streams and the ownership buckets. */
  static async #setUp(
    nc: NatsConnection,
    settings: EngineSettings,
    notice: (message: string) => void,
  ): Promise<EngineLink> {
    const jsm = await nc.jetstreamManager({ timeout: 10_000 });
    const maxAge = settings.retentionHours * 3600 * 1e9;
    const fixes = await ensureStream(jsm, {
      name: FIXES_STREAM,
      subjects: ["locus.p.>"],
      // Kept LOCUS_ENGINE_RETENTION_HOURS: a partition's owner records in PostgreSQL, with each
      // commit, the sequence it committed up to and reads on from there, so nothing is
      // acknowledged or purged here (a purge by subject on nats-server 2.9.10 lost unread
      // messages when nodes restarted).
      retention: RetentionPolicy.Limits,
      max_age: maxAge,
      // Every hub must cut the fleet alike; the stream records how (compared below).
      description: partitionsDescription(settings.partitions),
      storage: StorageType.File,
      num_replicas: settings.replicas,
      duplicate_window: DUPLICATE_WINDOW_NS,
    });
    // The age is the one setting a hub may change on a running engine: the last hub started
    // with another value sets it (a rolling restart of every hub changes it).
    if (fixes.max_age !== maxAge) {
      await jsm.streams.update(FIXES_STREAM, { ...fixes, max_age: maxAge });
      notice(
        `the engine keeps fixes ${settings.retentionHours} h from now on, not ` +
          `${fixes.max_age / 3600e9} h (LOCUS_ENGINE_RETENTION_HOURS)`,
      );
    }
    await ensureStream(jsm, {
      name: EVENTS_STREAM,
      subjects: [EVENTS_SUBJECT],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: settings.replicas,
      max_age: EVENTS_MAX_AGE_NS,
      duplicate_window: DUPLICATE_WINDOW_NS,
    });
    const js = nc.jetstream({ timeout: 10_000 });
    const members = await js.views.kv(MEMBERS_BUCKET, {
      history: 1,
      ttl: settings.leaseMs,
      replicas: settings.replicas,
    });
    // Every hub must count a member dead after the same time.
    const ttl = (await members.status()).ttl;
    if (ttl !== settings.leaseMs) {
      throw new EngineLinkError(
        `the other hubs' lease time is ${ttl} ms, this hub's ${settings.leaseMs} ms ` +
          "(LOCUS_ENGINE_LEASE_MS must be the same on every hub)",
      );
    }
    const owners = await js.views.kv(OWNERS_BUCKET, { history: 1, replicas: settings.replicas });
    return new EngineLink(nc, js, jsm, members, owners, settings);
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}

type StreamSettings = Parameters<JetStreamManager["streams"]["add"]>[0] & { name: string };

/**
 * Adds the stream, or checks that the one there was made with the same essentials. Answers the
 * stream's configuration.
 */
async function ensureStream(jsm: JetStreamManager, wanted: StreamSettings): Promise<StreamConfig> {
  const info = await jsm.streams.info(wanted.name).catch((err: Error) => {
    if (/not found/i.test(err.message)) return null;
    throw err;
  });
  if (info === null) {
    try {
      return (await jsm.streams.add(wanted)).config;
    } catch (err) {
      // Another hub created it meanwhile: check that one instead.
      if (!/already in use|exists/i.test((err as Error).message)) throw err;
    }
  }
  const config = (await jsm.streams.info(wanted.name)).config;
  if (wanted.description !== undefined && config.description !== wanted.description) {
    throw new EngineLinkError(
      `the engine's stream ${wanted.name} says "${config.description ?? ""}", this hub ` +
        `"${wanted.description}": LOCUS_ENGINE_PARTITIONS must be the same on every hub`,
    );
  }
  if (config.retention !== wanted.retention || config.num_replicas !== wanted.num_replicas) {
    throw new EngineLinkError(
      `the engine's stream ${wanted.name} has retention ${config.retention} and ` +
        `${config.num_replicas} replicas, not ${wanted.retention} and ${wanted.num_replicas}`,
    );
  }
  return config;
}

function partitionsDescription(partitions: number): string {
  return `Locus fixes in ${partitions} partitions`;
}

/**
 * The client's servers and credentials from the URLs: the NATS client takes user and password
 * as options, not from a URL, and TLS from `tls: {}` (the system's trusted CAs, or those of
 * NODE_EXTRA_CA_CERTS) when a URL says tls://.
 */
function serverOptions(urls: readonly string[]): {
  servers: string[];
  user?: string;
  pass?: string;
  tls?: Record<string, never>;
} {
  let user: string | undefined;
  let pass: string | undefined;
  let tls = false;
  const servers = urls.map((raw) => {
    const url = new URL(raw);
    if (url.username !== "") {
      user ??= decodeURIComponent(url.username);
      pass ??= decodeURIComponent(url.password);
    }
    if (url.protocol === "tls:") tls = true;
    return `${url.protocol}//${url.host}`;
  });
  return {
    servers,
    ...(user === undefined ? {} : { user, pass: pass ?? "" }),
    ...(tls ? { tls: {} } : {}),
  };
}

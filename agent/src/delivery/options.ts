// What an agent is given and what it reports: its options, statistics and log.

import type { FixBuffer } from "../buffer/buffer.ts";
import type { SourceFix } from "../sources/fix.ts";

/** A fix from a source (the shape `openSource` yields); `ts` is epoch ms, absent: read now. */
export type AgentFix = SourceFix;

export type AgentLogLevel = "debug" | "info" | "warn" | "error";
export type AgentLog = (level: AgentLogLevel, message: string) => void;

export interface AgentOptions {
  vehicleId: string;
  /** mqtt://, mqtts://, ws:// or wss:// URL of the broker. */
  brokerUrl: string;
  /** Where fixes wait for their acknowledgement; the caller opens and closes it. */
  buffer: FixBuffer;
  username?: string;
  password?: string;
  /**
   * PEM CA certificates that mqtts:// and wss:// brokers must be signed by, instead of Node's
   * list and the system's (trust.ts). The certificate is always checked; there is no way to
   * turn that off.
   */
  ca?: string;
  /** MQTT client id. Default `locus-agent-{vehicleId}`, so a restarted agent takes over its session. */
  clientId?: string;
  /** Most messages awaiting a PUBACK at once. Default 16. */
  inflightWindow?: number;
  /** Most fixes in one message. Default 1000 (MAX_BATCH). */
  maxBatch?: number;
  /** Largest payload, bytes. Default the hub's limit, 256 KiB. */
  maxPayloadBytes?: number;
  /** Upper bound of the first reconnection delay, ms. Default 1000. */
  reconnectInitialMs?: number;
  /** Largest reconnection delay, ms. Default 30000. */
  reconnectMaxMs?: number;
  /** A connection that lasted this long starts the backoff over when it drops, ms. Default 10000. */
  reconnectResetAfterMs?: number;
  /** MQTT keepalive, seconds. Default 30. */
  keepaliveSeconds?: number;
  /** How long a connection attempt may take, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** How long `stop()` waits for in-flight acknowledgements, ms. Default 3000. */
  stopTimeoutMs?: number;
  /** Clock for fixes without ts and for ack times. Default Date.now. */
  now?: () => number;
  /** Uniform in [0, 1), for the reconnection jitter. Default Math.random. */
  random?: () => number;
  log?: AgentLog;
}

export interface AgentStats {
  connected: boolean;
  /** Fixes published, resends included. */
  sent: number;
  /** Fixes published again after a reconnection (duplicates the hub may drop). */
  resent: number;
  /** Fixes whose PUBACK arrived. */
  acked: number;
  /** Fixes in the buffer, sent or not. */
  buffered: number;
  /** Fixes dropped because the buffer was full, in all (persisted with the SQLite buffer). */
  dropped: number;
  /** Messages awaiting a PUBACK. */
  inflight: number;
  /** Connections made, the first included. */
  connections: number;
}

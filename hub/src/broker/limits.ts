// The embedded broker's limits on what one client may take (CONTRACT §3, "No client can slow
// others down"): the settings, their defaults, and the reasons a client is refused, cut or slowed.

export interface MqttLimits {
  /** Connections open at once, all addresses together. */
  maxConnections: number;
  /** Connections open at once from one remote address. */
  maxConnectionsPerAddress: number;
  /** How long a new connection may take to send its CONNECT packet, ms. */
  connectTimeoutMs: number;
  /** Largest MQTT packet a client may send (its remaining length), bytes. */
  maxPacketBytes: number;
  /** PUBLISH packets a client may send per second (averaged; one second's worth at once). */
  messagesPerSecond: number;
  /** Bytes a client may send per second (averaged; one second's worth at once). */
  bytesPerSecond: number;
  /** QoS 1 messages from one client that may await the hub's PUBACK at once. */
  maxInflight: number;
  /** Messages waiting to be written to a client that does not read, beyond which it is cut off. */
  queueMessages: number;
  /** Bytes waiting to be written to a client that does not read, beyond which it is cut off. */
  queueBytes: number;
  /** How long a client may leave the broker's writes to it waiting, ms. */
  stallTimeoutMs: number;
}

export const DEFAULT_MQTT_LIMITS: Readonly<MqttLimits> = {
  maxConnections: 20_000,
  // Room for a simulated fleet of thousands on one machine, or many devices behind one NAT.
  maxConnectionsPerAddress: 5000,
  connectTimeoutMs: 10_000,
  // The largest location payload (LOCUS_MAX_PAYLOAD_BYTES) plus the longest topic and headers.
  maxPacketBytes: 256 * 1024 + 65_536,
  messagesPerSecond: 5000,
  bytesPerSecond: 16 * 1024 * 1024,
  maxInflight: 1000,
  queueMessages: 1000,
  queueBytes: 8 * 1024 * 1024,
  stallTimeoutMs: 30_000,
};

/**
 * Why a client was refused, cut off or slowed down (the `reason` of locus_mqtt_limited_total).
 * - connections, connections_per_address: a new connection refused (closed at once).
 * - connect_timeout: no CONNECT in time; closed.
 * - packet_size, malformed: a packet over the size limit or with a broken header; closed.
 * - slow_reader: its queue of undelivered messages passed a bound, or stalled too long; closed.
 * - message_rate, byte_rate, inflight: its socket is read later (slowed, never closed).
 */
export const LIMIT_REASONS = [
  "connections",
  "connections_per_address",
  "connect_timeout",
  "packet_size",
  "malformed",
  "slow_reader",
  "message_rate",
  "byte_rate",
  "inflight",
] as const;

export type LimitReason = (typeof LIMIT_REASONS)[number];

/** Told each time a limit refuses, cuts or slows a client. */
export type OnLimited = (reason: LimitReason) => void;

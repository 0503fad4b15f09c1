// What the load generator is asked to do and what it answers: shared by the harness and the
// load-generator process, so both sides agree on the messages between them.

/** [west, south, east, north], degrees. */
export type Box = readonly [number, number, number, number];
export type Point = readonly [longitude: number, latitude: number];

/** How each vehicle's fixes move. */
export type Track =
  /** A random walk at road speeds (10–50 m per fix) inside the box, seeded per vehicle. */
  | { kind: "walk"; box: Box; seed: number }
  /** Vehicle v alternates between points[v][0] and points[v][1], one fix each. */
  | { kind: "alternate"; points: (readonly [Point, Point])[] };

/** MQTT credentials of one connection. */
export interface Credentials {
  username: string;
  password: string;
}

export interface LoadPlan {
  /** mqtt://… or mqtts://… (then `ca` is the CA to trust). */
  url: string;
  /** Connection v logs in with credentials[v]; absent: every connection is anonymous. */
  credentials?: Credentials[];
  /** PEM of the CA that signed the broker's certificate, for mqtts:// URLs. */
  ca?: string;
  /** MQTT connections, one vehicle each. */
  connections: number;
  /** QoS 1 messages each connection keeps awaiting a PUBACK at most. */
  window: number;
  /** Sent before the measuring window opens, not counted. */
  warmupMs: number;
  /** The measuring window. */
  durationMs: number;
  /** Offered messages per second over all connections; 0: as fast as the windows allow. */
  rate: number;
  /** Vehicle v is `${vehiclePrefix}${v}`; its fixes have ts = tsBase + seq × 1000. */
  vehiclePrefix: string;
  tsBase: number;
  track: Track;
  /** Report when each fix was published (for latency matching). */
  recordSends: boolean;
  /** How long to wait for the last PUBACKs after the window, ms. */
  drainTimeoutMs: number;
}

export interface LoadResult {
  /** Connections the broker accepted (every one, or the run fails). */
  connected: number;
  /** Messages published (one fix each). */
  sent: number;
  acked: number;
  /** PUBACKs that arrived inside the measuring window. */
  ackedInWindow: number;
  windowMs: number;
  /** Messages due by the pacing that found every window full (paced runs only). */
  behind: number;
  /** Publish → PUBACK of the messages sent inside the measuring window (not the warm-up). */
  ackLatencyMs: { p50: number; p99: number; max: number };
  /** Connections that failed or closed early. */
  errors: string[];
  /** When recordSends: for each fix, vehicle index, ts and publish time (wall-clock ms). */
  sends?: { vehicle: number[]; ts: number[]; at: number[] };
  /** CPU the load generator used, s (user + system). */
  cpuSeconds: number;
}

/** Messages from the load-generator process to the harness. */
export type LoadMessage =
  | { type: "connected" }
  | { type: "window-start"; at: number }
  | { type: "window-end"; at: number }
  | { type: "done"; result: LoadResult }
  | { type: "failed"; error: string };

/** Messages from the harness to the load-generator process. */
export type LoadCommand = { type: "plan"; plan: LoadPlan } | { type: "go" };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

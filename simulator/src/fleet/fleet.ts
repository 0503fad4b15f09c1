// N simulated vehicles in one process: each a real Agent (its own buffer, seq, MQTT connection
// and client id), moved by its seeded Track and ticked by one shared TimerWheel.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  Agent,
  type AgentLogLevel,
  type FixBuffer,
  MemoryBuffer,
  SqliteBuffer,
} from "@locus/agent";
import type { GeofenceEvent } from "@locus/protocol";
import { MotionModel, type MotionSpec, type Track } from "../motion/model.ts";
import { EventWatcher, type WatcherState } from "./events.ts";
import { formatMs } from "./format.ts";
import { OutageRelay } from "./outage.ts";
import { TimerWheel } from "./wheel.ts";

export interface VehicleCredentials {
  vehicleId: string;
  username: string;
  password: string;
}

export type BufferChoice =
  | { kind: "memory" }
  | {
      kind: "sqlite";
      /** Directory for one file per vehicle; null: a new temporary directory. */
      dir: string | null;
      synchronous: "full" | "normal";
    };

export interface FleetOptions {
  vehicles: number;
  intervalMs: number;
  brokerUrl: string;
  /** Shared by every vehicle (and the event watcher) unless `credentials` is given. */
  username?: string;
  password?: string;
  /** Per vehicle, in order; vehicle i takes entry i and its id. */
  credentials?: readonly VehicleCredentials[];
  /** PEM CA certificates that an mqtts:// or wss:// broker must be signed by (default: Node's). */
  ca?: string;
  /** Vehicle i is `${idPrefix}${i + 1, 5 digits}` unless credentials name it. */
  idPrefix: string;
  seed: number;
  motion: MotionSpec;
  noiseM: number;
  buffer: BufferChoice;
  /** Most fixes each vehicle buffers; beyond it the oldest are dropped (and counted). */
  maxBuffer: number;
  /** Connections (and first fixes) are spread over this long, ms. */
  rampMs: number;
  /** Cut every vehicle's connection at startMs (after the start) for lengthMs. */
  outage?: { startMs: number; lengthMs: number } | null;
  /** The agents' longest reconnection delay, ms. */
  reconnectMaxMs: number;
  /** Subscribe to the geofence events and count our vehicles' ones. Default true. */
  watchEvents?: boolean;
  onEvent?: (event: GeofenceEvent) => void;
  /** One line for the operator: outage begins and ends, agents' warnings (grouped). */
  onNotice?: (line: string) => void;
}

export interface FleetStats {
  vehicles: number;
  /** Vehicles whose agent has started (the ramp). */
  started: number;
  connected: number;
  /** Fixes the vehicles produced. */
  produced: number;
  sent: number;
  resent: number;
  acked: number;
  buffered: number;
  dropped: number;
  connections: number;
  /** Fixes an agent refused to buffer (see notices). */
  failed: number;
  /** Events of our vehicles seen on the events topic. */
  events: number;
  eventsWatcher: WatcherState | "off";
  outage: "none" | "pending" | "active" | "over";
}

export interface FleetReport extends FleetStats {
  /** Where the SQLite buffers are, when that backend was used. */
  bufferDir: string | null;
}

/** Most fixes a vehicle sends when the wheel hands it over; more are due only after a stall. */
const MAX_FIXES_PER_VISIT = 20;

/** The id of vehicle `index` (0-based) for a prefix: `sim-00001` for prefix `sim-`, index 0. */
export function vehicleId(prefix: string, index: number): string {
  return `${prefix}${String(index + 1).padStart(5, "0")}`;
}

/** The slot length of the wheel for an interval: at most 20 ms, and 50 slots per interval. */
function slotMsFor(intervalMs: number): number {
  return Math.max(1, Math.min(20, intervalMs / 50));
}

interface Vehicle {
  readonly agent: Agent;
  readonly buffer: FixBuffer;
  readonly track: Track;
  /** Time of fix 0, epoch ms; fix k is due at firstAt + k · interval. */
  firstAt: number;
  next: number;
  started: boolean;
}

export class Fleet {
  private readonly vehicles: Vehicle[] = [];
  private readonly ids = new Set<string>();
  private readonly wheel: TimerWheel;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private watcher: EventWatcher | null = null;
  private relay: OutageRelay | null = null;
  private produced = 0;
  private failed = 0;
  private outageState: FleetStats["outage"] = "none";
  private readonly notices = new Map<string, { first: string; count: number }>();
  private bufferDir: string | null = null;
  private stopping: Promise<FleetReport> | null = null;

  private constructor(private readonly options: FleetOptions) {
    this.wheel = new TimerWheel({
      periodMs: options.intervalMs,
      slotMs: slotMsFor(options.intervalMs),
      onSlot: (members, now) => this.tick(members, now),
    });
  }

  /**
   * Builds the fleet, subscribes to the events (waiting up to 5 s) and starts the clock; vehicles
   * connect and send over the ramp. Throws when a buffer cannot be opened or the relay cannot listen.
   */
  static async start(options: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(options);
    try {
      await fleet.build();
    } catch (err) {
      await fleet.stop({ drainMs: 0 });
      throw err;
    }
    return fleet;
  }

  private async build(): Promise<void> {
    const o = this.options;
    let brokerUrl = o.brokerUrl;
    if (o.outage) {
      const target = new URL(o.brokerUrl);
      const port = Number(target.port || (target.protocol === "ws:" ? 80 : 1883));
      this.relay = await OutageRelay.open(target.hostname.replace(/^\[|\]$/g, ""), port);
      target.hostname = "127.0.0.1";
      target.port = String(this.relay.port);
      brokerUrl = target.toString();
      this.outageState = "pending";
      this.notice(
        `outage relay: vehicles connect to ${o.brokerUrl} through 127.0.0.1:${this.relay.port}`,
      );
    }
    if (o.buffer.kind === "sqlite") {
      this.bufferDir = o.buffer.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "locus-sim-"));
      fs.mkdirSync(this.bufferDir, { recursive: true });
    }

    const model = new MotionModel(o.motion, o.noiseM);
    const t0 = Date.now();
    const n = o.vehicles;
    for (let i = 0; i < n; i++) {
      const creds = o.credentials?.[i];
      const id = creds?.vehicleId ?? vehicleId(o.idPrefix, i);
      this.ids.add(id);
      // Phases spread evenly over the interval; the ramp delays each vehicle's first tick.
      const phase = (o.intervalMs * i) / n;
      const rampAt = (o.rampMs * i) / n;
      const firstAt = Math.round(
        t0 + phase + o.intervalMs * Math.max(0, Math.ceil((rampAt - phase) / o.intervalMs)),
      );
      const buffer = this.openBuffer(id);
      const agent = new Agent({
        vehicleId: id,
        brokerUrl,
        buffer,
        ...(creds
          ? { username: creds.username, password: creds.password }
          : {
              ...(o.username !== undefined ? { username: o.username } : {}),
              ...(o.password !== undefined ? { password: o.password } : {}),
            }),
        ...(o.ca !== undefined ? { ca: o.ca } : {}),
        reconnectMaxMs: o.reconnectMaxMs,
        reconnectInitialMs: Math.min(1000, o.reconnectMaxMs),
        log: (level, message) => this.agentLog(level, message),
      });
      this.vehicles.push({
        agent,
        buffer,
        track: model.track(o.seed, i),
        firstAt,
        next: 0,
        started: false,
      });
      this.wheel.add(i, firstAt - t0);
    }

    if (o.watchEvents !== false) {
      const first = o.credentials?.[0];
      this.watcher = new EventWatcher({
        brokerUrl: o.brokerUrl,
        clientId: `locus-sim-events-${process.pid}-${o.seed}`,
        ...(o.ca !== undefined ? { ca: o.ca } : {}),
        ...(o.username !== undefined
          ? { username: o.username, password: o.password ?? "" }
          : first
            ? { username: first.username, password: first.password }
            : {}),
        isOurs: (id) => this.ids.has(id),
        ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      });
      await this.watcher.ready(5000);
    }

    const start = Date.now();
    // Phases were laid out from t0; the set-up above took some time, so shift the wheel with it.
    this.shift(start - t0);
    this.wheel.start(start);
    if (o.outage && this.relay) {
      const relay = this.relay;
      const { startMs, lengthMs } = o.outage;
      this.timers.push(
        setTimeout(() => {
          relay.sever();
          this.outageState = "active";
          this.notice(`outage: every vehicle's connection cut for ${formatMs(lengthMs)}`);
        }, startMs),
        setTimeout(() => {
          relay.restore();
          this.outageState = "over";
          this.notice("outage over: vehicles reconnect and send what they buffered");
        }, startMs + lengthMs),
      );
    }
  }

  private shift(ms: number): void {
    for (const v of this.vehicles) v.firstAt += ms;
  }

  private openBuffer(id: string): FixBuffer {
    const o = this.options;
    if (o.buffer.kind === "memory") return new MemoryBuffer({ maxFixes: o.maxBuffer });
    return SqliteBuffer.open(path.join(this.bufferDir as string, `${id}.db`), {
      maxFixes: o.maxBuffer,
      synchronous: o.buffer.synchronous,
    });
  }

  // Every vehicle of a finished slot sends the fixes that are due (more than one after a stall).
  private tick(members: readonly number[], now: number): void {
    const interval = this.options.intervalMs;
    for (const i of members) {
      const v = this.vehicles[i] as Vehicle;
      if (v.firstAt > now) continue;
      if (!v.started) {
        v.started = true;
        v.agent.start();
      }
      // After a stall (a suspended process, a starved CPU) a vehicle catches up a few fixes per
      // turn of the wheel rather than all at once, so one turn stays short; every fix keeps its
      // scheduled ts and its place in the path.
      let budget = MAX_FIXES_PER_VISIT;
      for (let due = v.firstAt + v.next * interval; due <= now && budget > 0; due += interval) {
        budget--;
        if (v.next > 0) v.track.advance(interval / 1000);
        v.next++;
        const fix = v.track.fix();
        this.produced++;
        try {
          v.agent.push({ ...fix, ts: due });
        } catch (err) {
          this.failed++;
          this.agentLog("error", err instanceof Error ? err.message : String(err));
        }
      }
    }
  }

  private agentLog(level: AgentLogLevel, message: string): void {
    if (level === "debug") return;
    // Thousands of agents say the same thing at once: group by the text with numbers masked.
    const key = `${level} ${message.replace(/\d+/g, "#")}`;
    const entry = this.notices.get(key);
    if (entry) entry.count++;
    else this.notices.set(key, { first: `${level}: ${message}`, count: 1 });
  }

  private notice(line: string): void {
    this.options.onNotice?.(line);
  }

  /** The agents' messages since the last call, one line per kind, with how many said it. */
  takeNotices(): string[] {
    const lines = [...this.notices.values()].map((e) =>
      e.count > 1 ? `${e.first} (and ${e.count - 1} more like it)` : e.first,
    );
    this.notices.clear();
    return lines;
  }

  /** Whether a vehicle id belongs to this fleet. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  get brokerUrl(): string {
    return this.options.brokerUrl;
  }

  stats(): FleetStats {
    const s: FleetStats = {
      vehicles: this.vehicles.length,
      started: 0,
      connected: 0,
      produced: this.produced,
      sent: 0,
      resent: 0,
      acked: 0,
      buffered: 0,
      dropped: 0,
      connections: 0,
      failed: this.failed,
      events: this.watcher?.seen ?? 0,
      eventsWatcher: this.watcher?.state ?? "off",
      outage: this.outageState,
    };
    for (const v of this.vehicles) {
      if (v.started) s.started++;
      const a = v.agent.stats();
      if (a.connected) s.connected++;
      s.sent += a.sent;
      s.resent += a.resent;
      s.acked += a.acked;
      s.buffered += a.buffered;
      s.dropped += a.dropped;
      s.connections += a.connections;
    }
    return s;
  }

  /**
   * Stops producing fixes, waits up to `drainMs` for the agents to deliver what they hold, stops
   * every agent (offline status, disconnect; what is not acknowledged stays buffered) and closes
   * the buffers, the event watcher and the relay. Reports the final counters.
   */
  stop(options: { drainMs: number }): Promise<FleetReport> {
    this.stopping ??= this.shutDown(options.drainMs);
    return this.stopping;
  }

  private async shutDown(drainMs: number): Promise<FleetReport> {
    this.wheel.stop();
    for (const t of this.timers) clearTimeout(t);
    const started = this.vehicles.filter((v) => v.started);
    if (drainMs > 0 && started.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(started.map((v) => v.agent.drained())),
        new Promise((resolve) => {
          timer = setTimeout(resolve, drainMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await Promise.all(started.map((v) => v.agent.stop()));
    // After a drain, the events of the last fixes are still on their way from the hub.
    if (drainMs > 0) await this.watcher?.settle(300, 2000);
    const report: FleetReport = { ...this.stats(), bufferDir: this.bufferDir };
    for (const v of this.vehicles) v.buffer.close();
    await this.watcher?.close();
    await this.relay?.close();
    if (this.bufferDir !== null && this.options.buffer.kind === "sqlite") {
      // A temporary directory with nothing left in it is removed; otherwise it is reported.
      if (this.options.buffer.dir === null && report.buffered === 0) {
        fs.rmSync(this.bufferDir, { recursive: true, force: true });
        report.bufferDir = null;
      }
    }
    return report;
  }
}

// The load generator, run as a process of its own so its CPU is not the harness's: many MQTT
// connections publishing one fix per message at QoS 1 (CONTRACT §3 payloads), each keeping at most
// `window` messages awaiting a PUBACK. Every scenario that publishes fixes uses this code.

import mqtt from "mqtt";
import { mulberry32 } from "../../tests/support/random.ts";
import {
  type LoadCommand,
  type LoadMessage,
  type LoadPlan,
  type LoadResult,
  type Point,
  wallNow,
} from "./load-plan.ts";

function send(message: LoadMessage): void {
  process.send?.(message);
}

/** Makes vehicle v's next position. */
function trackOf(plan: LoadPlan, v: number): () => Point {
  const track = plan.track;
  if (track.kind === "alternate") {
    const pair = track.points[v % track.points.length] as readonly [Point, Point];
    let i = 0;
    return () => pair[i++ % 2] as Point;
  }
  const [west, south, east, north] = track.box;
  const random = mulberry32(track.seed * 100_003 + v);
  let x = west + random() * (east - west);
  let y = south + random() * (north - south);
  let heading = random() * 2 * Math.PI;
  return () => {
    const step = 10 + random() * 40;
    heading += (random() - 0.5) * 0.6;
    x += (Math.cos(heading) * step) / (111_195 * Math.cos(y * (Math.PI / 180)));
    y += (Math.sin(heading) * step) / 111_195;
    if (x < west || x > east || y < south || y > north) {
      heading += Math.PI;
      x = Math.min(east, Math.max(west, x));
      y = Math.min(north, Math.max(south, y));
    }
    return [x, y];
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Connection {
  client: mqtt.MqttClient;
  topic: string;
  next: () => Point;
  seq: number;
  inflight: number;
}

async function connectAll(plan: LoadPlan): Promise<Connection[]> {
  const connections: Connection[] = [];
  const logins = plan.credentials;
  if (logins !== undefined && logins.length < plan.connections) {
    throw new Error(`${plan.connections} connections but credentials for ${logins.length}`);
  }
  // A few at a time: a burst of hundreds of CONNECTs is not what is being measured.
  const batch = 25;
  for (let first = 0; first < plan.connections; first += batch) {
    const ids = Array.from(
      { length: Math.min(batch, plan.connections - first) },
      (_, i) => first + i,
    );
    const clients = await Promise.all(
      ids.map((v) =>
        mqtt.connectAsync(plan.url, {
          clientId: `bench-load-${process.pid}-${v}`,
          reconnectPeriod: 0,
          clean: true,
          connectTimeout: 20_000,
          ...logins?.[v],
          ...(plan.ca === undefined ? {} : { ca: plan.ca }),
        }),
      ),
    );
    for (const [i, client] of clients.entries()) {
      const v = ids[i] as number;
      connections.push({
        client,
        topic: `locus/vehicles/${plan.vehiclePrefix}${v}/location`,
        next: trackOf(plan, v),
        seq: 0,
        inflight: 0,
      });
    }
  }
  return connections;
}

async function run(plan: LoadPlan, go: Promise<void>): Promise<LoadResult> {
  const connections = await connectAll(plan);
  const errors: string[] = [];
  let stopped = false;
  for (const c of connections) {
    c.client.on("error", (err) => errors.push(err.message));
    c.client.on("close", () => {
      if (!stopped) errors.push(`${c.topic}: connection closed`);
    });
  }
  send({ type: "connected" });
  await go;

  let sending = true;
  let inWindow = false;
  let sent = 0;
  let acked = 0;
  let ackedInWindow = 0;
  let behind = 0;
  let latencies = new Float64Array(1 << 16);
  let latencyCount = 0;
  const sends = plan.recordSends
    ? { vehicle: [] as number[], ts: [] as number[], at: [] as number[] }
    : undefined;
  let idle: (() => void) | null = null;
  const cpuStart = process.cpuUsage();

  const publish = (v: number): void => {
    const c = connections[v] as Connection;
    const seq = c.seq++;
    const [longitude, latitude] = c.next();
    const ts = plan.tsBase + seq * 1000;
    const payload = `{"latitude":${latitude},"longitude":${longitude},"ts":${ts},"seq":${seq}}`;
    c.inflight++;
    sent++;
    const t0 = performance.now();
    // Only messages sent inside the measuring window count towards the PUBACK latencies.
    const timed = inWindow;
    if (sends) {
      sends.vehicle.push(v);
      sends.ts.push(ts);
      sends.at.push(performance.timeOrigin + t0);
    }
    c.client.publish(c.topic, payload, { qos: 1 }, (err) => {
      c.inflight--;
      if (err) {
        errors.push(err.message);
      } else {
        acked++;
        if (inWindow) ackedInWindow++;
        if (timed) {
          if (latencyCount === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[latencyCount++] = performance.now() - t0;
        }
      }
      if (plan.rate === 0 && sending) publish(v);
      else if (!sending && idle !== null && connections.every((x) => x.inflight === 0)) idle();
    });
  };

  const started = performance.now();
  let pacer: NodeJS.Timeout | null = null;
  if (plan.rate === 0) {
    for (let v = 0; v < connections.length; v++) {
      for (let i = 0; i < plan.window; i++) publish(v);
    }
  } else {
    // Paced: every millisecond, publish what is due, round-robin over the connections.
    let issued = 0;
    let cursor = 0;
    pacer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * plan.rate) - issued;
      for (let k = 0; k < due; k++) {
        let tries = 0;
        while (tries < connections.length) {
          const c = connections[cursor] as Connection;
          if (c.inflight < plan.window) break;
          cursor = (cursor + 1) % connections.length;
          tries++;
        }
        issued++;
        if (tries === connections.length) {
          behind++;
          continue;
        }
        publish(cursor);
        cursor = (cursor + 1) % connections.length;
      }
    }, 1);
  }

  await new Promise((r) => setTimeout(r, plan.warmupMs));
  inWindow = true;
  const windowStart = performance.now();
  send({ type: "window-start", at: wallNow() });
  await new Promise((r) => setTimeout(r, plan.durationMs));
  inWindow = false;
  const windowMs = performance.now() - windowStart;
  send({ type: "window-end", at: wallNow() });
  sending = false;
  if (pacer) clearInterval(pacer);

  await new Promise<void>((resolve) => {
    if (connections.every((x) => x.inflight === 0)) return resolve();
    idle = resolve;
    setTimeout(() => {
      errors.push(
        `${connections.reduce((n, c) => n + c.inflight, 0)} messages still unacknowledged after ${plan.drainTimeoutMs} ms`,
      );
      resolve();
    }, plan.drainTimeoutMs).unref();
  });
  const cpu = process.cpuUsage(cpuStart);
  stopped = true;
  await Promise.all(connections.map((c) => c.client.endAsync(true)));

  const sorted = latencies.slice(0, latencyCount).sort();
  const result: LoadResult = {
    connected: connections.length,
    sent,
    acked,
    ackedInWindow,
    windowMs,
    behind,
    ackLatencyMs: {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
    errors: [...new Set(errors)].slice(0, 20),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  if (sends) result.sends = sends;
  return result;
}

let release: () => void = () => {};
const go = new Promise<void>((resolve) => {
  release = resolve;
});
process.on("message", (command: LoadCommand) => {
  if (command.type === "go") release();
  else if (command.type === "plan") {
    run(command.plan, go).then(
      (result) => send({ type: "done", result }),
      (err: unknown) => send({ type: "failed", error: String(err) }),
    );
  }
});
process.on("disconnect", () => process.exit(0));

// Scenario 4: end-to-end latency at a fixed offered rate: from a fix's publish to the arrival of
// the event it caused at a subscriber.
// - The goal's measurement: scenario 2's workload (vehicles walking among the geofences at road
//   speeds) offered to the embedded hub at half of scenario 2's measured maximum; every event
//   that happens is timed.
// - The limit at that rate: the same publishers through a bare aedes (no hub logic) to a bare
//   subscriber of one vehicle in 25 (about as many messages as the hub's events on these
//   tracks), each timed from publish to arrival. The difference is what the hub adds.
// - A stress measurement for context: every vehicle alternates between a point inside exactly one
//   geofence and a point outside all, so every fix causes one event (enter, exit, enter, …), at a
//   quarter of the maximum: the event path (outbox, broker, subscriber) at its busiest.

import mqtt from "mqtt";
import { startAedes } from "../harness/brokers.ts";
import {
  type BenchContext,
  type EmbeddedHub,
  fmt,
  percentile,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from "../harness/context.ts";
import { alternatingPoints } from "../harness/fences.ts";
import { runLoad } from "../harness/load.ts";
import { type LoadPlan, wallNow } from "../harness/load-plan.ts";
import { waitForEvents } from "./embedded.ts";

interface Measurement {
  label: string;
  /** Share of scenario 2's rate offered. */
  fraction: number;
  /** "walk": scenario 2's tracks; "alternate": every fix causes an event. */
  track: "walk" | "alternate";
  /** "hub": the embedded hub, publish → event; "bare": bare aedes, publish → the message. */
  target: "hub" | "bare";
  /** Whether the ≤ 25 ms goal is judged on it. */
  goal: boolean;
}

const MEASUREMENTS: readonly Measurement[] = [
  {
    label: "hub, 50%, scenario 2's tracks",
    fraction: 0.5,
    track: "walk",
    target: "hub",
    goal: true,
  },
  // Latency rises steeply with load on a small machine: the same at a quarter, for the curve.
  {
    label: "hub, 25%, scenario 2's tracks",
    fraction: 0.25,
    track: "walk",
    target: "hub",
    goal: false,
  },
  {
    label: "bare aedes, 50%, 1 vehicle in 25 subscribed",
    fraction: 0.5,
    track: "walk",
    target: "bare",
    goal: false,
  },
  {
    label: "hub, 25%, every fix an event",
    fraction: 0.25,
    track: "alternate",
    target: "hub",
    goal: false,
  },
];

interface LatencyFigures {
  offeredRate: number;
  achievedRate: number;
  /** Fixes sent in the measuring window. */
  fixes: number;
  /** Arrivals timed: events those fixes caused (hub), or the messages themselves (bare). */
  events: number;
  /** Messages the pacing could not send because every window was full. */
  behind: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

/** Where the fixes go and where their arrivals are heard. */
interface Target {
  url: string;
  /** Records the arrival time of each fix's event (or message) as `${vehicle}|${ts ms}`. */
  listen(prefix: string, arrivals: Map<string, number>): Promise<() => Promise<void>>;
  /**
   * Resolves once everything sent has arrived, or nothing more has for a while. `sent` lists the
   * vehicle index of every fix published since `listen` (none before the first measurement).
   */
  settle(sent: readonly number[]): Promise<void>;
}

function hubTarget(e: EmbeddedHub): Target {
  return {
    url: e.hub.mqttUrl,
    async listen(prefix, arrivals) {
      const stop = e.onEvent((payload) => {
        const at = wallNow();
        const event = JSON.parse(payload.toString()) as { vehicle_id: string; ts: string };
        if (event.vehicle_id.startsWith(prefix)) {
          arrivals.set(`${event.vehicle_id}|${Date.parse(event.ts)}`, at);
        }
      });
      return async () => {
        stop();
      };
    },
    settle: async () => {
      await waitForEvents(e);
    },
  };
}

/** A bare aedes with one QoS 1 subscriber to every location topic. */
async function bareTarget(ctx: BenchContext): Promise<Target> {
  const broker = await startAedes();
  ctx.afterScenario(() => broker.stop());
  const subscriber = await mqtt.connectAsync(broker.url, {
    clientId: "bench-latency-subscriber",
    reconnectPeriod: 0,
  });
  ctx.afterScenario(async () => {
    await subscriber.endAsync(true);
  });
  let listener: ((topic: string, payload: Buffer) => void) | null = null;
  subscriber.on("message", (topic, payload) => listener?.(topic, payload));
  let lastArrival = 0;
  let heard = 0;
  return {
    url: broker.url,
    async listen(prefix, arrivals) {
      const topics: string[] = [];
      for (let v = 0; v < ctx.options.connections; v += 25) {
        topics.push(`locus/vehicles/${prefix}${v}/location`);
      }
      await subscriber.subscribeAsync(topics, { qos: 1 });
      const start = "locus/vehicles/".length;
      listener = (topic, payload) => {
        const at = wallNow();
        lastArrival = at;
        heard++;
        const vehicle = topic.slice(start, topic.indexOf("/", start));
        // The load generator's payload, where "ts" is a whole number.
        const text = payload.toString("latin1");
        const from = text.indexOf('"ts":') + 5;
        arrivals.set(`${vehicle}|${text.slice(from, text.indexOf(",", from))}`, at);
      };
      return async () => {
        listener = null;
        await subscriber.unsubscribeAsync(topics);
      };
    },
    async settle(sent) {
      // Every message was acknowledged by then, but the subscriber may still be reading them
      // (on a busy machine, seconds behind): wait for each subscribed vehicle's message, or
      // until none has arrived for 5 s.
      const expected = sent.filter((v) => v % 25 === 0).length;
      const waitingSince = wallNow();
      const quiet = () => wallNow() - Math.max(lastArrival, waitingSince) > 5000;
      while (heard < expected && !quiet()) await new Promise((r) => setTimeout(r, 20));
      heard = 0;
    },
  };
}

async function measureAt(
  ctx: BenchContext,
  target: Target,
  rate: number,
  kind: Measurement["track"],
  fences: EmbeddedHub["fences"],
  prefix: string,
): Promise<LatencyFigures> {
  await target.settle([]);
  const track: LoadPlan["track"] =
    kind === "walk"
      ? { kind: "walk", box: fences.box, seed: 4 }
      : { kind: "alternate", points: alternatingPoints(fences, ctx.options.connections) };
  const arrivals = new Map<string, number>();
  const stop = await target.listen(prefix, arrivals);
  let windowStart = 0;
  let windowEnd = 0;
  let result: Awaited<ReturnType<typeof runLoad>>;
  try {
    result = await runLoad(
      ctx.plan(target.url, prefix, {
        rate,
        // Large enough that pacing never waits for a PUBACK.
        window: 1000,
        durationMs: ctx.options.latencyMs,
        track,
        recordSends: true,
      }),
      {
        onWindowStart: (at) => {
          windowStart = at;
        },
        onWindowEnd: (at) => {
          windowEnd = at;
        },
      },
    );
    await target.settle(result.sends?.vehicle ?? []);
  } finally {
    await stop();
  }
  if (result.errors.length > 0) throw new Error(`publishers: ${result.errors.join("; ")}`);
  const sends = result.sends ?? { vehicle: [], ts: [], at: [] };
  const latencies: number[] = [];
  let expected = 0;
  for (let i = 0; i < sends.at.length; i++) {
    const at = sends.at[i] as number;
    if (at < windowStart || at > windowEnd) continue;
    expected++;
    const arrived = arrivals.get(`${prefix}${sends.vehicle[i]}|${sends.ts[i]}`);
    if (arrived !== undefined) latencies.push(arrived - at);
  }
  latencies.sort((a, b) => a - b);
  return {
    offeredRate: rate,
    achievedRate: (expected / (windowEnd - windowStart)) * 1000,
    fixes: expected,
    events: latencies.length,
    behind: result.behind,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    ackP50Ms: result.ackLatencyMs.p50,
    ackP99Ms: result.ackLatencyMs.p99,
  };
}

function rows(m: Measurement, f: LatencyFigures): Row[] {
  const label = m.label;
  const arrival = m.target === "hub" ? "event" : "subscriber";
  const p99: Row = { measure: `${label}: publish → ${arrival} p99`, value: fmt.ms(f.p99Ms) };
  if (m.goal) {
    p99.goal = "≤ 25 ms";
    if (Number.isFinite(f.p99Ms)) p99.verdict = f.p99Ms <= 25 ? "PASS" : "MISS";
  }
  const timed = m.target === "hub" ? "events" : "messages";
  return [
    {
      measure: `${label}: offered rate; ${timed} timed`,
      value: `${fmt.rate(f.offeredRate)} (sent ${fmt.rate(f.achievedRate)}); ${fmt.int(f.events)} ${timed} from ${fmt.int(f.fixes)} fixes`,
    },
    { measure: `${label}: publish → ${arrival} p50`, value: fmt.ms(f.p50Ms) },
    p99,
    { measure: `${label}: publish → ${arrival} max`, value: fmt.ms(f.maxMs) },
    {
      measure: `${label}: PUBACK p50 / p99`,
      value: `${fmt.ms(f.ackP50Ms)} / ${fmt.ms(f.ackP99Ms)}`,
    },
  ];
}

export const latency: Scenario = {
  name: "latency",
  title: "4. Latency: fix published → its event at a subscriber (embedded hub)",
  async run(ctx): Promise<ScenarioOutcome> {
    const e = await ctx.embeddedHub();
    const max = (ctx.results.get("embedded")?.figures as { fixesPerSecond?: number } | undefined)
      ?.fixesPerSecond;
    const full = max ?? ctx.options.latencyRate * 2;
    const figures: Record<string, LatencyFigures & Measurement> = {};
    const out: Row[] = [];
    let bare: Target | null = null;
    for (const m of MEASUREMENTS) {
      const rate = Math.max(1, Math.round(full * m.fraction));
      let target: Target;
      if (m.target === "hub") {
        target = hubTarget(e);
      } else {
        bare ??= await bareTarget(ctx);
        target = bare;
      }
      const prefix = e.vehiclePrefix("lat");
      const f = await measureAt(ctx, target, rate, m.track, e.fences, prefix);
      figures[m.label] = { ...f, ...m };
      out.push(...rows(m, f));
    }
    const goal = figures[(MEASUREMENTS.find((m) => m.goal) as Measurement).label];
    return {
      parameters: {
        measurements: MEASUREMENTS,
        ofRate: max !== undefined ? "scenario 2's median" : "2 × --latency-rate",
        connections: ctx.options.connections,
        durationMs: ctx.options.latencyMs,
        fences: e.fences.fences.length,
      },
      // The goal's figures at the top level; every measurement's under its label.
      figures: { ...goal, byMeasurement: figures },
      rows: out,
    };
  },
};

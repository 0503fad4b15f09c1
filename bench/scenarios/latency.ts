// Scenario 4: end-to-end latency through the embedded hub at a fixed offered rate (half the
// measured maximum, and a quarter for context): from a fix's publish to the arrival of the event
// it caused at a subscriber. Every vehicle alternates between a point inside exactly one geofence
// and a point outside all, so every fix causes exactly one event (enter, exit, enter, …).

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
import { wallNow } from "../harness/load-plan.ts";
import { waitForEvents } from "./embedded.ts";

/** Share of scenario 2's rate to offer; the goal is judged at the first. */
const FRACTIONS = [0.5, 0.25];

interface LatencyFigures {
  offeredRate: number;
  achievedRate: number;
  fixes: number;
  eventsMatched: number;
  /** Messages the pacing could not send because every window was full. */
  behind: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

async function measureAt(ctx: BenchContext, e: EmbeddedHub, rate: number): Promise<LatencyFigures> {
  await waitForEvents(e);
  const points = alternatingPoints(e.fences, ctx.options.connections);
  const prefix = e.vehiclePrefix("lat");
  const arrivals = new Map<string, number>();
  const stop = e.onEvent((payload) => {
    const at = wallNow();
    const event = JSON.parse(payload.toString()) as { vehicle_id: string; ts: string };
    if (event.vehicle_id.startsWith(prefix)) {
      arrivals.set(`${event.vehicle_id}|${Date.parse(event.ts)}`, at);
    }
  });
  let windowStart = 0;
  let windowEnd = 0;
  let result: Awaited<ReturnType<typeof runLoad>>;
  try {
    result = await runLoad(
      ctx.plan(e.hub.mqttUrl, prefix, {
        rate,
        // Large enough that pacing never waits for a PUBACK.
        window: 1000,
        durationMs: ctx.options.latencyMs,
        track: { kind: "alternate", points },
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
    await waitForEvents(e);
  } finally {
    stop();
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
    eventsMatched: latencies.length,
    behind: result.behind,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    ackP50Ms: result.ackLatencyMs.p50,
    ackP99Ms: result.ackLatencyMs.p99,
  };
}

function rows(label: string, f: LatencyFigures, goal: boolean): Row[] {
  const p99: Row = { measure: `${label}: publish → event p99`, value: fmt.ms(f.p99Ms) };
  if (goal) {
    p99.goal = "≤ 25 ms";
    if (Number.isFinite(f.p99Ms)) p99.verdict = f.p99Ms <= 25 ? "PASS" : "MISS";
  }
  return [
    {
      measure: `${label}: offered rate (each fix causes one event)`,
      value: `${fmt.rate(f.offeredRate)} (sent ${fmt.rate(f.achievedRate)}; ${fmt.int(f.eventsMatched)} of ${fmt.int(f.fixes)} events matched)`,
    },
    { measure: `${label}: publish → event p50`, value: fmt.ms(f.p50Ms) },
    p99,
    { measure: `${label}: publish → event max`, value: fmt.ms(f.maxMs) },
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
    const figures: Record<string, LatencyFigures> = {};
    const out: Row[] = [];
    for (const [i, fraction] of FRACTIONS.entries()) {
      const rate = Math.max(1, Math.round(full * fraction));
      const f = await measureAt(ctx, e, rate);
      const label = `${fraction * 100}%`;
      figures[label] = f;
      out.push(...rows(label, f, i === 0));
    }
    const goal = figures["50%"] as LatencyFigures;
    return {
      parameters: {
        fractions: FRACTIONS,
        ofRate: max !== undefined ? "scenario 2's median" : "2 × --latency-rate",
        connections: ctx.options.connections,
        durationMs: ctx.options.latencyMs,
        fences: e.fences.fences.length,
      },
      // The goal's figures at the top level; each rate's under its share.
      figures: { ...goal, byFraction: figures },
      rows: out,
    };
  },
};

// Scenario 4: end-to-end latency through the embedded hub at a fixed offered rate (half the
// measured maximum): from a fix's publish to the arrival of the event it caused at a subscriber.
// Every vehicle alternates between a point inside exactly one geofence and a point outside all,
// so every fix causes exactly one event (enter, exit, enter, …).

import { fmt, percentile, type Scenario, type ScenarioOutcome } from "../harness/context.ts";
import { alternatingPoints } from "../harness/fences.ts";
import { runLoad } from "../harness/load.ts";
import { wallNow } from "../harness/load-plan.ts";
import { waitForEvents } from "./embedded.ts";

export const latency: Scenario = {
  name: "latency",
  title: "4. Latency: fix published → its event at a subscriber (embedded hub)",
  async run(ctx): Promise<ScenarioOutcome> {
    const e = await ctx.embeddedHub();
    await waitForEvents(e);
    const max = (ctx.results.get("embedded")?.figures as { fixesPerSecond?: number } | undefined)
      ?.fixesPerSecond;
    const rate = Math.max(1, Math.round(max !== undefined ? max / 2 : ctx.options.latencyRate));
    const connections = ctx.options.connections;
    const points = alternatingPoints(e.fences, connections);
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
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const maxMs = latencies[latencies.length - 1] ?? Number.NaN;
    const achieved = (expected / (windowEnd - windowStart)) * 1000;
    return {
      parameters: {
        offeredRate: rate,
        rateFrom: max !== undefined ? "half of scenario 2's median" : "--latency-rate",
        connections,
        durationMs: ctx.options.latencyMs,
        fences: e.fences.fences.length,
      },
      figures: {
        offeredRate: rate,
        achievedRate: achieved,
        fixes: expected,
        eventsMatched: latencies.length,
        behind: result.behind,
        p50Ms: p50,
        p99Ms: p99,
        maxMs,
        ackP50Ms: result.ackLatencyMs.p50,
        ackP99Ms: result.ackLatencyMs.p99,
      },
      rows: [
        {
          measure: "offered rate (each fix causes one event)",
          value: `${fmt.rate(rate)} (sent ${fmt.rate(achieved)}; ${fmt.int(latencies.length)} of ${fmt.int(expected)} events matched)`,
        },
        { measure: "publish → event p50", value: fmt.ms(p50) },
        {
          measure: "publish → event p99",
          value: fmt.ms(p99),
          goal: "≤ 25 ms",
          ...(Number.isFinite(p99) ? { verdict: p99 <= 25 ? "PASS" : "MISS" } : {}),
        },
        { measure: "publish → event max", value: fmt.ms(maxMs) },
        {
          measure: "PUBACK p50 / p99 at this rate",
          value: `${fmt.ms(result.ackLatencyMs.p50)} / ${fmt.ms(result.ackLatencyMs.p99)}`,
        },
      ],
    };
  },
};

// Scenario 1, the limit: the same publishers through a bare broker to one bare QoS 1 subscriber,
// with no hub logic at all. Measured for aedes (the embedded hub's broker, alone in a process)
// and for Mosquitto (a throwaway one on a free port).

import mqtt from "mqtt";
import { type BenchBroker, startAedes, startBenchMosquitto } from "../harness/brokers.ts";
import {
  type BenchContext,
  fmt,
  median,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from "../harness/context.ts";
import { runLoad } from "../harness/load.ts";
import { processCpuSeconds } from "../harness/versions.ts";

export interface BaselineFigures {
  /** Messages per second delivered to the subscriber, median of the runs. */
  messagesPerSecond: number;
  runs: number[];
  /** Publisher PUBACKs per second, median. */
  ackedPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Broker CPU time per message, µs. */
  brokerCpuUsPerMessage: number | null;
  /**
   * CPU time per message of every process taking part, µs (medians): what the throughput on a
   * machine whose cores are all busy comes down to, and less disturbed by other load than rates.
   */
  cpuUsPerMessage: { publishers: number; broker: number | null; subscriber: number };
}

async function measure(ctx: BenchContext, broker: BenchBroker): Promise<BaselineFigures> {
  const subscriber = await mqtt.connectAsync(broker.url, {
    clientId: "bench-baseline-subscriber",
    reconnectPeriod: 0,
  });
  try {
    let received = 0;
    subscriber.on("message", () => {
      received++;
    });
    await subscriber.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
    const rates: number[] = [];
    const acked: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const cpu: number[] = [];
    const publisherCpu: number[] = [];
    const subscriberCpu: number[] = [];
    for (let run = 0; run < ctx.options.runs; run++) {
      let atStart = 0;
      let atEnd = 0;
      let cpuStart: number | null = null;
      let cpuEnd: number | null = null;
      let ownStart = process.cpuUsage();
      let own = { user: 0, system: 0 };
      const result = await runLoad(ctx.plan(broker.url, `base${run}-v`), {
        onWindowStart: () => {
          atStart = received;
          cpuStart = broker.pid === null ? null : processCpuSeconds(broker.pid);
          ownStart = process.cpuUsage();
        },
        onWindowEnd: () => {
          atEnd = received;
          cpuEnd = broker.pid === null ? null : processCpuSeconds(broker.pid);
          own = process.cpuUsage(ownStart);
        },
      });
      if (result.errors.length > 0) throw new Error(`publishers: ${result.errors.join("; ")}`);
      const seconds = result.windowMs / 1000;
      rates.push((atEnd - atStart) / seconds);
      acked.push(result.ackedInWindow / seconds);
      p50.push(result.ackLatencyMs.p50);
      p99.push(result.ackLatencyMs.p99);
      if (cpuStart !== null && cpuEnd !== null && atEnd > atStart) {
        cpu.push(((cpuEnd - cpuStart) / (atEnd - atStart)) * 1e6);
      }
      if (result.acked > 0) publisherCpu.push((result.cpuSeconds / result.acked) * 1e6);
      if (atEnd > atStart) subscriberCpu.push((own.user + own.system) / (atEnd - atStart));
    }
    return {
      messagesPerSecond: median(rates),
      runs: rates,
      ackedPerSecond: median(acked),
      ackP50Ms: median(p50),
      ackP99Ms: median(p99),
      brokerCpuUsPerMessage: cpu.length > 0 ? median(cpu) : null,
      cpuUsPerMessage: {
        publishers: median(publisherCpu),
        broker: cpu.length > 0 ? median(cpu) : null,
        subscriber: median(subscriberCpu),
      },
    };
  } finally {
    await subscriber.endAsync(true);
  }
}

function rows(label: string, f: BaselineFigures): Row[] {
  const out: Row[] = [
    {
      measure: `${label}: QoS 1 msg/s to a bare subscriber`,
      value: `${fmt.rate(f.messagesPerSecond)} (runs ${f.runs.map(fmt.int).join(", ")})`,
    },
    {
      measure: `${label}: PUBACK p50 / p99`,
      value: `${fmt.ms(f.ackP50Ms)} / ${fmt.ms(f.ackP99Ms)}`,
    },
  ];
  const c = f.cpuUsPerMessage;
  out.push({
    measure: `${label}: CPU per message: publishers / broker / subscriber`,
    value: `${c.publishers.toFixed(1)} / ${c.broker === null ? "n/a" : c.broker.toFixed(1)} / ${c.subscriber.toFixed(1)} µs`,
  });
  return out;
}

export const baseline: Scenario = {
  name: "baseline",
  title: "1. Baseline: publishers → broker → bare QoS 1 subscriber",
  async run(ctx): Promise<ScenarioOutcome> {
    const figures: Record<string, unknown> = {};
    const out: Row[] = [];
    const aedes = await startAedes();
    try {
      const f = await measure(ctx, aedes);
      figures.aedes = f;
      out.push(...rows("aedes", f));
    } finally {
      await aedes.stop();
    }
    const mosquitto = await startBenchMosquitto();
    if ("unavailable" in mosquitto) {
      figures.mosquitto = { unavailable: mosquitto.unavailable };
      out.push({ measure: "mosquitto", value: `not available: ${mosquitto.unavailable}` });
    } else {
      try {
        const f = await measure(ctx, mosquitto);
        figures.mosquitto = f;
        out.push(...rows("mosquitto", f));
      } finally {
        await mosquitto.stop();
      }
    }
    return {
      parameters: {
        connections: ctx.options.connections,
        window: ctx.options.window,
        durationMs: ctx.options.durationMs,
        warmupMs: ctx.options.warmupMs,
        runs: ctx.options.runs,
        payload: "one fix per message, JSON {latitude, longitude, ts, seq}",
        subscriber: "one MQTT.js client, QoS 1, locus/vehicles/+/location",
        mosquittoConfig: "set_tcp_nodelay true, max_inflight_messages 0, no persistence",
      },
      figures,
      rows: out,
    };
  },
};

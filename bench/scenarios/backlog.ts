// Scenario 5: an agent comes back after a day offline. Its SQLite buffer holds 86,400 fixes (24 h
// at 1 Hz); the agent (the real delivery loop, batches of up to 1000 fixes, 16 messages in
// flight) sends them to the embedded hub. Measured: seconds from start until every fix is
// acknowledged, which the hub does only once they are stored.

import fs from "node:fs";
import path from "node:path";
import { Agent, SqliteBuffer } from "@locus/agent";
import { tempDir } from "../../tests/support/hub-process.ts";
import { fmt, type Scenario, type ScenarioOutcome } from "../harness/context.ts";
import { committedFixes } from "../harness/hub.ts";

export const backlog: Scenario = {
  name: "backlog",
  title: "5. Agent backlog drain into the embedded hub",
  async run(ctx): Promise<ScenarioOutcome> {
    const e = await ctx.embeddedHub();
    const count = ctx.options.backlogFixes;
    const dir = tempDir("locus-bench-agent-");
    const file = path.join(dir, "buffer.db");
    const vehicleId = `${e.vehiclePrefix("backlog")}0`;
    try {
      // Filling is not measured: synchronous=normal so it takes a second, not 86,400 fsyncs.
      const filling = SqliteBuffer.open(file, { synchronous: "normal" });
      const [west, south, east, north] = e.fences.box;
      const t0 = Date.now() - count * 1000;
      try {
        for (let i = 0; i < count; i++) {
          const f = i / count;
          filling.put({
            ts: t0 + i * 1000,
            latitude: south + (north - south) * (0.5 + 0.4 * Math.sin(f * 40)),
            longitude: west + (east - west) * f,
            speed: 12,
          });
        }
      } finally {
        filling.close();
      }

      // Delivery as a real agent runs it: the default buffer (synchronous=full) and options.
      const buffer = SqliteBuffer.open(file);
      const before = await committedFixes(e.hub);
      const agent = new Agent({ vehicleId, brokerUrl: e.hub.mqttUrl, buffer });
      const started = performance.now();
      let seconds: number;
      try {
        agent.start();
        await agent.drained();
        seconds = (performance.now() - started) / 1000;
      } finally {
        await agent.stop();
        buffer.close();
      }
      const stored = (await committedFixes(e.hub)) - before;
      const stats = agent.stats();
      return {
        parameters: {
          fixes: count,
          agent: "default options: batches of up to 1000 fixes, 16 messages in flight",
          buffer: "SQLite, synchronous=full while draining",
        },
        figures: { seconds, fixesPerSecond: count / seconds, stored, acked: stats.acked },
        rows: [
          {
            measure: `${fmt.int(count)} buffered fixes acknowledged (and stored)`,
            value: `${fmt.s(seconds)} (${fmt.rate(count / seconds)}; hub stored ${fmt.int(stored)})`,
            goal: "≤ 10 s",
            verdict: seconds <= 10 && stored >= count ? "PASS" : "MISS",
          },
        ],
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

// `npm run simulate`: starts the fleet, reports progress, stops after --duration or on a signal,
// and prints the summary. Exit codes: 0 a clean stop, 1 the fleet could not start.

import fs from "node:fs";
import { redactUrl } from "@locus/protocol";
import { Fleet, type FleetReport } from "../fleet/fleet.ts";
import { formatMs } from "../fleet/format.ts";
import type { SimulateConfig } from "./args.ts";
import { progressLine, summaryLines } from "./progress.ts";

export interface RunDeps {
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  out: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  err: { write(s: string): unknown };
}

/** How long a run that reached --duration waits for the agents to deliver what they hold. */
const DRAIN_MS = 10_000;
const TTY_EVERY_MS = 1000;
const PLAIN_EVERY_MS = 5000;

export async function runSimulation(config: SimulateConfig, deps: RunDeps): Promise<number> {
  const { out, err } = deps;
  const tty = out.isTTY === true;
  let lineShown = false;
  const print = (line: string) => {
    out.write(tty && lineShown ? `\r\x1b[K${line}\n` : `${line}\n`);
    lineShown = false;
  };

  const warning = fileLimitWarning(config);
  if (warning) err.write(`locus simulate: warning: ${warning}\n`);
  print(header(config));

  if (deps.signal.aborted) return 0;
  let fleet: Fleet;
  try {
    fleet = await Fleet.start({ ...config, onNotice: (line) => print(line) });
  } catch (e) {
    err.write(`locus simulate: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const startedAt = Date.now();

  let lastAcked = 0;
  let lastAt = startedAt;
  const report = () => {
    for (const line of fleet.takeNotices()) print(`agents: ${line}`);
    if (config.quiet) return;
    const now = Date.now();
    const s = fleet.stats();
    const rate = ((s.acked - lastAcked) * 1000) / Math.max(1, now - lastAt);
    lastAcked = s.acked;
    lastAt = now;
    const line = progressLine(s, now - startedAt, rate);
    if (tty) {
      out.write(`\r\x1b[K${line}`);
      lineShown = true;
    } else {
      out.write(`${line}\n`);
    }
  };
  const ticker = setInterval(report, tty ? TTY_EVERY_MS : PLAIN_EVERY_MS);

  const why = await new Promise<string>((resolve) => {
    const timer =
      config.durationMs === null
        ? null
        : setTimeout(() => resolve("--duration reached"), config.durationMs);
    const onAbort = () => {
      if (timer) clearTimeout(timer);
      resolve("interrupted");
    };
    if (deps.signal.aborted) onAbort();
    deps.signal.addEventListener("abort", onAbort, { once: true });
  });
  clearInterval(ticker);
  const interrupted = why === "interrupted";
  if (!interrupted && !config.quiet) report();
  // The last progress line stays on screen.
  if (lineShown) out.write("\n");
  lineShown = false;
  print(
    interrupted
      ? `locus simulate: stopping: agents wait for what is in flight; the rest stays buffered${config.buffer.kind === "memory" ? " (in memory: counted below, then gone)" : ""}`
      : `locus simulate: time is up; waiting up to ${formatMs(DRAIN_MS)} for the agents to deliver what they hold`,
  );
  const final: FleetReport = await fleet.stop({ drainMs: interrupted ? 0 : DRAIN_MS });
  for (const line of fleet.takeNotices()) print(`agents: ${line}`);
  for (const line of summaryLines(final, Date.now() - startedAt, why)) print(line);
  return 0;
}

function header(c: SimulateConfig): string {
  const where =
    c.motion.kind === "routes"
      ? `${c.motion.routes.length} route(s)`
      : `${c.motion.kind} in ${c.motion.bbox.west},${c.motion.bbox.south},${c.motion.bbox.east},${c.motion.bbox.north}`;
  const parts = [
    `locus simulate: ${c.vehicles.toLocaleString("en-US")} vehicles, a fix every ${formatMs(c.intervalMs)}`,
    where,
    `seed ${c.seed}${c.seedGiven ? "" : " (random; --seed to repeat)"}`,
    `broker ${redactUrl(c.brokerUrl)}`,
    c.durationMs === null ? "until Ctrl-C" : `for ${formatMs(c.durationMs)}`,
  ];
  if (c.outage) {
    parts.push(`outage at ${formatMs(c.outage.startMs)} for ${formatMs(c.outage.lengthMs)}`);
  }
  return parts.join(", ");
}

/**
 * A warning when the process may run out of file descriptors: each vehicle holds a socket, two
 * more with --outage (the relay's), and about three files with SQLite buffers.
 */
function fileLimitWarning(c: SimulateConfig): string | null {
  let limit: number;
  try {
    const limits = fs.readFileSync("/proc/self/limits", "utf8");
    const m = /^Max open files\s+(\d+)/m.exec(limits);
    if (!m) return null;
    limit = Number(m[1]);
  } catch {
    return null; // not Linux: nothing to read the limit from
  }
  const perVehicle = 1 + (c.outage ? 2 : 0) + (c.buffer.kind === "sqlite" ? 3 : 0);
  const need = c.vehicles * perVehicle + 64;
  if (need <= limit) return null;
  return (
    `${c.vehicles.toLocaleString("en-US")} vehicles need about ${need.toLocaleString("en-US")} open files ` +
    `but the limit is ${limit.toLocaleString("en-US")} (ulimit -n); some will fail to connect`
  );
}

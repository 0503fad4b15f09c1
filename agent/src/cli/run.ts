// `locus-agent --vehicle-id … --broker …`: wires a source, a buffer and the delivery loop, and
// stops cleanly on abort (SIGINT/SIGTERM) or when the source ends and everything is delivered.

import { redactUrl } from "@locus/protocol";
import type { FixBuffer } from "../buffer/buffer.ts";
import { BufferError } from "../buffer/buffer.ts";
import { MemoryBuffer } from "../buffer/memory.ts";
import { SqliteBuffer } from "../buffer/sqlite.ts";
import { Agent, InvalidFixError } from "../delivery/agent.ts";
import type { SourceFix, SourceOptions } from "../sources/index.ts";
import type { RunConfig } from "./args.ts";
import { createCliLog } from "./log.ts";

export interface RunDeps {
  openSource(spec: string, options: SourceOptions): AsyncIterable<SourceFix>;
  /** Aborted on SIGINT/SIGTERM: stop reading, wait briefly for acks, exit 0. */
  signal: AbortSignal;
  /** Writes a line (with its newline) to stderr. */
  write(line: string): void;
  now?: () => number;
}

/** Exit codes: 0 a clean stop, 1 a runtime failure, 2 a bad --source. */
export async function runAgent(config: RunConfig, deps: RunDeps): Promise<number> {
  const { write, signal } = deps;
  const now = deps.now ?? Date.now;
  const { log, throttled } = createCliLog(write, config.verbose, now);

  const reading = new AbortController();
  let fixes: AsyncIterable<SourceFix>;
  try {
    fixes = deps.openSource(config.source, {
      signal: reading.signal,
      onInvalid: (reason) =>
        throttled("invalid", "warn", `skipped invalid input from ${config.source}: ${reason}`),
    });
  } catch (err) {
    write(`locus-agent: --source: ${message(err)}\n`);
    return 2;
  }

  let buffer: FixBuffer;
  try {
    buffer =
      config.buffer === "memory"
        ? new MemoryBuffer({ maxFixes: config.maxBuffer })
        : SqliteBuffer.open(config.buffer, { maxFixes: config.maxBuffer });
  } catch (err) {
    write(`locus-agent: ${message(err)}\n`);
    return 1;
  }

  const agent = new Agent({
    vehicleId: config.vehicleId,
    brokerUrl: config.brokerUrl,
    buffer,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.ca !== undefined ? { ca: config.ca } : {}),
    ...(config.clientId !== undefined ? { clientId: config.clientId } : {}),
    reconnectMaxMs: config.reconnectMaxMs,
    reconnectInitialMs: Math.min(1000, config.reconnectMaxMs),
    now,
    log,
  });
  const stats = buffer.stats();
  write(
    `locus-agent: ${config.vehicleId} -> ${redactUrl(config.brokerUrl)}` +
      `${config.caFile !== undefined ? ` (trusting the CA in ${config.caFile})` : ""}` +
      `${config.username !== undefined ? ` as ${config.username}` : ""}, source ${config.source}, ` +
      `buffer ${config.buffer} (${stats.depth} waiting, next seq ${stats.nextSeq}` +
      `${stats.dropped > 0 ? `, ${stats.dropped} dropped so far` : ""})\n`,
  );
  agent.start();

  const stopped = new Promise<"signal">((resolve) => {
    if (signal.aborted) resolve("signal");
    signal.addEventListener("abort", () => resolve("signal"), { once: true });
  });
  let code = 0;
  const outcome = await Promise.race([read(fixes, agent, reading.signal, throttled), stopped]);
  if (outcome === "ended") {
    log("debug", `${config.source} ended; delivering ${buffer.depth()} buffered fixes`);
    await Promise.race([agent.drained(), stopped]);
  } else if (outcome !== "signal") {
    write(`locus-agent: error: source ${config.source}: ${message(outcome.error)}\n`);
    code = 1;
  }
  reading.abort();
  await agent.stop();
  const left = buffer.depth();
  buffer.close();
  if (left > 0) {
    log("info", `stopped; ${left} unacknowledged fixes stay in ${config.buffer}`);
  }
  return code;
}

type Throttled = ReturnType<typeof createCliLog>["throttled"];

// Pushes every fix the source yields until it ends or `stop` aborts. A fix that cannot be
// buffered is reported (throttled) and reading goes on: the disk may free up again.
async function read(
  fixes: AsyncIterable<SourceFix>,
  agent: Agent,
  stop: AbortSignal,
  throttled: Throttled,
): Promise<"ended" | { error: unknown }> {
  try {
    for await (const fix of fixes) {
      if (stop.aborted) break;
      try {
        agent.push(fix);
      } catch (err) {
        if (err instanceof InvalidFixError) {
          throttled("invalid", "warn", `skipped ${err.message}`);
        } else if (err instanceof BufferError) {
          throttled("buffer", "error", err.message);
        } else {
          throw err;
        }
      }
    }
    return "ended";
  } catch (error) {
    return { error };
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

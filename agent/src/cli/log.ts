// The agent's log: plain lines on stderr, quiet by default (warnings, errors and a few lines an
// operator needs), every connection change with --verbose. Repeated problems are throttled.

import type { AgentLog, AgentLogLevel } from "../delivery/agent.ts";

const PREFIX: Record<AgentLogLevel, string> = {
  debug: "locus-agent: ",
  info: "locus-agent: ",
  warn: "locus-agent: warning: ",
  error: "locus-agent: error: ",
};

export interface CliLog {
  /** For the Agent: debug lines only with --verbose. */
  log: AgentLog;
  /**
   * A problem that may repeat (one per input line, say): the first is written at once, then at
   * most one line per interval per key, counting the ones left out.
   */
  throttled(key: string, level: AgentLogLevel, message: string): void;
}

export function createCliLog(
  write: (line: string) => void,
  verbose: boolean,
  now: () => number = Date.now,
  intervalMs = 60_000,
): CliLog {
  const log: AgentLog = (level, message) => {
    if (level === "debug" && !verbose) return;
    write(`${PREFIX[level]}${message}\n`);
  };
  const seen = new Map<string, { at: number; skipped: number }>();
  return {
    log,
    throttled(key, level, message) {
      const t = now();
      const entry = seen.get(key);
      if (entry !== undefined && t - entry.at < intervalMs) {
        entry.skipped++;
        return;
      }
      const more = entry && entry.skipped > 0 ? ` (and ${entry.skipped} more like it)` : "";
      seen.set(key, { at: t, skipped: 0 });
      log(level, `${message}${more}`);
    },
  };
}

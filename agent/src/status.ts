// `locus-agent status --buffer PATH [--json]`: what a buffer file holds, read without changing it
// (also while an agent runs on it).

import { formatTs } from "@locus/protocol";
import type { BufferStats } from "./buffer/buffer.ts";
import { readBufferStats } from "./buffer/sqlite.ts";

/** The `--json` answer; times in RFC 3339 UTC. */
export interface StatusJson {
  buffer: string;
  depth: number;
  oldest: { seq: number; ts: string } | null;
  last_ack: { seq: number; at: string } | null;
  dropped: number;
  next_seq: number;
}

export function statusJson(buffer: string, stats: BufferStats): StatusJson {
  return {
    buffer,
    depth: stats.depth,
    oldest: stats.oldest === null ? null : { seq: stats.oldest.seq, ts: formatTs(stats.oldest.ts) },
    last_ack:
      stats.lastAck === null ? null : { seq: stats.lastAck.seq, at: formatTs(stats.lastAck.at) },
    dropped: stats.dropped,
    next_seq: stats.nextSeq,
  };
}

export function statusText(buffer: string, stats: BufferStats): string {
  const s = statusJson(buffer, stats);
  const rows: [string, string][] = [
    ["buffer", s.buffer],
    ["depth", `${s.depth} ${s.depth === 1 ? "fix" : "fixes"} waiting`],
    ["oldest", s.oldest === null ? "none" : `seq ${s.oldest.seq}, ts ${s.oldest.ts}`],
    ["last ack", s.last_ack === null ? "never" : `seq ${s.last_ack.seq} at ${s.last_ack.at}`],
    ["dropped", `${s.dropped}${s.dropped > 0 ? " (buffer was full)" : ""}`],
    ["next seq", String(s.next_seq)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(10)}${v}\n`).join("");
}

/** Prints the status of the buffer at `file`; returns the exit code. */
export function runStatus(
  file: string,
  json: boolean,
  out: (text: string) => void,
  err: (line: string) => void,
): number {
  let stats: BufferStats;
  try {
    stats = readBufferStats(file);
  } catch (e) {
    err(e instanceof Error ? e.message : String(e));
    return 1;
  }
  out(json ? `${JSON.stringify(statusJson(file, stats))}\n` : statusText(file, stats));
  return 0;
}

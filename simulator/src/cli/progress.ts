// What the simulator prints: a progress line (rewritten in place on a terminal, a plain line every
// few seconds otherwise) and the summary at the end.

import type { FleetReport, FleetStats } from "../fleet/fleet.ts";
import { formatMs } from "../fleet/format.ts";

const n = (v: number) => v.toLocaleString("en-US");

/** One progress line: counters, and the acknowledged fixes per second since the last line. */
export function progressLine(s: FleetStats, elapsedMs: number, ackedPerSecond: number): string {
  const parts = [
    `[${clock(elapsedMs)}]`,
    `connected ${n(s.connected)}/${n(s.vehicles)}`,
    `sent ${n(s.sent)}`,
    `acked ${n(s.acked)}`,
    `buffered ${n(s.buffered)}`,
    `events ${s.eventsWatcher === "refused" ? "(not allowed to subscribe)" : n(s.events)}`,
    `${n(Math.round(ackedPerSecond))} fixes/s`,
  ];
  if (s.started < s.vehicles) parts.push(`(starting ${n(s.started)}/${n(s.vehicles)})`);
  if (s.outage === "active") parts.push("(outage)");
  if (s.dropped > 0) parts.push(`dropped ${n(s.dropped)}`);
  return parts.join("  ");
}

/** The summary printed at the end. */
export function summaryLines(r: FleetReport, elapsedMs: number, why: string): string[] {
  const lines = [
    `locus simulate: stopped (${why}) after ${formatMs(elapsedMs)}`,
    `  vehicles      ${n(r.vehicles)} (${n(r.connections)} connections made)`,
    `  fixes         ${n(r.produced)} produced, ${n(r.sent)} sent (${n(r.resent)} resent), ` +
      `${n(r.acked)} acknowledged, ${n(r.buffered)} still buffered, ${n(r.dropped)} dropped`,
    `  events seen   ${r.eventsWatcher === "refused" ? "(not allowed to subscribe)" : n(r.events)}`,
    `  rate          ${n(Math.round(r.acked / Math.max(elapsedMs / 1000, 0.001)))} acknowledged fixes/s on average`,
  ];
  if (r.failed > 0) lines.push(`  failed        ${n(r.failed)} fixes could not be buffered`);
  if (r.bufferDir !== null) lines.push(`  buffers       ${r.bufferDir}`);
  return lines;
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

// Flag values: durations, numbers and the box, each checked with a message that names the flag.

import type { BBox } from "../motion/frame.ts";
import { UsageError } from "./usage-error.ts";

/** Smallest and largest side of the box, metres. */
const MIN_BOX_M = 300;
const MAX_BOX_M = 200_000;

/** The box of `--bbox W,S,E,N`, a city-sized one. */
export function bbox(raw: string): BBox {
  const parts = raw.split(",").map((p) => p.trim());
  const nums = parts.map(Number);
  const bad = (why: string) =>
    new UsageError(`--bbox: ${JSON.stringify(raw)} ${why} (expected W,S,E,N in degrees)`);
  if (parts.length !== 4 || parts.some((p) => p === "") || nums.some((n) => !Number.isFinite(n))) {
    throw bad("is not four numbers");
  }
  const [west, south, east, north] = nums as [number, number, number, number];
  if (west < -180 || east > 180 || south < -85 || north > 85) throw bad("is out of range");
  if (!(west < east) || !(south < north)) throw bad("must have W < E and S < N");
  const mid = ((south + north) / 2) * (Math.PI / 180);
  const widthM = (east - west) * 111_195 * Math.cos(mid);
  const heightM = (north - south) * 111_195;
  if (Math.min(widthM, heightM) < MIN_BOX_M || Math.max(widthM, heightM) > MAX_BOX_M) {
    throw bad(`must be ${MIN_BOX_M} m to ${MAX_BOX_M / 1000} km on each side`);
  }
  return { west, south, east, north };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "1s", "1.5s", "10m", "2h" in ms; undefined when not a duration. */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}

/** A duration flag within [minMs, maxMs]; undefined when the flag is absent. */
export function duration(
  name: string,
  raw: string | undefined,
  minMs: number,
  maxMs: number,
): number | undefined {
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    const unitless = /^\d+(\.\d+)?$/.test(raw.trim());
    throw new UsageError(
      unitless
        ? `--${name}: ${JSON.stringify(raw)} needs a unit, e.g. 500ms, 1s, 10m`
        : `--${name}: ${JSON.stringify(raw)} is not a duration from ${fmt(minMs)} to ${fmt(maxMs)} (e.g. 500ms, 1s, 10m)`,
    );
  }
  return ms;
}

function fmt(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A whole-number flag within [min, max]; undefined when the flag is absent. */
export function integer(name: string, raw: string | undefined, min: number, max: number) {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${name}: ${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** A number flag within [min, max]; undefined when the flag is absent. */
export function number(name: string, raw: string | undefined, min: number, max: number) {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name}: ${JSON.stringify(raw)} is not a number from ${min} to ${max}`);
  }
  return value;
}

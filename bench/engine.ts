// Micro-benchmark of the geofence engine: index build, point lookups, fixes through judgeFix, and
// index churn; then lookups again on a catalogue where circles and corridors replace a share of the
// polygons. Run `npx tsx bench/engine.ts [--fences N] [--points N] [--runs N] [--json PATH]`;
// other benchmarks call `runEngineBench` and get the figures as an object.

import { writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Fence, Position, Ring } from "../hub/src/geofence/fence.ts";
import { compileFence, geometryCovers } from "../hub/src/geofence/geometry.ts";
import {
  DEFAULT_JUDGE_OPTIONS,
  EMPTY_VEHICLE_STATE,
  judgeFix,
  type VehicleState,
} from "../hub/src/geofence/membership.ts";
import { MemoryFenceIndex } from "../hub/src/geofence/memory-index.ts";
import { validateGeometry } from "../hub/src/geofence/validate.ts";
import { mulberry32 } from "../tests/support/random.ts";

export interface EngineBenchOptions {
  fences: number;
  points: number;
  /** Lookup passes over all points; the median is reported. */
  runs: number;
  seed: number;
  vehicles: number;
  /** Points whose lookup is checked against a brute-force scan of every fence. */
  verifyPoints: number;
  /** Upserts and removes in the churn phase (each). */
  churnOps: number;
}

export interface EngineBenchResult {
  machine: { cpu: string; cores: number; node: string; platform: string };
  fences: number;
  polygons: number;
  vertices: number;
  points: number;
  /** Bulk `load` of every fence into an empty index. */
  buildMs: number;
  /** The same fences upserted one at a time (amortised rebuilds included). */
  incrementalBuildMs: number;
  /** Single-point synchronous lookups per second, median of `runs` passes. */
  lookupsPerSec: number;
  lookupRunsPerSec: number[];
  /**
   * The same lookups per second of CPU time the process used: steadier than wall-clock rates when
   * the machine is shared, since time spent waiting for a core is left out.
   */
  lookupsPerCpuSec: number;
  /** Share of points covered by at least one fence. */
  coveredFraction: number;
  /** Lookup plus judgeFix per fix, over `vehicles` vehicles. */
  fixesPerSec: number;
  transitions: number;
  upsertsPerSec: number;
  removesPerSec: number;
  /** Lookups right after churn, while changes sit in the overlay. */
  lookupsPerSecAfterChurn: number;
  verified: { points: number; mismatches: number };
  /** validateGeometry on one ring of 100,000 vertices (the REST cap), median of 3, ms. */
  validate100kMs: number;
  /** The same number of fences, 20% circles and 10% corridors among the polygons. */
  mixed: MixedResult;
}

export interface MixedResult {
  polygons: number;
  circles: number;
  corridors: number;
  /** Corridor segments in all. */
  segments: number;
  buildMs: number;
  lookupsPerSec: number;
  lookupsPerCpuSec: number;
  coveredFraction: number;
  /** Lookup plus judgeFix per fix (hysteresis measured to circles' and corridors' edges too). */
  fixesPerSec: number;
  verified: { points: number; mismatches: number };
}

export const DEFAULT_ENGINE_BENCH_OPTIONS: EngineBenchOptions = {
  fences: 10_000,
  points: 1_000_000,
  runs: 5,
  seed: 42,
  vehicles: 10_000,
  verifyPoints: 5_000,
  churnOps: 2_000,
};

/** The area fences and points are spread over: [west, south, east, north] degrees. */
export type Box = readonly [number, number, number, number];

/** A square near Berlin, 100 km wide for 10k fences, scaled so fence density stays the same. */
export function boxFor(fences: number): Box {
  const sideM = 100_000 * Math.sqrt(Math.max(fences, 1) / 10_000);
  const south = 52.0;
  const north = south + sideM / 111_195;
  const west = 13.0;
  const east = west + sideM / (111_195 * Math.cos(((south + north) / 2) * (Math.PI / 180)));
  return [west, south, east, north];
}

/** Runs every measurement and returns the figures. */
export function runEngineBench(overrides: Partial<EngineBenchOptions> = {}): EngineBenchResult {
  const opts = { ...DEFAULT_ENGINE_BENCH_OPTIONS, ...overrides };
  const random = mulberry32(opts.seed);
  const box = boxFor(opts.fences);
  const [west, south, east, north] = box;
  const fences = Array.from({ length: opts.fences }, (_, i) => randomFence(`f${i}`, box, random));
  const xs = new Float64Array(opts.points);
  const ys = new Float64Array(opts.points);
  for (let i = 0; i < opts.points; i++) {
    xs[i] = west + random() * (east - west);
    ys[i] = south + random() * (north - south);
  }

  let t = performance.now();
  const index = new MemoryFenceIndex();
  index.load(fences);
  const buildMs = performance.now() - t;

  t = performance.now();
  const incremental = new MemoryFenceIndex();
  for (const fence of fences) incremental.upsert(fence);
  const incrementalBuildMs = performance.now() - t;

  const lookupRunsPerSec: number[] = [];
  const lookupRunsPerCpuSec: number[] = [];
  let covered = 0;
  for (let run = 0; run < Math.max(1, opts.runs); run++) {
    const pass = lookupPass(index, xs, ys);
    lookupRunsPerSec.push(pass.perSec);
    lookupRunsPerCpuSec.push(pass.perCpuSec);
    covered = pass.covered;
  }

  const engine = enginePass(index, box, opts, random);

  let mismatches = verify(index, xs, ys, opts.verifyPoints);
  const churn = churnPass(index, box, fences, opts.churnOps, random);
  const afterChurn = lookupPass(index, xs, ys).perSec;
  mismatches += verify(index, xs, ys, opts.verifyPoints);

  const validate100kMs = timeValidation();
  const mixed = mixedPass(box, xs, ys, opts, random);

  const cpu = os.cpus()[0];
  return {
    validate100kMs,
    mixed,
    machine: {
      cpu: cpu?.model ?? "unknown",
      cores: os.cpus().length,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
    },
    fences: fences.length,
    polygons: fences.reduce((n, f) => n + f.polygons.length, 0),
    vertices: fences.reduce((n, f) => n + countVertices(f), 0),
    points: opts.points,
    buildMs,
    incrementalBuildMs,
    lookupsPerSec: median(lookupRunsPerSec),
    lookupRunsPerSec,
    lookupsPerCpuSec: median(lookupRunsPerCpuSec),
    coveredFraction: opts.points > 0 ? covered / opts.points : 0,
    fixesPerSec: engine.perSec,
    transitions: engine.transitions,
    upsertsPerSec: churn.upsertsPerSec,
    removesPerSec: churn.removesPerSec,
    lookupsPerSecAfterChurn: afterChurn,
    verified: { points: 2 * Math.min(opts.verifyPoints, opts.points), mismatches },
  };
}

function lookupPass(index: MemoryFenceIndex, xs: Float64Array, ys: Float64Array) {
  const out: string[] = [];
  let covered = 0;
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < xs.length; i++) {
    if (index.coveringPoint(xs[i] as number, ys[i] as number, out).length > 0) covered++;
  }
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return { perSec: xs.length / seconds, perCpuSec: xs.length / cpuSeconds, covered };
}

/** Vehicles on random walks at road speeds, one fix each in turn, through lookup and judgeFix. */
function enginePass(
  index: MemoryFenceIndex,
  [west, south, east, north]: Box,
  opts: EngineBenchOptions,
  random: () => number,
) {
  const vehicles = Math.max(1, Math.min(opts.vehicles, opts.points));
  const count = opts.points;
  const lon = new Float64Array(count);
  const lat = new Float64Array(count);
  const ts = new Float64Array(count);
  const pos = Array.from({ length: vehicles }, () => ({
    x: west + random() * (east - west),
    y: south + random() * (north - south),
    heading: random() * 2 * Math.PI,
    ts: 1_800_000_000_000,
  }));
  for (let i = 0; i < count; i++) {
    const p = pos[i % vehicles] as (typeof pos)[number];
    // 10–50 m per fix, 1–2 s apart: road speeds, turning gently.
    const step = 10 + random() * 40;
    p.heading += (random() - 0.5) * 0.6;
    [p.x, p.y] = offset(p.x, p.y, Math.cos(p.heading) * step, Math.sin(p.heading) * step);
    if (p.x < west || p.x > east || p.y < south || p.y > north) {
      p.heading += Math.PI;
      p.x = Math.min(east, Math.max(west, p.x));
      p.y = Math.min(north, Math.max(south, p.y));
    }
    p.ts += 1000 + Math.floor(random() * 1000);
    lon[i] = p.x;
    lat[i] = p.y;
    ts[i] = p.ts;
  }
  const states: VehicleState[] = new Array(vehicles).fill(EMPTY_VEHICLE_STATE);
  const out: string[] = [];
  let transitions = 0;
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    const v = i % vehicles;
    const fix = { longitude: lon[i] as number, latitude: lat[i] as number, ts: ts[i] as number };
    const covering = index.coveringPoint(fix.longitude, fix.latitude, out);
    const judged = judgeFix(states[v] as VehicleState, fix, covering, index, DEFAULT_JUDGE_OPTIONS);
    states[v] = judged.state;
    transitions += judged.transitions.length;
  }
  const seconds = (performance.now() - t) / 1000;
  return { perSec: count / seconds, transitions };
}

/** Lookups, judging and a brute-force check on a catalogue with circles and corridors. */
function mixedPass(
  box: Box,
  xs: Float64Array,
  ys: Float64Array,
  opts: EngineBenchOptions,
  random: () => number,
): MixedResult {
  const fences = Array.from({ length: opts.fences }, (_, i) => mixedFence(`m${i}`, box, random));
  for (const f of fences) {
    if (f.hysteresis_m === undefined && random() < 0.5) f.hysteresis_m = 20;
  }
  const t = performance.now();
  const index = new MemoryFenceIndex();
  index.load(fences);
  const buildMs = performance.now() - t;
  const rates: number[] = [];
  const cpuRates: number[] = [];
  let covered = 0;
  for (let run = 0; run < Math.max(1, opts.runs); run++) {
    const pass = lookupPass(index, xs, ys);
    rates.push(pass.perSec);
    cpuRates.push(pass.perCpuSec);
    covered = pass.covered;
  }
  const engine = enginePass(index, box, opts, random);
  const checked = Math.min(opts.verifyPoints, opts.points);
  return {
    polygons: fences.filter((f) => f.polygons.length > 0).length,
    circles: fences.filter((f) => f.circle).length,
    corridors: fences.filter((f) => f.corridor).length,
    segments: fences.reduce((n, f) => n + Math.max(0, (f.corridor?.line.length ?? 1) - 1), 0),
    buildMs,
    lookupsPerSec: median(rates),
    lookupsPerCpuSec: median(cpuRates),
    coveredFraction: opts.points > 0 ? covered / opts.points : 0,
    fixesPerSec: engine.perSec,
    verified: { points: checked, mismatches: verify(index, xs, ys, opts.verifyPoints) },
  };
}

/**
 * 20% circles (radius 50 m-1 km, log-uniform), 10% corridors (3-20 positions 100-500 m apart,
 * 10-200 m wide: roads and routes), the rest polygons as randomFence makes them.
 */
export function mixedFence(id: string, box: Box, random: () => number): Fence {
  const kind = random();
  if (kind >= 0.3) return randomFence(id, box, random);
  const [west, south, east, north] = box;
  const start: Position = [west + random() * (east - west), south + random() * (north - south)];
  if (kind < 0.2) {
    return { id, name: id, polygons: [], circle: { center: start, radius_m: 50 * 20 ** random() } };
  }
  const line: Position[] = [start];
  let heading = random() * 2 * Math.PI;
  const n = 3 + Math.floor(random() * 18);
  for (let k = 1; k < n; k++) {
    const [x, y] = line[line.length - 1] as Position;
    const step = 100 + random() * 400;
    heading += (random() - 0.5) * 1.2;
    line.push(offset(x, y, Math.cos(heading) * step, Math.sin(heading) * step));
  }
  return { id, name: id, polygons: [], corridor: { line, width_m: 10 + random() * 190 } };
}

/** Replaces, removes and re-adds fences with the index loaded; geometry is made before timing. */
function churnPass(
  index: MemoryFenceIndex,
  box: Box,
  fences: readonly Fence[],
  ops: number,
  random: () => number,
) {
  const n = Math.min(ops, fences.length);
  const ids = Array.from(
    { length: n },
    () => (fences[Math.floor(random() * fences.length)] as Fence).id,
  );
  const replacements = ids.map((id) => randomFence(id, box, random));
  let t = performance.now();
  for (const fence of replacements) index.upsert(fence);
  const replaceMs = performance.now() - t;
  t = performance.now();
  for (const id of ids) index.remove(id);
  const removeMs = performance.now() - t;
  t = performance.now();
  for (const fence of replacements) index.upsert(fence);
  const addMs = performance.now() - t;
  return {
    upsertsPerSec: (2 * n) / ((replaceMs + addMs) / 1000),
    removesPerSec: n / (removeMs / 1000),
  };
}

/** Compares lookups with a scan of every fence; returns the number of disagreeing points. */
function verify(
  index: MemoryFenceIndex,
  xs: Float64Array,
  ys: Float64Array,
  limit: number,
): number {
  const compiled = [...index.fences()].map((f) => ({ id: f.id, geometry: compileFence(f) }));
  let mismatches = 0;
  for (let i = 0; i < Math.min(limit, xs.length); i++) {
    const x = xs[i] as number;
    const y = ys[i] as number;
    const expected = compiled
      .filter((f) => geometryCovers(f.geometry, x, y))
      .map((f) => f.id)
      .sort();
    const actual = index.coveringPoint(x, y);
    if (expected.join("\n") !== actual.join("\n")) mismatches++;
  }
  return mismatches;
}

/** A star-shaped fence of 10–50 vertices, 100 m–2 km across; 10% with a hole, 10% multi-part. */
export function randomFence(
  id: string,
  [west, south, east, north]: Box,
  random: () => number,
): Fence {
  const cx = west + random() * (east - west);
  const cy = south + random() * (north - south);
  // Log-uniform radius: many small sites, few large districts.
  const radius = 50 * 20 ** random();
  const kind = random();
  if (kind < 0.1) {
    const parts = 2 + Math.floor(random() * 2);
    const partRadius = radius / parts;
    const heading = random() * 2 * Math.PI;
    const polygons = Array.from({ length: parts }, (_, k) => {
      const d = k * 2.2 * partRadius;
      const [x, y] = offset(cx, cy, Math.cos(heading) * d, Math.sin(heading) * d);
      return [star(x, y, partRadius, random, false)];
    });
    return { id, name: id, polygons };
  }
  const shell = star(cx, cy, radius, random, false);
  if (kind < 0.2)
    return { id, name: id, polygons: [[shell, star(cx, cy, radius * 0.3, random, true)]] };
  return { id, name: id, polygons: [[shell]] };
}

/** A closed ring around (cx, cy): radii 0.6–1.0 × r at jittered, increasing angles. */
function star(cx: number, cy: number, r: number, random: () => number, clockwise: boolean): Ring {
  const n = 10 + Math.floor(random() * 41);
  const ring: Position[] = [];
  for (let i = 0; i < n; i++) {
    const angle = ((i + random() * 0.8) / n) * 2 * Math.PI * (clockwise ? -1 : 1);
    const m = r * (0.6 + 0.4 * random());
    ring.push(offset(cx, cy, Math.cos(angle) * m, Math.sin(angle) * m));
  }
  ring.push(ring[0] as Position);
  return ring;
}

function offset(lon: number, lat: number, eastM: number, northM: number): Position {
  const dLat = northM / 111_195;
  const dLon = eastM / (111_195 * Math.cos(lat * (Math.PI / 180)));
  return [lon + dLon, lat + dLat];
}

function countVertices(fence: Fence): number {
  let n = 0;
  for (const rings of fence.polygons) for (const ring of rings) n += ring.length - 1;
  return n;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid] as number;
  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const FLAGS: Record<string, keyof EngineBenchOptions> = {
  fences: "fences",
  points: "points",
  runs: "runs",
  seed: "seed",
  vehicles: "vehicles",
  "verify-points": "verifyPoints",
  "churn-ops": "churnOps",
};

/** Reads `--fences N --points N --runs N …` and `--json PATH`; a bad flag is an error. */
function readFlags(args: string[]): { options: Partial<EngineBenchOptions>; json?: string } {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: "string" },
      ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: "string" as const }])),
    },
  });
  const options: Partial<EngineBenchOptions> = {};
  for (const [flag, key] of Object.entries(FLAGS)) {
    const value = (values as Record<string, unknown>)[flag];
    if (typeof value !== "string") continue;
    if (!/^\d+$/.test(value)) throw new Error(`--${flag} needs a whole number, got "${value}"`);
    options[key] = Number(value);
  }
  return typeof values.json === "string" ? { options, json: values.json } : { options };
}

/** Median time to validate a circle-like ring of 100,000 vertices, the API's cap. */
function timeValidation(): number {
  const n = 100_000;
  const ring: [number, number][] = [];
  for (let i = 0; i < n - 1; i++) {
    const a = (2 * Math.PI * i) / (n - 1);
    ring.push([13.4 + 0.05 * Math.cos(a), 52.5 + 0.03 * Math.sin(a)]);
  }
  ring.push(ring[0] as [number, number]);
  const times: number[] = [];
  for (let run = 0; run < 3; run++) {
    const t = performance.now();
    const check = validateGeometry({ type: "Polygon", coordinates: [ring] });
    times.push(performance.now() - t);
    if (!check.ok) throw new Error(`the benchmark ring is invalid: ${check.problem.message}`);
  }
  return times.sort((a, b) => a - b)[1] as number;
}

function printTable(r: EngineBenchResult): void {
  const rate = (n: number) => `${Math.round(n).toLocaleString("en-US")} /s`;
  const rows: [string, string][] = [
    [
      "machine",
      `${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}, ${r.machine.platform}`,
    ],
    ["fences / polygons / vertices", `${r.fences} / ${r.polygons} / ${r.vertices}`],
    ["points", r.points.toLocaleString("en-US")],
    ["index build (bulk load)", `${r.buildMs.toFixed(1)} ms`],
    ["index build (one upsert at a time)", `${r.incrementalBuildMs.toFixed(1)} ms`],
    ["lookups (median)", rate(r.lookupsPerSec)],
    ["lookups per CPU-second (median)", rate(r.lookupsPerCpuSec)],
    [
      "lookup runs",
      r.lookupRunsPerSec.map((v) => Math.round(v).toLocaleString("en-US")).join(", "),
    ],
    ["points covered", `${(r.coveredFraction * 100).toFixed(1)} %`],
    ["fixes through engine", `${rate(r.fixesPerSec)} (${r.transitions} transitions)`],
    ["upserts with fences loaded", rate(r.upsertsPerSec)],
    ["removes with fences loaded", rate(r.removesPerSec)],
    ["lookups right after churn", rate(r.lookupsPerSecAfterChurn)],
    ["brute-force check", `${r.verified.mismatches} mismatches in ${r.verified.points} points`],
    ["validate a 100,000-vertex ring", `${r.validate100kMs.toFixed(0)} ms`],
    [
      "mixed: polygons / circles / corridors",
      `${r.mixed.polygons} / ${r.mixed.circles} / ${r.mixed.corridors} (${r.mixed.segments} segments)`,
    ],
    ["mixed: index build (bulk load)", `${r.mixed.buildMs.toFixed(1)} ms`],
    ["mixed: lookups (median)", rate(r.mixed.lookupsPerSec)],
    ["mixed: lookups per CPU-second", rate(r.mixed.lookupsPerCpuSec)],
    ["mixed: points covered", `${(r.mixed.coveredFraction * 100).toFixed(1)} %`],
    ["mixed: fixes through engine", rate(r.mixed.fixesPerSec)],
    [
      "mixed: brute-force check",
      `${r.mixed.verified.mismatches} mismatches in ${r.mixed.verified.points} points`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  let flags: ReturnType<typeof readFlags>;
  try {
    flags = readFlags(process.argv.slice(2));
  } catch (error) {
    console.error(`bench/engine.ts: ${(error as Error).message}`);
    process.exit(2);
  }
  const { options, json } = flags;
  const result = runEngineBench(options);
  printTable(result);
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  if (result.verified.mismatches > 0) process.exitCode = 1;
}

// The simulator's command line (CONTRACT §7), read once into a typed, checked config. A bad flag is
// a UsageError with one line naming it; the entry point prints it and exits 2.

import fs from "node:fs";
import { isVehicleId } from "@locus/protocol";
import { readFlags } from "@locus/protocol/cli";
import simulatorPackage from "../../package.json" with { type: "json" };
import type { BufferChoice, FleetOptions, VehicleCredentials } from "../fleet/fleet.ts";
import type { BBox } from "../motion/frame.ts";
import { DEFAULT_BLOCK_M, type MotionSpec } from "../motion/model.ts";
import { parseRoutes, RoutesError } from "../motion/routes.ts";
import { PASSWORD_ENV, readConnection, USERNAME_ENV } from "./connection.ts";
import { UsageError } from "./usage-error.ts";
import { bbox, duration, integer, number, parseDuration } from "./values.ts";

/** The fleet's settings without the callbacks, plus how long to run. */
export type SimulateConfig = Omit<FleetOptions, "onEvent" | "onNotice"> & {
  /** null: until Ctrl-C. */
  durationMs: number | null;
  /** Whether --seed was given (otherwise a random one was drawn, and is printed). */
  seedGiven: boolean;
  /** Only the summary at the end, no progress. */
  quiet: boolean;
};

export type Command =
  | { kind: "run"; config: SimulateConfig }
  | { kind: "help" }
  | { kind: "version" };

export { UsageError };

/** The simulator's version, as `--version` prints it. */
export const VERSION: string = simulatorPackage.version;

/** A box around downtown Los Angeles, about 9 × 9 km. */
export const DEFAULT_BBOX: BBox = { west: -118.3, south: 34.0, east: -118.2, north: 34.08 };
export const DEFAULT_BROKER = "mqtt://127.0.0.1:1883";
export const DEFAULT_VEHICLES = 10;
export const DEFAULT_NOISE_M = 3;
export const DEFAULT_ID_PREFIX = "sim-";
export const DEFAULT_MAX_BUFFER = 100_000;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
/** Vehicles connected per second during the ramp, when --ramp is not given. */
export const DEFAULT_RAMP_RATE = 1000;

export const USAGE = `usage: npm run simulate -- [options]

Runs N simulated vehicles in one process. Each is a real Locus agent (its own buffer, seq, MQTT
connection and client id) driving at road speeds (10-35 m/s, with acceleration and stops) and
publishing one fix per interval to locus/vehicles/ID/location. Prints progress, and a summary at
the end (after --duration, or on Ctrl-C).

  --vehicles N            how many vehicles (default ${DEFAULT_VEHICLES})
  --interval TIME         one fix per vehicle this often, e.g. 1s, 500ms (default 1s)
  --duration TIME         stop after this long, e.g. 90s, 10m, 2h (default: until Ctrl-C)
  --broker URL            mqtt://HOST:PORT, mqtts://, ws:// or wss:// (default ${DEFAULT_BROKER});
                          mqtts:// and wss:// check the broker's certificate against Node's and
                          the system's CAs
  --ca FILE               trust the CA certificate(s) in FILE (PEM) instead of that list
  --username USER         broker user name for every vehicle (default: $${USERNAME_ENV})
  --password-file FILE    its password: the first line of FILE (default: $${PASSWORD_ENV})
  --password PASSWORD     its password; other users of the machine can see it in the process list
  --credentials FILE      one "vehicle_id,username,password" line per vehicle (# comments);
                          vehicle i takes line i and its id; --vehicles defaults to the line count
  --id-prefix PREFIX      vehicle ids are PREFIX00001, PREFIX00002, ... (default ${DEFAULT_ID_PREFIX})
  --bbox W,S,E,N          the box vehicles drive in, degrees (default downtown Los Angeles:
                          ${DEFAULT_BBOX.west},${DEFAULT_BBOX.south},${DEFAULT_BBOX.east},${DEFAULT_BBOX.north})
  --motion grid|waypoints a street grid (default) or straight drives between random points
  --block-m M             grid: street spacing in metres (default ${DEFAULT_BLOCK_M})
  --routes FILE           GeoJSON LineString routes (FeatureCollection or Feature) instead; vehicles
                          take them round-robin and drive along and back (--bbox is not used)
  --noise-m M             GPS noise, standard deviation per axis in metres (default ${DEFAULT_NOISE_M})
  --seed N                seed of every path and of the noise, for a reproducible run
                          (default: random, printed)
  --buffer memory|sqlite  each vehicle's fix buffer (default memory)
  --buffer-dir DIR        sqlite: where the files go, one per vehicle (default: a new temporary dir)
  --buffer-sync full|normal  sqlite: fsync every commit, or not (default normal)
  --max-buffer N          most fixes a vehicle keeps while offline (default ${DEFAULT_MAX_BUFFER})
  --ramp TIME             spread the connections over this long (default: ${DEFAULT_RAMP_RATE} a second)
  --outage START+LENGTH   cut every vehicle's connection at START for LENGTH, e.g. 20s+15s;
                          fixes keep coming and are buffered (mqtt:// and ws:// brokers only)
  --reconnect-max TIME    the agents' longest wait between connection attempts (default 30s)
  --quiet                 no progress, only the summary
  --help                  print this help
  --version               print the version
`;

const FLAGS = {
  values: [
    "vehicles",
    "interval",
    "duration",
    "broker",
    "username",
    "password",
    "password-file",
    "ca",
    "credentials",
    "id-prefix",
    "bbox",
    "motion",
    "block-m",
    "routes",
    "noise-m",
    "seed",
    "buffer",
    "buffer-dir",
    "buffer-sync",
    "max-buffer",
    "ramp",
    "outage",
    "reconnect-max",
  ],
  switches: ["quiet"],
};
const BROKER_PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "tls:", "ssl:", "ws:", "wss:"]);
/** Brokers the outage relay can stand in front of: plain TCP, no TLS to terminate. */
const RELAYABLE_PROTOCOLS = new Set(["mqtt:", "tcp:", "ws:"]);

export interface ParseDeps {
  readFile(path: string): string;
  /** LOCUS_MQTT_USERNAME and LOCUS_MQTT_PASSWORD are read from it. Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Uniform in [0, 1), for the default seed. */
  random(): number;
}

const DEFAULT_DEPS: ParseDeps = {
  readFile: (path) => fs.readFileSync(path, "utf8"),
  env: process.env,
  random: Math.random,
};

/** Parses the arguments after the program name. Throws a UsageError on a bad one. */
export function parseArgs(argv: readonly string[], deps: ParseDeps = DEFAULT_DEPS): Command {
  const { values, switches } = readFlags(argv, FLAGS);
  if (switches.has("help")) return { kind: "help" };
  if (switches.has("version")) return { kind: "version" };

  const brokerUrl = broker(values.get("broker") ?? DEFAULT_BROKER);
  const credentials = values.has("credentials")
    ? readCredentials(values.get("credentials") as string, deps)
    : undefined;
  const vehicles = integer("vehicles", values.get("vehicles"), 1, 100_000);
  if (credentials && vehicles !== undefined && vehicles > credentials.length) {
    throw new UsageError(
      `--vehicles ${vehicles} but --credentials has ${credentials.length} lines: one per vehicle`,
    );
  }
  const count = vehicles ?? credentials?.length ?? DEFAULT_VEHICLES;

  const idPrefix = values.get("id-prefix") ?? DEFAULT_ID_PREFIX;
  if (!(idPrefix === "" || isVehicleId(idPrefix)) || idPrefix.length > 58) {
    throw new UsageError(
      `--id-prefix: ${JSON.stringify(idPrefix)} must be up to 58 characters of A-Z a-z 0-9 _ . -`,
    );
  }

  const connection = readConnection(values, deps.env ?? {}, deps.readFile, brokerUrl);

  const intervalMs = duration("interval", values.get("interval"), 10, 3_600_000) ?? 1000;
  const durationMs = duration("duration", values.get("duration"), 100, 30 * 86_400_000) ?? null;
  const rampMs =
    duration("ramp", values.get("ramp"), 0, 600_000) ??
    Math.round((count / DEFAULT_RAMP_RATE) * 1000);
  const reconnectMaxMs =
    duration("reconnect-max", values.get("reconnect-max"), 100, 600_000) ??
    DEFAULT_RECONNECT_MAX_MS;

  const outage = values.has("outage") ? parseOutage(values.get("outage") as string) : null;
  if (outage) {
    if (!RELAYABLE_PROTOCOLS.has(new URL(brokerUrl).protocol)) {
      throw new UsageError(
        "--outage works with mqtt:// and ws:// brokers (the relay cannot stand in front of TLS)",
      );
    }
    if (durationMs !== null && outage.startMs >= durationMs) {
      throw new UsageError("--outage starts after the run ends (--duration)");
    }
  }

  const seedGiven = values.has("seed");
  const seed = seedGiven
    ? (integer("seed", values.get("seed"), 0, Number.MAX_SAFE_INTEGER) as number)
    : Math.floor(deps.random() * 2 ** 31);

  const config: SimulateConfig = {
    vehicles: count,
    intervalMs,
    brokerUrl,
    ...connection,
    ...(credentials ? { credentials: credentials.slice(0, count) } : {}),
    idPrefix,
    seed,
    motion: motion(values, deps),
    noiseM: number("noise-m", values.get("noise-m"), 0, 100) ?? DEFAULT_NOISE_M,
    buffer: buffer(values),
    maxBuffer:
      integer("max-buffer", values.get("max-buffer"), 1, 100_000_000) ?? DEFAULT_MAX_BUFFER,
    rampMs,
    outage,
    reconnectMaxMs,
    durationMs,
    seedGiven,
    quiet: switches.has("quiet"),
  };
  return { kind: "run", config };
}

function broker(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    url = new URL("invalid:");
  }
  if (!BROKER_PROTOCOLS.has(url.protocol) || url.hostname === "") {
    throw new UsageError(
      `--broker: ${JSON.stringify(raw)} is not a broker URL (expected mqtt://HOST:PORT, mqtts://, ws:// or wss://)`,
    );
  }
  return raw;
}

function readCredentials(file: string, deps: ParseDeps): VehicleCredentials[] {
  let text: string;
  try {
    text = deps.readFile(file);
  } catch (err) {
    throw new UsageError(`--credentials: cannot read ${file}: ${(err as Error).message}`);
  }
  const out: VehicleCredentials[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const first = line.indexOf(",");
    const second = first === -1 ? -1 : line.indexOf(",", first + 1);
    if (second === -1) {
      throw new UsageError(
        `--credentials: ${file} line ${i + 1}: expected vehicle_id,username,password`,
      );
    }
    // The password is the rest of the line: it may hold commas.
    const vehicleId = line.slice(0, first).trim();
    const username = line.slice(first + 1, second).trim();
    const password = line.slice(second + 1);
    if (!isVehicleId(vehicleId)) {
      throw new UsageError(
        `--credentials: ${file} line ${i + 1}: ${JSON.stringify(vehicleId)} is not a vehicle id`,
      );
    }
    if (seen.has(vehicleId)) {
      throw new UsageError(`--credentials: ${file} line ${i + 1}: ${vehicleId} is listed twice`);
    }
    if (username === "") {
      throw new UsageError(`--credentials: ${file} line ${i + 1}: the username is empty`);
    }
    seen.add(vehicleId);
    out.push({ vehicleId, username, password });
  });
  if (out.length === 0) throw new UsageError(`--credentials: ${file} has no credentials`);
  return out;
}

function motion(values: Map<string, string>, deps: ParseDeps): MotionSpec {
  const kind = values.get("motion") ?? (values.has("routes") ? "routes" : "grid");
  if (kind !== "grid" && kind !== "waypoints" && kind !== "routes") {
    throw new UsageError(`--motion: ${JSON.stringify(kind)} is not grid or waypoints`);
  }
  if (kind === "routes") {
    const file = values.get("routes");
    if (file === undefined) throw new UsageError("--motion routes needs --routes FILE");
    if (values.has("bbox")) throw new UsageError("--bbox and --routes cannot be combined");
    let text: string;
    try {
      text = deps.readFile(file);
    } catch (err) {
      throw new UsageError(`--routes: cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      return { kind: "routes", routes: parseRoutes(text) };
    } catch (err) {
      if (err instanceof RoutesError) throw new UsageError(`--routes: ${file}: ${err.message}`);
      throw err;
    }
  }
  if (values.has("routes"))
    throw new UsageError(`--routes and --motion ${kind} cannot be combined`);
  const box = values.has("bbox") ? bbox(values.get("bbox") as string) : DEFAULT_BBOX;
  if (kind === "waypoints") {
    if (values.has("block-m")) throw new UsageError("--block-m goes with --motion grid");
    return { kind, bbox: box };
  }
  return {
    kind,
    bbox: box,
    blockM: number("block-m", values.get("block-m"), 50, 5000) ?? DEFAULT_BLOCK_M,
  };
}

function buffer(values: Map<string, string>): BufferChoice {
  const dir = values.get("buffer-dir");
  const kind = values.get("buffer") ?? (dir !== undefined ? "sqlite" : "memory");
  if (kind !== "memory" && kind !== "sqlite") {
    throw new UsageError(`--buffer: ${JSON.stringify(kind)} is not memory or sqlite`);
  }
  const sync = values.get("buffer-sync");
  if (kind === "memory") {
    if (dir !== undefined) throw new UsageError("--buffer-dir goes with --buffer sqlite");
    if (sync !== undefined) throw new UsageError("--buffer-sync goes with --buffer sqlite");
    return { kind };
  }
  if (dir === "") throw new UsageError("--buffer-dir: expected a directory");
  if (sync !== undefined && sync !== "full" && sync !== "normal") {
    throw new UsageError(`--buffer-sync: ${JSON.stringify(sync)} is not full or normal`);
  }
  return { kind, dir: dir ?? null, synchronous: sync ?? "normal" };
}

function parseOutage(raw: string): { startMs: number; lengthMs: number } {
  const [start, length, extra] = raw.split("+");
  const startMs = start === undefined ? undefined : parseDuration(start);
  const lengthMs = length === undefined ? undefined : parseDuration(length);
  if (extra !== undefined || startMs === undefined || lengthMs === undefined || lengthMs <= 0) {
    throw new UsageError(
      `--outage: ${JSON.stringify(raw)} is not START+LENGTH (e.g. 20s+15s: from 20 s after the start, for 15 s)`,
    );
  }
  return { startMs, lengthMs };
}

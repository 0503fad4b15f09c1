// The agent's command line, read once into a typed, checked command. A bad flag is a UsageError
// with one line that names it; the entry point prints it and exits 2.

import { isVehicleId } from "@locus/protocol";
import { readFlags, UsageError } from "@locus/protocol/cli";
import agentPackage from "../../package.json" with { type: "json" };
import {
  isTlsBroker,
  type ReadFile,
  readCaFile,
  readPasswordFile,
  readUtf8,
} from "./connection-files.ts";

/** Everything `locus-agent --vehicle-id … --broker …` needs. */
export interface RunConfig {
  vehicleId: string;
  brokerUrl: string;
  username?: string;
  password?: string;
  /** PEM CA certificates to trust instead of the built-in list (mqtts://, wss://). */
  ca?: string;
  /** Where `ca` came from, for messages. */
  caFile?: string;
  /** A SQLite file, or "memory" for a buffer that does not survive a restart. */
  buffer: string;
  /** stdin | nmea:PATH | gpsd://HOST:PORT */
  source: string;
  /** Most fixes kept; beyond it the oldest are dropped and counted. */
  maxBuffer: number;
  clientId?: string;
  /** Longest wait between connection attempts, ms. */
  reconnectMaxMs: number;
  verbose: boolean;
}

export type Command =
  | { kind: "run"; config: RunConfig }
  | { kind: "status"; buffer: string; json: boolean }
  | { kind: "help" }
  | { kind: "version" };

export { UsageError };

/** This agent's version, as `--version` prints it. */
export const VERSION: string = agentPackage.version;

export const DEFAULT_BUFFER = "./locus-agent.db";
/** About eleven days of one fix a second; roughly 100 MB of SQLite. */
export const DEFAULT_MAX_BUFFER = 1_000_000;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
/** Read when no flag gives the user name. */
export const USERNAME_ENV = "LOCUS_MQTT_USERNAME";
/** Read when no flag gives the password, so it need not show in the process list. */
export const PASSWORD_ENV = "LOCUS_MQTT_PASSWORD";
/** The older name of PASSWORD_ENV, still read after it. */
export const LEGACY_PASSWORD_ENV = "LOCUS_AGENT_PASSWORD";

export const USAGE = `usage: locus-agent --vehicle-id ID --broker URL [options]
       locus-agent status [--buffer PATH] [--json]

Reads GPS fixes from a source, keeps each in a buffer until the broker acknowledges it, and
publishes them to locus/vehicles/ID/location (MQTT QoS 1).

  --vehicle-id ID         this vehicle's id: 1-64 characters of A-Z a-z 0-9 _ . -
  --broker URL            mqtt://HOST:PORT (also mqtts://, ws://, wss://); mqtts:// and wss://
                          check the broker's certificate against Node's and the system's CAs
  --ca FILE               trust the CA certificate(s) in FILE (PEM) instead of that list
  --username USER         broker user name (default: $${USERNAME_ENV})
  --password-file FILE    broker password: the first line of FILE
  --password PASSWORD     broker password; other users of the machine can see it in the
                          process list: prefer --password-file or $${PASSWORD_ENV}
  --buffer PATH|memory    buffer file (default ${DEFAULT_BUFFER}); memory: not kept across restarts
  --source SPEC           stdin (one JSON fix per line), nmea:PATH or gpsd://HOST:PORT (default stdin)
  --max-buffer N          most fixes kept while offline; beyond it the oldest are dropped
                          and counted (default ${DEFAULT_MAX_BUFFER})
  --client-id ID          MQTT client id (default locus-agent-ID)
  --reconnect-max TIME    longest wait between connection attempts, e.g. 30s, 2m (default 30s)
  --verbose               also log every connection change
  --json                  status: print JSON
  --help                  print this help
  --version               print the version
`;

const FLAGS = {
  values: [
    "vehicle-id",
    "broker",
    "username",
    "password",
    "password-file",
    "ca",
    "buffer",
    "source",
    "max-buffer",
    "client-id",
    "reconnect-max",
  ],
  switches: ["verbose", "json"],
  commands: ["status"],
};
const STATUS_FLAGS = new Set(["buffer", "json", "help", "version"]);
const BROKER_PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "tls:", "ssl:", "ws:", "wss:"]);

/** Parses the arguments after the program name. Throws a UsageError on a bad one. */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  readFile: ReadFile = readUtf8,
): Command {
  const { command, values, switches } = readFlags(argv, FLAGS);
  if (switches.has("help")) return { kind: "help" };
  if (switches.has("version")) return { kind: "version" };
  if (command === "status") {
    for (const name of [...values.keys(), ...switches]) {
      if (!STATUS_FLAGS.has(name)) throw new UsageError(`--${name} is not a status option`);
    }
    return { kind: "status", buffer: bufferPath(values.get("buffer")), json: switches.has("json") };
  }
  if (switches.has("json")) throw new UsageError("--json goes with the status command");

  const vehicleId = required(values, "vehicle-id");
  if (!isVehicleId(vehicleId)) {
    throw new UsageError(
      `--vehicle-id: ${JSON.stringify(vehicleId)} is not a vehicle id (1-64 characters of A-Z a-z 0-9 _ . -)`,
    );
  }
  const config: RunConfig = {
    vehicleId,
    brokerUrl: brokerUrl(required(values, "broker")),
    buffer: bufferPath(values.get("buffer")),
    source: source(values.get("source") ?? "stdin"),
    maxBuffer: count("max-buffer", values.get("max-buffer"), DEFAULT_MAX_BUFFER),
    reconnectMaxMs: duration(
      "reconnect-max",
      values.get("reconnect-max"),
      DEFAULT_RECONNECT_MAX_MS,
    ),
    verbose: switches.has("verbose"),
  };
  const username = values.get("username") ?? nonEmpty(env[USERNAME_ENV]);
  const password = passwordOf(values, env, readFile);
  if (username !== undefined) config.username = username;
  if (password !== undefined) {
    if (username === undefined) {
      const from = values.has("password-file")
        ? "--password-file"
        : values.has("password")
          ? "--password"
          : `$${env[PASSWORD_ENV] ? PASSWORD_ENV : LEGACY_PASSWORD_ENV}`;
      throw new UsageError(`${from} needs --username (or $${USERNAME_ENV})`);
    }
    config.password = password;
  }
  const caFile = values.get("ca");
  if (caFile !== undefined) {
    if (!isTlsBroker(config.brokerUrl)) {
      throw new UsageError("--ca goes with an mqtts:// or wss:// broker");
    }
    try {
      config.ca = readCaFile(caFile, readFile);
    } catch (err) {
      throw new UsageError(`--ca: ${(err as Error).message}`);
    }
    config.caFile = caFile;
  }
  const clientId = values.get("client-id");
  if (clientId !== undefined) {
    if (clientId === "" || clientId.length > 256) {
      throw new UsageError("--client-id: expected 1-256 characters");
    }
    config.clientId = clientId;
  }
  return { kind: "run", config };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** --password, --password-file, or the environment, in that order; at most one flag. */
function passwordOf(
  values: Map<string, string>,
  env: Readonly<Record<string, string | undefined>>,
  readFile: ReadFile,
): string | undefined {
  const file = values.get("password-file");
  if (file !== undefined) {
    if (values.has("password"))
      throw new UsageError("give --password or --password-file, not both");
    try {
      return readPasswordFile(file, readFile);
    } catch (err) {
      throw new UsageError(`--password-file: ${(err as Error).message}`);
    }
  }
  return (
    nonEmpty(values.get("password")) ??
    nonEmpty(env[PASSWORD_ENV]) ??
    nonEmpty(env[LEGACY_PASSWORD_ENV])
  );
}

function required(values: Map<string, string>, name: string): string {
  const value = values.get(name);
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function bufferPath(value: string | undefined): string {
  if (value === undefined) return DEFAULT_BUFFER;
  if (value === "") throw new UsageError("--buffer: expected a file path or memory");
  return value;
}

function brokerUrl(raw: string): string {
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

function source(raw: string): string {
  if (raw === "stdin" || /^nmea:.+/.test(raw) || /^gpsd:\/\/[^/]/.test(raw)) return raw;
  throw new UsageError(
    `--source: ${JSON.stringify(raw)} is not a source (expected stdin, nmea:PATH or gpsd://HOST:PORT)`,
  );
}

function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${name}: ${JSON.stringify(raw)} is not a positive whole number`);
  }
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

function duration(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? "s"] as number) : Number.NaN;
  if (!(ms >= 100 && ms <= 3_600_000)) {
    throw new UsageError(
      `--${name}: ${JSON.stringify(raw)} is not a duration between 100ms and 60m (e.g. 30s)`,
    );
  }
  return Math.round(ms);
}

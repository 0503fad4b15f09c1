// The simulator's flags: defaults, every value checked, one clear line for a bad one.

import { describe, expect, it } from "vitest";
import simulatorPackage from "../../package.json" with { type: "json" };
import {
  DEFAULT_BBOX,
  type ParseDeps,
  parseArgs,
  type SimulateConfig,
  USAGE,
  UsageError,
  VERSION,
} from "./args.ts";

// A throwaway CA certificate (EC P-256, from tests/support/tls.ts); only parsed here.
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUCvSVMOdIIOwjLXT+OG4F34ObLoUwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNTG9jdXMgdGVzdCBDQTAeFw0yNjEyMDYxNTQ2MjVaFw0yNjEy
MDgxNTQ2MjVaMBgxFjAUBgNVBAMMDUxvY3VzIHRlc3QgQ0EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARhzCyeFazi/+KsaHw4Q0f0ykk+r0/aHzM9FdNWro/rdDe/
GQCTisHVfoRx9hWpDvdGzyTYOo2vX6PAz3Dfw4JNo2MwYTAdBgNVHQ4EFgQUU734
TYkg2PnQqywKbzYJC58FTywwHwYDVR0jBBgwFoAUU734TYkg2PnQqywKbzYJC58F
TywwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwID
SQAwRgIhAJ1ylPyebkuyNyMEHYrhwtdXmNMA31sRlkquJImkLYyxAiEA/Cnh2oWz
zCaEa8U87bU34a3P+x7wevyye8RKEzOiTNM=
-----END CERTIFICATE-----`;

const FILES: Record<string, string> = {
  "ca.pem": CA_PEM,
  "password.txt": "s3cret\n",
  "creds.csv": "# id,user,password\ntruck-1,u1,p1\n\ntruck-2, u2 ,pa,ss\n",
  "route.geojson": JSON.stringify({
    type: "Feature",
    properties: {},
    geometry: {
      type: "LineString",
      coordinates: [
        [-118.26, 34.04],
        [-118.25, 34.04],
      ],
    },
  }),
};

const deps: ParseDeps = {
  readFile(path) {
    const text = FILES[path];
    if (text === undefined) throw new Error("ENOENT: no such file");
    return text;
  },
  random: () => 0.5,
};

function config(...argv: string[]): SimulateConfig {
  const command = parseArgs(argv, deps);
  if (command.kind !== "run") throw new Error("expected run");
  return command.config;
}

function refusal(...argv: string[]): string {
  try {
    parseArgs(argv, deps);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${argv.join(" ")}`);
}

describe("simulator flags", () => {
  it("has defaults for everything", () => {
    const c = config();
    expect(c).toMatchObject({
      vehicles: 10,
      intervalMs: 1000,
      durationMs: null,
      brokerUrl: "mqtt://127.0.0.1:1883",
      idPrefix: "sim-",
      seed: 2 ** 30,
      seedGiven: false,
      noiseM: 3,
      buffer: { kind: "memory" },
      motion: { kind: "grid", bbox: DEFAULT_BBOX, blockM: 250 },
      outage: null,
      reconnectMaxMs: 30_000,
      quiet: false,
    });
    expect(c.rampMs).toBe(10); // 10 vehicles at 1000 a second
  });

  it("reads every flag, in both --name value and --name=value forms", () => {
    const c = config(
      "--vehicles=20",
      "--interval",
      "100ms",
      "--duration",
      "1.5m",
      "--broker",
      "ws://hub:9001/mqtt",
      "--username",
      "sim",
      "--password",
      "secret",
      "--id-prefix",
      "t.",
      "--bbox",
      "-118.26,34.03,-118.24,34.05",
      "--motion",
      "waypoints",
      "--noise-m",
      "0",
      "--seed",
      "42",
      "--buffer",
      "sqlite",
      "--buffer-sync",
      "full",
      "--max-buffer",
      "500",
      "--ramp",
      "2s",
      "--outage",
      "20s+15s",
      "--reconnect-max",
      "5s",
      "--quiet",
    );
    expect(c).toMatchObject({
      vehicles: 20,
      intervalMs: 100,
      durationMs: 90_000,
      brokerUrl: "ws://hub:9001/mqtt",
      username: "sim",
      password: "secret",
      idPrefix: "t.",
      motion: {
        kind: "waypoints",
        bbox: { west: -118.26, south: 34.03, east: -118.24, north: 34.05 },
      },
      noiseM: 0,
      seed: 42,
      seedGiven: true,
      buffer: { kind: "sqlite", dir: null, synchronous: "full" },
      maxBuffer: 500,
      rampMs: 2000,
      outage: { startMs: 20_000, lengthMs: 15_000 },
      reconnectMaxMs: 5000,
      quiet: true,
    });
  });

  it("reads the password from a file or the environment, and a CA for a TLS broker", () => {
    const c = config("--username", "sim", "--password-file", "password.txt");
    expect([c.username, c.password]).toEqual(["sim", "s3cret"]);
    const fromEnv = parseArgs([], {
      ...deps,
      env: { LOCUS_MQTT_USERNAME: "fleet", LOCUS_MQTT_PASSWORD: "pw" },
    });
    expect(fromEnv.kind === "run" && [fromEnv.config.username, fromEnv.config.password]).toEqual([
      "fleet",
      "pw",
    ]);
    const tls = config("--broker", "mqtts://hub.example:8883", "--ca", "ca.pem");
    expect(tls.ca).toBe(`${CA_PEM}\n`);
    expect(refusal("--broker", "mqtt://hub:1883", "--ca", "ca.pem")).toBe(
      "--ca goes with an mqtts:// or wss:// broker",
    );
    expect(refusal("--broker", "mqtts://hub:8883", "--ca", "password.txt")).toMatch(
      /^--ca: password.txt holds no PEM certificate/,
    );
    expect(refusal("--broker", "mqtts://hub:8883", "--ca", "nope.pem")).toMatch(
      /^--ca: cannot read nope.pem/,
    );
    expect(refusal("--username", "u", "--password-file", "nope")).toMatch(
      /^--password-file: cannot read nope/,
    );
    expect(refusal("--password-file", "password.txt")).toBe(
      "--password-file needs --username (or $LOCUS_MQTT_USERNAME)",
    );
    expect(refusal("--username", "u", "--password", "p", "--password-file", "password.txt")).toBe(
      "give --password or --password-file, not both",
    );
  });

  it("takes vehicle ids and credentials from a file, one line per vehicle", () => {
    const c = config("--credentials", "creds.csv");
    expect(c.vehicles).toBe(2);
    expect(c.credentials).toEqual([
      { vehicleId: "truck-1", username: "u1", password: "p1" },
      { vehicleId: "truck-2", username: "u2", password: "pa,ss" },
    ]);
    expect(config("--credentials", "creds.csv", "--vehicles", "1").credentials).toHaveLength(1);
    expect(refusal("--credentials", "creds.csv", "--vehicles", "3")).toMatch(/has 2 lines/);
    expect(refusal("--credentials", "missing.csv")).toMatch(/cannot read missing.csv/);
  });

  it("reads routes from a GeoJSON file", () => {
    const c = config("--routes", "route.geojson");
    expect(c.motion.kind).toBe("routes");
    expect(refusal("--routes", "route.geojson", "--motion", "grid")).toMatch(/cannot be combined/);
    expect(refusal("--routes", "route.geojson", "--bbox", "-118.3,34,-118.2,34.08")).toMatch(
      /cannot be combined/,
    );
    expect(refusal("--motion", "routes")).toMatch(/needs --routes FILE/);
  });

  it("puts SQLite buffers in --buffer-dir", () => {
    expect(config("--buffer-dir", "/tmp/b").buffer).toEqual({
      kind: "sqlite",
      dir: "/tmp/b",
      synchronous: "normal",
    });
    expect(refusal("--buffer", "memory", "--buffer-dir", "/tmp/b")).toMatch(
      /goes with --buffer sqlite/,
    );
  });

  it.each([
    [["--vehicles", "0"], /--vehicles: "0" is not a whole number from 1 to 100000/],
    [["--vehicles", "ten"], /--vehicles/],
    [["--interval", "5"], /--interval: "5" needs a unit/],
    [["--interval", "5ms"], /--interval: "5ms" is not a duration from 10ms to 1h/],
    [["--duration", "soon"], /--duration/],
    [["--bbox", "1,2,3"], /--bbox: "1,2,3" is not four numbers/],
    [["--bbox", "-118.2,34,-118.3,34.08"], /W < E/],
    [["--bbox", "-118.3,34,-118.2999,34.08"], /300 m to 200 km/],
    [["--bbox", "-200,34,-118.2,34.08"], /out of range/],
    [["--broker", "http://x"], /--broker: "http:\/\/x" is not a broker URL/],
    [["--password", "p"], /--password needs --username/],
    [["--id-prefix", "a/b"], /--id-prefix/],
    [["--motion", "teleport"], /--motion: "teleport" is not grid or waypoints/],
    [["--noise-m", "-1"], /--noise-m/],
    [["--buffer", "disk"], /--buffer: "disk"/],
    [["--outage", "20s"], /--outage: "20s" is not START\+LENGTH/],
    [["--outage", "20s+0s"], /--outage/],
    [["--outage", "20s+5s", "--duration", "10s"], /starts after the run ends/],
    [["--outage", "1s+1s", "--broker", "mqtts://hub:8883"], /mqtt:\/\/ and ws:\/\//],
    [["--seed", "-3"], /--seed/],
    [["--frobnicate"], /unknown option --frobnicate/],
    [["--vehicles"], /--vehicles needs a value/],
    [["--vehicles", "3", "--vehicles", "4"], /given twice/],
    [["--quiet=yes"], /--quiet takes no value/],
    [["stray"], /unexpected argument "stray"/],
    [["--version=2"], /--version takes no value/],
  ])("refuses %j", (argv, message) => {
    expect(refusal(...argv)).toMatch(message);
  });

  it("answers --help and --version", () => {
    expect(parseArgs(["--vehicles", "3", "--help"], deps)).toEqual({ kind: "help" });
    expect(parseArgs(["--version"], deps)).toEqual({ kind: "version" });
    expect(VERSION).toBe(simulatorPackage.version);
    expect(USAGE).toContain("--version");
  });
});

import { describe, expect, it } from "vitest";
import agentPackage from "../../package.json" with { type: "json" };
import {
  DEFAULT_BUFFER,
  DEFAULT_MAX_BUFFER,
  parseArgs,
  USAGE,
  UsageError,
  VERSION,
} from "./args.ts";

const base = ["--vehicle-id", "truck-01", "--broker", "mqtt://127.0.0.1:1883"];

describe("parseArgs", () => {
  it("reads a full command line, with defaults for what is left out", () => {
    expect(parseArgs(base)).toEqual({
      kind: "run",
      config: {
        vehicleId: "truck-01",
        brokerUrl: "mqtt://127.0.0.1:1883",
        buffer: DEFAULT_BUFFER,
        source: "stdin",
        maxBuffer: DEFAULT_MAX_BUFFER,
        reconnectMaxMs: 30_000,
        verbose: false,
      },
    });
    expect(
      parseArgs([
        ...base,
        "--username=u",
        "--password",
        "p",
        "--buffer",
        "memory",
        "--source",
        "gpsd://127.0.0.1:2947",
        "--max-buffer",
        "500",
        "--client-id",
        "c1",
        "--reconnect-max",
        "2m",
        "--verbose",
      ]),
    ).toEqual({
      kind: "run",
      config: {
        vehicleId: "truck-01",
        brokerUrl: "mqtt://127.0.0.1:1883",
        username: "u",
        password: "p",
        buffer: "memory",
        source: "gpsd://127.0.0.1:2947",
        maxBuffer: 500,
        clientId: "c1",
        reconnectMaxMs: 120_000,
        verbose: true,
      },
    });
  });

  it("takes the password from the environment when no flag gives it", () => {
    const command = parseArgs([...base, "--username", "u"], { LOCUS_AGENT_PASSWORD: "s3" });
    expect(command.kind === "run" && command.config.password).toBe("s3");
  });

  it("takes the user name and password from the environment when no flag gives them", () => {
    const env = { LOCUS_MQTT_USERNAME: "truck-01", LOCUS_MQTT_PASSWORD: "s4" };
    const command = parseArgs(base, env);
    expect(command.kind === "run" && command.config.username).toBe("truck-01");
    expect(command.kind === "run" && command.config.password).toBe("s4");
    // A flag wins over the environment; the new name over the old one.
    const both = parseArgs([...base, "--username", "u", "--password", "p"], env);
    expect(both.kind === "run" && [both.config.username, both.config.password]).toEqual(["u", "p"]);
    const older = parseArgs(base, { ...env, LOCUS_AGENT_PASSWORD: "old" });
    expect(older.kind === "run" && older.config.password).toBe("s4");
  });

  it("reads the password from the first line of --password-file", () => {
    const files: Record<string, string> = { "/pw": "s3cret, with spaces\nignored\n" };
    const readFile = (p: string) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      return text;
    };
    const command = parseArgs(
      [...base, "--username", "u", "--password-file", "/pw"],
      { LOCUS_MQTT_PASSWORD: "from-env" },
      readFile,
    );
    expect(command.kind === "run" && command.config.password).toBe("s3cret, with spaces");
    const missing = () =>
      parseArgs([...base, "--username", "u", "--password-file", "/no"], {}, readFile);
    expect(missing).toThrow(UsageError);
    expect(missing).toThrow("--password-file: cannot read /no (ENOENT)");
    files["/empty"] = "\nsecond line";
    expect(() =>
      parseArgs([...base, "--username", "u", "--password-file", "/empty"], {}, readFile),
    ).toThrow("--password-file: /empty: its first line is empty");
    expect(() =>
      parseArgs(
        [...base, "--username", "u", "--password", "p", "--password-file", "/pw"],
        {},
        readFile,
      ),
    ).toThrow("give --password or --password-file, not both");
    expect(() => parseArgs([...base, "--password-file", "/pw"], {}, readFile)).toThrow(
      "--password-file needs --username",
    );
    expect(() => parseArgs(base, { LOCUS_MQTT_PASSWORD: "p" })).toThrow(
      "$LOCUS_MQTT_PASSWORD needs --username",
    );
  });

  it("checks the --ca file and that the broker uses TLS", () => {
    const tlsBase = ["--vehicle-id", "t", "--broker", "mqtts://hub.example:8883"];
    const readFile = (p: string) => {
      if (p === "/not-pem") return "hello";
      if (p === "/bad-pem") return "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
      throw Object.assign(new Error("denied"), { code: "EACCES" });
    };
    expect(() => parseArgs([...tlsBase, "--ca", "/locked"], {}, readFile)).toThrow(
      "--ca: cannot read /locked (EACCES)",
    );
    expect(() => parseArgs([...tlsBase, "--ca", "/not-pem"], {}, readFile)).toThrow(
      "--ca: /not-pem holds no PEM certificate",
    );
    expect(() => parseArgs([...tlsBase, "--ca", "/bad-pem"], {}, readFile)).toThrow(
      "--ca: /bad-pem: certificate 1 of 1 is not valid PEM",
    );
    expect(() => parseArgs([...base, "--ca", "/bad-pem"], {}, readFile)).toThrow(
      "--ca goes with an mqtts:// or wss:// broker",
    );
  });

  it("reads the status command", () => {
    expect(parseArgs(["status"])).toEqual({ kind: "status", buffer: DEFAULT_BUFFER, json: false });
    expect(parseArgs(["status", "--buffer", "a.db", "--json"])).toEqual({
      kind: "status",
      buffer: "a.db",
      json: true,
    });
    expect(parseArgs(["--help"])).toEqual({ kind: "help" });
  });

  it("answers --help and --version before checking the rest", () => {
    expect(parseArgs(["--broker", "mqtt://h", "--help"])).toEqual({ kind: "help" });
    expect(parseArgs(["--version"])).toEqual({ kind: "version" });
    expect(parseArgs(["status", "--version"])).toEqual({ kind: "version" });
    expect(VERSION).toBe(agentPackage.version);
    expect(USAGE).toContain("--version");
  });

  it.each([
    [[], "--vehicle-id is required"],
    [["--vehicle-id", "truck-01"], "--broker is required"],
    [["--vehicle-id", "a/b", "--broker", "mqtt://h"], '--vehicle-id: "a/b" is not a vehicle id'],
    [["--vehicle-id", "x".repeat(65), "--broker", "mqtt://h"], "is not a vehicle id"],
    [["--vehicle-id", "t", "--broker", "http://h:1"], '--broker: "http://h:1" is not a broker URL'],
    [["--vehicle-id", "t", "--broker", "hub:1883"], "is not a broker URL"],
    [[...base, "--max-buffer", "0"], '--max-buffer: "0" is not a positive whole number'],
    [[...base, "--max-buffer", "-5"], "is not a positive whole number"],
    [[...base, "--max-buffer", "1e3"], "is not a positive whole number"],
    [[...base, "--source", "serial"], '--source: "serial" is not a source'],
    [[...base, "--source", "nmea:"], "is not a source"],
    [[...base, "--reconnect-max", "10ms"], "is not a duration between 100ms and 60m"],
    [[...base, "--reconnect-max", "soon"], "is not a duration"],
    [[...base, "--password", "p"], "--password needs --username"],
    [[...base, "--ca"], "--ca needs a value"],
    [[...base, "--buffer", ""], "--buffer: expected a file path or memory"],
    [[...base, "--frobnicate"], "unknown option --frobnicate"],
    [[...base, "--buffer"], "--buffer needs a value"],
    [[...base, "--buffer", "--verbose"], "--buffer needs a value"],
    [[...base, "--broker", "mqtt://x"], "--broker is given twice"],
    [[...base, "--verbose=yes"], "--verbose takes no value"],
    [[...base, "extra"], 'unexpected argument "extra"'],
    [[...base, "--json"], "--json goes with the status command"],
    [["status", "--vehicle-id", "t"], "--vehicle-id is not a status option"],
    [[...base, "--version=1"], "--version takes no value"],
    [[...base, "-v"], 'unexpected argument "-v"'],
  ])("refuses %j with one clear line", (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

// The hub's command line: --help and --version, and nothing else, since settings come from the
// environment.

import { describe, expect, it } from "vitest";
import hubPackage from "../package.json" with { type: "json" };
import { parseHubArgs, USAGE, UsageError, VERSION } from "./cli.ts";

describe("parseHubArgs", () => {
  it("runs with no arguments, and answers --help and --version", () => {
    expect(parseHubArgs([])).toEqual({ kind: "run" });
    expect(parseHubArgs(["--help"])).toEqual({ kind: "help" });
    expect(parseHubArgs(["--version"])).toEqual({ kind: "version" });
    expect(VERSION).toBe(hubPackage.version);
  });

  it("lists the settings in its help", () => {
    for (const setting of ["LOCUS_HTTP_PORT", "LOCUS_MQTT_URL", "LOCUS_DATABASE_URL"]) {
      expect(USAGE).toContain(setting);
    }
  });

  it.each([
    [["--port", "3000"], "unknown option --port"],
    [["--help=yes"], "--help takes no value"],
    [["serve"], 'unexpected argument "serve"'],
  ])("refuses %j", (argv, message) => {
    expect(() => parseHubArgs(argv)).toThrow(UsageError);
    expect(() => parseHubArgs(argv)).toThrow(message);
  });
});

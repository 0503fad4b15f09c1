// The demo's command line: --help and --version, and nothing else.

import { describe, expect, it } from "vitest";
import demoPackage from "../package.json" with { type: "json" };
import { parseDemoArgs, UsageError, VERSION } from "./cli.ts";

describe("parseDemoArgs", () => {
  it("runs with no arguments, and answers --help and --version", () => {
    expect(parseDemoArgs([])).toEqual({ kind: "run" });
    expect(parseDemoArgs(["--help"])).toEqual({ kind: "help" });
    expect(parseDemoArgs(["--version"])).toEqual({ kind: "version" });
    expect(VERSION).toBe(demoPackage.version);
  });

  it("refuses anything else with one line naming it", () => {
    expect(() => parseDemoArgs(["--vehicles", "5"])).toThrow(UsageError);
    expect(() => parseDemoArgs(["--vehicles", "5"])).toThrow("unknown option --vehicles");
  });
});

// The shared flag reader: both value forms, switches, commands, and one message per mistake.

import { describe, expect, it } from "vitest";
import { type FlagSpec, readFlags, UsageError } from "./cli.ts";

const SPEC: FlagSpec = { values: ["broker", "bbox"], switches: ["quiet"], commands: ["status"] };

describe("readFlags", () => {
  it("reads values in both forms, switches, and a command in first place", () => {
    const flags = readFlags(
      ["status", "--broker", "mqtt://h:1", "--bbox=-118.3,34,-118.2,34.1", "--quiet"],
      SPEC,
    );
    expect(flags.command).toBe("status");
    expect(Object.fromEntries(flags.values)).toEqual({
      broker: "mqtt://h:1",
      bbox: "-118.3,34,-118.2,34.1",
    });
    expect([...flags.switches]).toEqual(["quiet"]);
  });

  it("takes a value that starts with a single dash", () => {
    expect(readFlags(["--bbox", "-118.3,34,-118.2,34.1"], SPEC).values.get("bbox")).toBe(
      "-118.3,34,-118.2,34.1",
    );
  });

  it("always knows --help and --version", () => {
    expect([...readFlags(["--help", "--version"], { values: [], switches: [] }).switches]).toEqual([
      "help",
      "version",
    ]);
  });

  it.each([
    [["--frobnicate"], "unknown option --frobnicate"],
    [["--frobnicate=1"], "unknown option --frobnicate"],
    [["--broker"], "--broker needs a value"],
    [["--broker", "--quiet"], "--broker needs a value"],
    [["--broker", "a", "--broker=b"], "--broker is given twice"],
    [["--quiet=yes"], "--quiet takes no value"],
    [["--help=1"], "--help takes no value"],
    [["stray"], 'unexpected argument "stray"'],
    [["--quiet", "status"], 'unexpected argument "status"'],
    [["-q"], 'unexpected argument "-q"'],
    [["-qv"], 'unexpected argument "-qv"'],
    [["--", "x"], 'unexpected argument "--"'],
  ])("refuses %j: %s", (argv, message) => {
    let error: unknown;
    try {
      readFlags(argv, SPEC);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(message);
  });
});

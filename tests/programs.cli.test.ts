// Every program answers --help and --version (its package's version) and refuses an unknown
// option with one line and exit code 2, before loading anything else.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

const PROGRAMS = [
  { main: "hub/src/main.ts", name: "locus hub", usage: "usage: npm start" },
  { main: "agent/src/main.ts", name: "locus-agent", usage: "usage: locus-agent" },
  { main: "simulator/src/main.ts", name: "locus simulate", usage: "usage: npm run simulate" },
  { main: "demo/src/main.ts", name: "locus demo", usage: "usage: npm run demo" },
];

function run(main: string, args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", main, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    // Only a program that hangs instead of answering reaches this.
    timeout: 60_000,
    // Settings that would make a program that ignored its arguments fail fast, not start.
    env: { ...process.env, LOCUS_HTTP_PORT: "not-a-port", LOCUS_DATA_DIR: "/nonexistent" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function version(main: string): string {
  const pkg = JSON.parse(
    fs.readFileSync(path.join(ROOT, main.split("/")[0] as string, "package.json"), "utf8"),
  ) as { version: string };
  return pkg.version;
}

describe.each(PROGRAMS)("$main", ({ main, name, usage }) => {
  it("answers --help", () => {
    const r = run(main, ["--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(usage);
    expect(r.stdout).toContain("--version");
  });

  it("answers --version", () => {
    const r = run(main, ["--version"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${name} ${version(main)}\n`);
  });

  it("refuses an unknown option in one line", () => {
    const r = run(main, ["--no-such-option"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${name}: unknown option --no-such-option`);
  });
});

// Runs `npm run bench -- --quick` as a user would, so the benchmark cannot rot: every scenario is
// in the report, ran (or says why it could not), and gave positive figures. Speed is not asserted:
// this machine's figures are the benchmark's business, not the test's.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { BenchReport } from "../bench/run.ts";
import { tempDir } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const dir = tempDir("locus-bench-smoke-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SCENARIOS = [
  "baseline",
  "embedded",
  "identity",
  "production",
  "latency",
  "backlog",
  "simulator",
  "engine",
  "webhooks",
  "cluster",
];

/** Scenarios that may be "not available" on a machine without their external programs. */
const NEEDS_SERVICES = new Set(["production", "cluster"]);

function runQuick(json: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "--quick", "--json", json],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    child.once("exit", (code) => resolve({ code, output }));
  });
}

const positive = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0;

describe("npm run bench -- --quick", () => {
  it("reports every scenario with positive figures, the machine and the parameters", async () => {
    const json = path.join(dir, "report.json");
    const { code, output } = await runQuick(json);
    expect(code, output).toBe(0);
    expect(output).toContain("measure");
    const report = JSON.parse(fs.readFileSync(json, "utf8")) as BenchReport;

    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.cpu).not.toBe("");
    expect(report.machine.memoryGiB).toBeGreaterThan(0);
    expect(report.machine.loadAtStart).toHaveLength(3);
    for (const name of ["aedes", "mqtt", "sqlite", "mosquitto", "postgres"]) {
      expect(report.machine.versions[name], name).toBeTruthy();
    }
    expect(report.options.quick).toBe(true);
    expect(report.scenarios.map((s) => s.name)).toEqual(SCENARIOS);

    const byName = new Map(report.scenarios.map((s) => [s.name, s]));
    for (const s of report.scenarios) {
      expect(s.status, `${s.name}: ${s.reason ?? ""}`).not.toBe("failed");
      if (s.status === "not available") {
        expect(NEEDS_SERVICES.has(s.name) && process.env.CI !== "true", s.reason).toBe(true);
        expect(s.reason).toBeTruthy();
      } else {
        expect(s.rows.length, s.name).toBeGreaterThan(0);
      }
    }

    const f = (name: string) => byName.get(name)?.figures as Record<string, any>;
    expect(positive(f("baseline").aedes.messagesPerSecond)).toBe(true);
    if (f("baseline").mosquitto.unavailable === undefined) {
      expect(positive(f("baseline").mosquitto.messagesPerSecond)).toBe(true);
    }
    const embedded = f("embedded");
    expect(positive(embedded.fixesPerSecond)).toBe(true);
    expect(positive(embedded.ratioToAedes)).toBe(true);
    expect(embedded.eventsReceived).toBe(embedded.eventsDetected);
    // With device authentication, every publisher logged in as its own vehicle in every run,
    // nothing was refused, and both sides moved messages, over TLS too where openssl exists.
    const identity = f("identity");
    const modes = [identity.auth];
    if (identity.tls.unavailable === undefined) modes.push(identity.tls);
    else expect(process.env.CI, identity.tls.unavailable).not.toBe("true");
    for (const mode of modes) {
      expect(positive(mode.aedes.perSecond) && positive(mode.hub.perSecond)).toBe(true);
      expect(positive(mode.ratio)).toBe(true);
    }
    const logins = identity.logins;
    expect(logins.publishers).toBe(report.options.connections);
    expect(logins.connectedPerRun).toHaveLength(modes.length * 2 * report.options.runs);
    for (const n of logins.connectedPerRun) expect(n).toBe(logins.publishers);
    expect(logins.hubRefusals).toBe(0);
    if (byName.get("production")?.status === "ok") {
      for (const mode of ["memory", "postgis"]) {
        expect(positive(f("production")[mode].fixesPerSecond), mode).toBe(true);
      }
    }
    // Several hubs: each count committed fixes and used CPU on the hubs and on the engine.
    if (byName.get("cluster")?.status === "ok") {
      for (const count of [1, 2, 3]) {
        const c = f("cluster")[`hubs${count}`];
        expect(c.partitionsHeld.reduce((a: number, b: number) => a + b, 0)).toBe(64);
        for (const k of ["fixesPerSecond", "hubCpuUsPerFix", "engineCpuUsPerFix"]) {
          expect(positive(c[k]), `${count} hubs: ${k}`).toBe(true);
        }
      }
    }
    // Each measurement sent fixes. The bare broker's subscriber heard some of them; on the
    // alternating tracks every fix causes an event, and every one arrived and was timed.
    for (const m of Object.values(f("latency").byMeasurement) as any[]) {
      expect(positive(m.fixes), m.label).toBe(true);
      if (m.target === "bare") expect(positive(m.events) && positive(m.p50Ms), m.label).toBe(true);
      if (m.track === "alternate") {
        expect(m.events, m.label).toBe(m.fixes);
        expect(positive(m.p50Ms), m.label).toBe(true);
      }
    }
    const backlog = f("backlog");
    expect(positive(backlog.seconds)).toBe(true);
    expect(backlog.stored).toBeGreaterThanOrEqual(report.options.backlogFixes);
    for (const size of f("simulator").sizes) {
      expect(positive(size.cpuPercent) && positive(size.rssMiBMax)).toBe(true);
    }
    expect(positive(f("engine").lookupsPerSec)).toBe(true);
    expect(positive(f("webhooks").one.deliveriesPerSecond)).toBe(true);
    expect(positive(f("webhooks").four.deliveriesPerSecond)).toBe(true);
  }, 600_000);
});

// Runs the map benchmark (`bench/map.ts`) small, as a user would, so it cannot rot: the page was
// measured by its own marks, every update sent was applied, and nothing left for another host.
// Speed is not asserted: the figures are the benchmark's business.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireChromium } from "./support/browser.ts";
import { tempDir } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const hasChromium = requireChromium();
const dir = tempDir("locus-map-bench-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/map.ts", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 170_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe.runIf(hasChromium)("npm run bench:map", () => {
  it("measures the page's updates and first render, and reports them", {
    timeout: 180_000,
  }, async () => {
    const json = path.join(dir, "map.json");
    const run = await runBench([
      ...["--vehicles", "300", "--seconds", "3", "--warmup", "1", "--big", "2000"],
      ...["--batches", "2", "--json", json],
    ]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/apply a second's update, 300 vehicles\s+p50 [\d.]+ ms, p95/);
    const report = JSON.parse(fs.readFileSync(json, "utf8"));
    const { updates, firstRender } = report;
    expect(updates.messagesSent).toBe(6);
    expect(updates.measures).toBe(updates.messagesSent);
    expect(updates.applySecondMs.p50).toBeGreaterThan(0);
    expect(updates.heapMiB.after.used).toBeGreaterThan(0);
    expect(firstRender.pageStats.vehicles).toBe(2000);
    expect(firstRender.snapshotSentToIdleMs).toBeGreaterThan(0);
    expect([updates.blocked, firstRender.blocked]).toEqual([0, 0]);
    expect([...updates.pageErrors, ...firstRender.pageErrors]).toEqual([]);
    expect(report.machine.cores).toBeGreaterThan(0);
  });
});

// The agent's command line as a user runs it: flag errors, status, a stream on stdin delivered
// to a real Mosquitto, clean stops, an unreachable broker and a full buffer.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import agentPackage from "../agent/package.json" with { type: "json" };
import { readBufferStats } from "../agent/src/buffer/sqlite.ts";
import { startAgent } from "./support/agent-process.ts";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "./support/broker.ts";
import { recordFixes } from "./support/broker-recorder.ts";
import { tempDir, waitFor } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const MAIN = "agent/src/main.ts";
const T0 = Date.parse("2026-11-24T08:00:00.000Z");
const line = (i: number) =>
  `${JSON.stringify({ ts: new Date(T0 + i * 1000).toISOString(), latitude: 50, longitude: 10 + i / 1e4 })}\n`;

function runSync(args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function status(buffer: string) {
  const r = runSync(["status", "--buffer", buffer, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("agent command line", () => {
  it.each([
    [["--vehicle-id", "bad id!", "--broker", "mqtt://127.0.0.1:1883"], "--vehicle-id"],
    [["--vehicle-id", "t1", "--broker", "nope"], "--broker"],
    [["--vehicle-id", "t1", "--broker", "mqtt://h", "--max-buffer", "many"], "--max-buffer"],
    [["--vehicle-id", "t1", "--broker", "mqtt://h", "--source", "com1"], "--source"],
  ])("exits 2 with one line on a bad flag: %j", (args, flag) => {
    const r = runSync(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`locus-agent: ${flag}`);
  });

  it("prints help", () => {
    const r = runSync(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: locus-agent --vehicle-id ID --broker URL");
  });

  it("prints its version", () => {
    const r = runSync(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`locus-agent ${agentPackage.version}\n`);
  });

  it("says which buffer and why when it cannot open one", () => {
    const missing = path.join(tempDir(), "no", "such", "agent.db");
    const r = runSync([
      "--vehicle-id",
      "t1",
      "--broker",
      "mqtt://127.0.0.1:1",
      "--buffer",
      missing,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `locus-agent: buffer ${missing}: cannot open: directory ${path.dirname(missing)} does not exist\n`,
    );
    const s = runSync(["status", "--buffer", missing]);
    expect(s.code).toBe(1);
    expect(s.stderr).toBe(`locus-agent: buffer ${missing}: no such file\n`);
  });
});

describe.skipIf(mosquittoBinary() === null)("agent command line with a broker", () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  it("delivers a stream from stdin, exits 0 at its end, and leaves an empty buffer", async () => {
    const rec = await recordFixes(broker.url, "cli-1");
    const buffer = path.join(tempDir(), "agent.db");
    const agent = startAgent(["--vehicle-id", "cli-1", "--broker", broker.url, "--buffer", buffer]);
    for (let i = 0; i < 300; i++) agent.child.stdin?.write(line(i));
    agent.child.stdin?.end('{"latitude": "north"}\n');
    expect(await agent.exited).toBe(0);
    await rec.waitForAll(300);
    expect(rec.firstSeqs()).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const lines = agent.stderr().trim().split("\n");
    expect(lines[0]).toContain(`locus-agent: cli-1 -> ${broker.url}`);
    expect(lines.slice(1)).toEqual([
      "locus-agent: warning: skipped invalid input from stdin: invalid_latitude",
    ]);
    expect(status(buffer)).toMatchObject({ depth: 0, oldest: null, dropped: 0, next_seq: 300 });
    expect(status(buffer).last_ack.seq).toBe(299);
    await rec.close();
  });

  it("stops on SIGTERM with exit 0 and a retained offline", async () => {
    const rec = await recordFixes(broker.url, "cli-2");
    const buffer = path.join(tempDir(), "agent.db");
    const agent = startAgent(["--vehicle-id", "cli-2", "--broker", broker.url, "--buffer", buffer]);
    for (let i = 0; i < 20; i++) agent.child.stdin?.write(line(i));
    await rec.waitForAll(20);
    await waitFor(() => (rec.statuses.at(-1) === "online" ? true : undefined), 20_000, "online");
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    await waitFor(() => (rec.statuses.at(-1) === "offline" ? true : undefined), 20_000, "offline");
    expect(status(buffer).depth).toBe(0);
    await rec.close();
  });

  it("keeps fixes while the broker is unreachable and sends them on the next run", async () => {
    const buffer = path.join(tempDir(), "agent.db");
    const offline = startAgent([
      ...["--vehicle-id", "cli-3", "--broker", "mqtt://127.0.0.1:1", "--buffer", buffer],
      ...["--max-buffer", "40"],
    ]);
    for (let i = 0; i < 50; i++) offline.child.stdin?.write(line(i));
    await waitFor(() => (offline.stderr().includes("dropped") ? true : undefined), 30_000, "drops");
    // Polled in process (read-only, as `status` does): a CLI run per poll would be slow.
    await waitFor(
      () => (readBufferStats(buffer).nextSeq === 50 ? true : undefined),
      30_000,
      "50 fixes",
    );
    offline.child.kill("SIGINT");
    expect(await offline.exited).toBe(0);
    expect(offline.stderr()).toContain("locus-agent: cannot connect to mqtt://127.0.0.1:1");
    expect(offline.stderr()).toContain("locus-agent: warning: buffer full: 1 oldest fixes dropped");
    expect(offline.stderr()).toContain(
      `locus-agent: stopped; 40 unacknowledged fixes stay in ${buffer}`,
    );
    expect(status(buffer)).toMatchObject({ depth: 40, dropped: 10, oldest: { seq: 10 } });
    const human = runSync(["status", "--buffer", buffer]);
    expect(human.stdout).toContain("depth     40 fixes waiting\n");
    expect(human.stdout).toContain("oldest    seq 10, ts 2026-11-24T08:00:10.000Z\n");
    expect(human.stdout).toContain("last ack  never\n");
    expect(human.stdout).toContain("dropped   10 (buffer was full)\n");

    const rec = await recordFixes(broker.url, "cli-3");
    const online = startAgent([
      "--vehicle-id",
      "cli-3",
      "--broker",
      broker.url,
      "--buffer",
      buffer,
    ]);
    online.child.stdin?.end(line(50));
    expect(await online.exited).toBe(0);
    await rec.waitForAll(0);
    expect(rec.firstSeqs()).toEqual(Array.from({ length: 41 }, (_, i) => i + 10));
    expect(status(buffer)).toMatchObject({ depth: 0, dropped: 10, next_seq: 51 });
    await rec.close();
  });
});

// The single executable, black box: `npm run build:agent` makes dist/locus-agent, which then
// runs against a real Mosquitto: fixes written to its stdin reach a subscriber in order with
// contiguous seqs, its SQLite buffer (the native addon inside the executable) keeps the seq
// across restarts, and `status --buffer` reads that buffer.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import agentPackage from "../agent/package.json" with { type: "json" };
import { requireBinary } from "./support/binaries.ts";
import { freePort, tempDir, waitFor } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const AGENT = path.join(ROOT, "dist/locus-agent");
const BUILD_TIMEOUT_MS = 180_000;

// Single executables need node:sea (Node ≥ 20.12); nothing else can stand in for them.
const seaSupported = Boolean(
  (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.("node:sea"),
);
if (!seaSupported) {
  const line = `Node ${process.version} cannot build single executables (node:sea is missing)`;
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
}
const available = seaSupported && requireBinary("mosquitto", "mosquitto");

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, killing it (by PID) if it outlives `timeoutMs`. */
function run(command: string, args: string[], options: { input?: string; timeoutMs: number }) {
  return new Promise<Run>((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? "unknown", stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

function canConnect(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(undefined));
  });
}

interface Received {
  seq: number;
  latitude: number;
  longitude: number;
  ts: string;
  vehicle_id: string;
}

describe.skipIf(!available)("dist/locus-agent (single executable)", () => {
  let dir = "";
  let broker: ChildProcess | undefined;
  let brokerUrl = "";
  let subscriber: mqtt.MqttClient | undefined;
  const received: Received[] = [];

  beforeAll(async () => {
    const build = await run(process.execPath, ["agent/build/build.mjs"], {
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    if (build.code !== 0) {
      throw new Error(
        `npm run build:agent failed (${build.code}):\n${build.stdout}${build.stderr}`,
      );
    }

    dir = tempDir("locus-agent-bin-");
    const port = await freePort();
    const conf = path.join(dir, "mosquitto.conf");
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    broker = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
    await waitFor(() => canConnect(port), 10_000, `mosquitto on port ${port}`);
    brokerUrl = `mqtt://127.0.0.1:${port}`;

    subscriber = await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0 });
    subscriber.on("message", (_topic, payload) => {
      const value = JSON.parse(payload.toString()) as Received | Received[];
      received.push(...(Array.isArray(value) ? value : [value]));
    });
    await subscriber.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
  }, BUILD_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await subscriber?.endAsync(true);
    if (broker && broker.exitCode === null && broker.signalCode === null) {
      const exited = new Promise((r) => broker?.once("exit", r));
      broker.kill("SIGTERM");
      await exited;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // A fix a minute, heading north-east from downtown Los Angeles.
  const fixLine = (i: number) =>
    JSON.stringify({
      latitude: 34.05 + i * 0.001,
      longitude: -118.25 + i * 0.001,
      ts: new Date(Date.UTC(2026, 10, 24, 20, i)).toISOString(),
    });

  async function sendFixes(buffer: string, from: number, count: number): Promise<Received[]> {
    const before = received.length;
    const lines = Array.from({ length: count }, (_, k) => fixLine(from + k)).join("\n");
    const agent = await run(
      AGENT,
      ["--vehicle-id", "truck-07", "--broker", brokerUrl, "--buffer", buffer, "--source", "stdin"],
      { input: `${lines}\n`, timeoutMs: 20_000 },
    );
    expect(agent.code, agent.stderr).toBe(0);
    return waitFor(
      () => (received.length >= before + count ? received.slice(before) : undefined),
      30_000,
      `${count} fixes at the subscriber`,
    );
  }

  it("prints its usage and its version", async () => {
    const help = await run(AGENT, ["--help"], { timeoutMs: 10_000 });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--vehicle-id/);
    const version = await run(AGENT, ["--version"], { timeoutMs: 10_000 });
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`locus-agent ${agentPackage.version}\n`);
  });

  it("delivers stdin fixes in order with contiguous seqs, and continues the seq after a restart", async () => {
    const buffer = path.join(dir, "agent.db");
    const first = await sendFixes(buffer, 0, 20);
    expect(first).toHaveLength(20);
    const base = first[0]?.seq ?? -1;
    expect([0, 1]).toContain(base);
    first.forEach((fix, i) => {
      expect(fix.seq).toBe(base + i);
      expect(fix.vehicle_id).toBe("truck-07");
      expect(fix.latitude).toBeCloseTo(34.05 + i * 0.001, 9);
      expect(fix.longitude).toBeCloseTo(-118.25 + i * 0.001, 9);
      expect(fix.ts).toBe(new Date(Date.UTC(2026, 10, 24, 20, i)).toISOString());
    });

    const second = await sendFixes(buffer, 20, 5);
    expect(second.map((f) => f.seq)).toEqual([20, 21, 22, 23, 24].map((k) => base + k));
    expect(second[4]?.latitude).toBeCloseTo(34.05 + 24 * 0.001, 9);

    const status = await run(AGENT, ["status", "--buffer", buffer], { timeoutMs: 10_000 });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/depth\s+0\b/);
    expect(status.stdout).toContain(`seq ${base + 24}`);
    const json = await run(AGENT, ["status", "--buffer", buffer, "--json"], { timeoutMs: 10_000 });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ depth: 0, last_ack: { seq: base + 24 } });
  }, 120_000);

  it("status on a missing buffer says so and fails", async () => {
    const status = await run(AGENT, ["status", "--buffer", path.join(dir, "none.db")], {
      timeoutMs: 10_000,
    });
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/none\.db/);
  });
});

// The agent's delivery loop against a real Mosquitto: ordering, batching, the in-flight window,
// status messages and clean stops.

import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FixBuffer } from "../agent/src/buffer/buffer.ts";
import { MemoryBuffer } from "../agent/src/buffer/memory.ts";
import { SqliteBuffer } from "../agent/src/buffer/sqlite.ts";
import { Agent, type AgentOptions, InvalidFixError } from "../agent/src/delivery/agent.ts";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "./support/broker.ts";
import { type Recorder, recordFixes } from "./support/broker-recorder.ts";
import { tempDir, waitFor } from "./support/hub-process.ts";

const T0 = Date.parse("2026-11-24T08:00:00.000Z");
const fixAt = (i: number) => ({ ts: T0 + i * 1000, latitude: 50 + i / 1e5, longitude: 10 });
const ascending = (xs: number[]) => xs.every((x, i) => i === 0 || x > (xs[i - 1] as number));

describe.skipIf(mosquittoBinary() === null)("agent delivery", () => {
  let broker: Mosquitto;
  const agents: Agent[] = [];
  const buffers: FixBuffer[] = [];
  const recorders: Recorder[] = [];
  let n = 0;
  const vehicle = () => `truck-${++n}`;

  const agentFor = (vehicleId: string, buffer: FixBuffer, extra: Partial<AgentOptions> = {}) => {
    const agent = new Agent({
      vehicleId,
      brokerUrl: broker.url,
      buffer,
      reconnectInitialMs: 50,
      reconnectMaxMs: 200,
      ...extra,
    });
    agents.push(agent);
    buffers.push(buffer);
    return agent;
  };
  const record = async (vehicleId: string) => {
    const r = await recordFixes(broker.url, vehicleId);
    recorders.push(r);
    return r;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    for (const b of buffers.splice(0)) b.close();
    await Promise.all(recorders.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  it("sends a backlog of 5000 in ordered batches of at most 1000, new fixes behind it", async () => {
    const id = vehicle();
    const rec = await record(id);
    const buffer = SqliteBuffer.open(path.join(tempDir(), "agent.db"));
    for (let i = 0; i < 5000; i++) buffer.put(fixAt(i));
    const agent = agentFor(id, buffer);
    agent.start();
    // Read while the backlog is going out: these queue behind it.
    for (let i = 5000; i < 5010; i++) agent.push(fixAt(i));
    await waitFor(() => (agent.isConnected ? true : undefined), 20_000, "connection");
    expect(agent.stats().inflight).toBeLessThanOrEqual(16);
    await rec.waitForAll(5010);
    await agent.drained();

    expect(rec.seqs()).toEqual(Array.from({ length: 5010 }, (_, i) => i));
    expect(rec.duplicates()).toBe(0);
    const sizes = rec.messages.map((m) => m.seqs.length);
    expect(sizes.slice(0, 5)).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(rec.messages.every((m) => m.seqs.length <= 1000)).toBe(true);
    expect(rec.messages[0]?.ts[0]).toBe("2026-11-24T08:00:00.000Z");
    expect(buffer.depth()).toBe(0);
    expect(buffer.lastAck()?.seq).toBe(5009);
    expect(agent.stats()).toMatchObject({ sent: 5010, acked: 5010, buffered: 0, resent: 0 });

    // With no backlog, a fix goes out alone, at once.
    const before = rec.messages.length;
    agent.push(fixAt(6000));
    await waitFor(() => rec.messages[before], 20_000, "the lone fix");
    expect(rec.messages[before]).toEqual({
      batch: false,
      seqs: [5010],
      ts: ["2026-11-24T09:40:00.000Z"],
    });
  });

  it("keeps at most the window's messages in flight", async () => {
    const id = vehicle();
    const rec = await record(id);
    const buffer = new MemoryBuffer();
    const agent = agentFor(id, buffer, { inflightWindow: 2, maxBatch: 10 });
    for (let i = 0; i < 300; i++) agent.push(fixAt(i));
    let most = 0;
    const timer = setInterval(() => {
      most = Math.max(most, agent.stats().inflight);
    }, 1);
    agent.start();
    await rec.waitForAll(300);
    clearInterval(timer);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    expect(rec.messages.every((m) => m.seqs.length <= 10)).toBe(true);
    expect(ascending(rec.seqs())).toBe(true);
  });

  it("stamps a fix without ts with the time it was read, and keeps the fields it has", async () => {
    const id = vehicle();
    const rec = await record(id);
    const agent = agentFor(id, new MemoryBuffer(), { now: () => T0 + 42 });
    agent.start();
    await waitFor(() => (agent.isConnected ? true : undefined), 20_000, "connection");
    agent.push({ latitude: 1.5, longitude: 2.5, speed: 3, heading: 4, accuracy: 5, altitude: 6 });
    await rec.waitForAll(1);
    expect(rec.messages[0]).toEqual({ batch: false, seqs: [0], ts: ["2026-11-24T08:00:00.042Z"] });
  });

  it("refuses a fix the protocol refuses, without buffering it", () => {
    const buffer = new MemoryBuffer();
    const agent = agentFor(vehicle(), buffer);
    expect(() => agent.push({ latitude: 91, longitude: 0 })).toThrow(InvalidFixError);
    expect(() => agent.push({ latitude: 0, longitude: 0, speed: -1 })).toThrow(/invalid_speed/);
    expect(() => agent.push({ latitude: 0, longitude: 0, ts: Number.NaN })).toThrow(/invalid_ts/);
    expect(buffer.depth()).toBe(0);
    expect(() => new Agent({ vehicleId: "a/b", brokerUrl: broker.url, buffer })).toThrow(
      /invalid vehicle id/,
    );
  });

  it("publishes a retained online on connect and offline on a clean stop", async () => {
    const id = vehicle();
    const rec = await record(id);
    const agent = agentFor(id, new MemoryBuffer());
    agent.start();
    await waitFor(() => (rec.statuses.includes("online") ? true : undefined), 20_000, "online");
    await agent.stop();
    await waitFor(() => (rec.statuses.at(-1) === "offline" ? true : undefined), 20_000, "offline");
    // Retained: a newcomer sees it.
    const late = await record(id);
    await waitFor(() => (late.statuses[0] === "offline" ? true : undefined), 20_000, "retained");
    expect(() => agent.push(fixAt(0))).toThrow(/stopped/);
  });

  it("counts fixes dropped beyond the buffer limit while offline", async () => {
    const buffer = new MemoryBuffer({ maxFixes: 100 });
    const agent = agentFor(vehicle(), buffer);
    for (let i = 0; i < 150; i++) agent.push(fixAt(i));
    expect(agent.stats()).toMatchObject({ buffered: 100, dropped: 50, connected: false });
  });

  it("stops without waiting while the broker is unreachable, keeping every fix", async () => {
    const buffer = SqliteBuffer.open(path.join(tempDir(), "agent.db"));
    // A stop that waited for acks that cannot come would outlast the test's own time limit.
    const lines: string[] = [];
    const agent = agentFor(vehicle(), buffer, {
      brokerUrl: "mqtt://127.0.0.1:1",
      stopTimeoutMs: 600_000,
      log: (_level, message) => lines.push(message),
    });
    agent.start();
    for (let i = 0; i < 10; i++) agent.push(fixAt(i));
    // Stopped once an attempt has failed and the agent is waiting to retry.
    await waitFor(
      () => (lines.some((l) => l.startsWith("cannot connect")) ? true : undefined),
      20_000,
      "a failed attempt",
    );
    await agent.stop();
    expect(buffer.depth()).toBe(10);
  });
});

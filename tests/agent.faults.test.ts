// The agent against a real Mosquitto when things go wrong: the broker down at start, the broker
// restarted mid-stream, the network cut loudly or silently. Every fix must arrive, oldest first.

import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FixBuffer } from "../agent/src/buffer/buffer.ts";
import { SqliteBuffer } from "../agent/src/buffer/sqlite.ts";
import { Agent, type AgentOptions } from "../agent/src/delivery/agent.ts";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "./support/broker.ts";
import { type Recorder, recordFixes } from "./support/broker-recorder.ts";
import { freePort, tempDir, waitFor } from "./support/hub-process.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

const T0 = Date.parse("2026-11-24T08:00:00.000Z");
const fixAt = (i: number) => ({ ts: T0 + i * 1000, latitude: 50 + i / 1e5, longitude: 10 });
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pushes fixes from..to-1, one every `everyMs`, the way a GPS source would. */
async function feed(agent: Agent, from: number, to: number, everyMs: number): Promise<void> {
  for (let i = from; i < to; i++) {
    agent.push(fixAt(i));
    await sleep(everyMs);
  }
}

describe.skipIf(mosquittoBinary() === null)("agent faults", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const broker = async (options: Parameters<typeof startMosquitto>[0] = {}) => {
    const b = await startMosquitto(options);
    cleanups.push(async () => {
      await b.stop("SIGKILL");
      fs.rmSync(b.dir, { recursive: true, force: true });
    });
    return b;
  };
  const recorder = async (url: string, id: string, persistentId?: string) => {
    const r = await recordFixes(url, id, persistentId ? { persistentId } : {});
    cleanups.push(() => r.close());
    return r;
  };
  const agent = (id: string, brokerUrl: string, extra: Partial<AgentOptions> = {}) => {
    const buffer: FixBuffer = SqliteBuffer.open(path.join(tempDir(), "agent.db"));
    const a = new Agent({
      vehicleId: id,
      brokerUrl,
      buffer,
      reconnectInitialMs: 100,
      reconnectMaxMs: 400,
      connectTimeoutMs: 1000,
      ...extra,
    });
    cleanups.push(async () => {
      await a.stop();
      buffer.close();
    });
    return { agent: a, buffer };
  };
  /** Every seq arrived, the first arrivals in seq order, and the agent's buffer is empty. */
  const expectAll = async (rec: Recorder, a: Agent, buffer: FixBuffer, count: number) => {
    await rec.waitForAll(count);
    await waitFor(() => (buffer.depth() === 0 ? true : undefined), 10_000, "an empty buffer");
    expect(rec.firstSeqs()).toEqual(upTo(count));
    expect(a.stats().acked).toBeGreaterThanOrEqual(count);
  };

  it("delivers everything, in order, when the broker comes up after the agent", async () => {
    const port = await freePort();
    const b = await broker({ persistence: true, port });
    // The subscriber's session outlives the broker's downtime, so nothing published before it
    // reconnects is lost to it.
    const rec = await recorder(b.url, "late-broker", "recorder-late-broker");
    await b.stop();

    const { agent: a, buffer } = agent("late-broker", b.url);
    a.start();
    const feeding = feed(a, 0, 300, 3);
    await sleep(600);
    expect(a.isConnected).toBe(false);
    expect(buffer.depth()).toBeGreaterThan(50);
    await b.start();
    await feeding;
    await expectAll(rec, a, buffer, 300);
    // The backlog went out in batches.
    expect(rec.messages.some((m) => m.batch && m.seqs.length > 10)).toBe(true);
  });

  it("delivers everything when the broker restarts mid-stream", async () => {
    const b = await broker({ persistence: true });
    const rec = await recorder(b.url, "restart", "recorder-restart");
    const { agent: a, buffer } = agent("restart", b.url);
    a.start();
    const feeding = feed(a, 0, 600, 2);
    await waitFor(() => (rec.seqs().length > 100 ? true : undefined), 10_000, "first fixes");
    await b.restart();
    await waitFor(() => (rec.seqs().length > 400 ? true : undefined), 10_000, "more fixes");
    await b.restart();
    await feeding;
    await expectAll(rec, a, buffer, 600);
    expect(a.stats().connections).toBe(3);
  });

  const throughProxy = async (id: string) => {
    const b: Mosquitto = await broker();
    const proxy: TcpProxy = await startTcpProxy(b.port);
    cleanups.push(() => proxy.close());
    const rec = await recorder(b.url, id);
    const parts = agent(id, proxy.url, { keepaliveSeconds: 1 });
    return { rec, proxy, ...parts };
  };

  it("delivers everything when the link is cut and restored, and the will says offline", async () => {
    const { rec, proxy, agent: a, buffer } = await throughProxy("cut");
    a.start();
    const feeding = feed(a, 0, 600, 2);
    for (const at of [100, 250, 400]) {
      await waitFor(() => (rec.seqs().length > at ? true : undefined), 10_000, `${at} fixes`);
      proxy.sever();
      await waitFor(() => (rec.statuses.at(-1) === "offline" ? true : undefined), 5000, "will");
      await sleep(300);
      proxy.restore();
      await waitFor(() => (rec.statuses.at(-1) === "online" ? true : undefined), 5000, "online");
    }
    await feeding;
    await expectAll(rec, a, buffer, 600);
  });

  it("delivers everything when the link silently drops every byte for a while", async () => {
    const { rec, proxy, agent: a, buffer } = await throughProxy("tunnel");
    a.start();
    const feeding = feed(a, 0, 500, 4);
    await waitFor(() => (rec.seqs().length > 100 ? true : undefined), 10_000, "first fixes");
    proxy.blackhole();
    // The keepalive (1 s) notices the dead link; fixes pile up in the buffer meanwhile.
    await waitFor(() => (a.isConnected ? undefined : true), 5000, "the agent to notice");
    await sleep(500);
    const held = buffer.depth();
    expect(held).toBeGreaterThan(0);
    proxy.restore();
    await feeding;
    await expectAll(rec, a, buffer, 500);
  });

  it("stops without waiting for a connection attempt that hangs in a black hole", async () => {
    const b: Mosquitto = await broker();
    const proxy: TcpProxy = await startTcpProxy(b.port);
    cleanups.push(() => proxy.close());
    // A stop that waited for the hanging attempt or for in-flight acks would outlast the test's
    // own time limit: both are set far beyond it.
    const { agent: a, buffer } = agent("hang", proxy.url, {
      connectTimeoutMs: 600_000,
      stopTimeoutMs: 600_000,
    });
    proxy.blackhole();
    a.start();
    a.push(fixAt(0));
    await sleep(300);
    expect(a.isConnected).toBe(false);
    await a.stop();
    expect(buffer.depth()).toBe(1);
  });
});

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

/**
 * Pushes fixes from..to-1, one every `everyMs`, the way a GPS source would. The pace only spreads
 * the fixes over the fault; no assertion depends on it. Ends early once `signal` aborts, so a
 * test that failed half-way does not go on pushing into an agent its cleanup stopped.
 */
async function feed(
  agent: Agent,
  from: number,
  to: number,
  everyMs: number,
  signal: AbortSignal,
): Promise<void> {
  for (let i = from; i < to && !signal.aborted; i++) {
    agent.push(fixAt(i));
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const above = (n: number, value: () => number) => () => (value() > n ? true : undefined);

// The waits inside are generous so a busy machine cannot trip them; the suite's limit follows.
describe.skipIf(mosquittoBinary() === null)("agent faults", { timeout: 90_000 }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let feeding = new AbortController();
  afterEach(async () => {
    feeding.abort();
    feeding = new AbortController();
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
    await waitFor(() => (buffer.depth() === 0 ? true : undefined), 20_000, "an empty buffer");
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
    const fed = feed(a, 0, 300, 3, feeding.signal);
    // A backlog builds while the broker is away, however slowly the fixes come on a busy machine.
    await waitFor(
      above(50, () => buffer.depth()),
      20_000,
      () => `a backlog (${buffer.depth()})`,
    );
    expect(a.isConnected).toBe(false);
    expect(a.stats().connections).toBe(0);
    await b.start();
    await fed;
    await expectAll(rec, a, buffer, 300);
    // The backlog went out in batches.
    expect(rec.messages.some((m) => m.batch && m.seqs.length > 10)).toBe(true);
  });

  it("delivers everything when the broker restarts mid-stream", async () => {
    const b = await broker({ persistence: true });
    const rec = await recorder(b.url, "restart", "recorder-restart");
    const { agent: a, buffer } = agent("restart", b.url);
    a.start();
    const fed = feed(a, 0, 600, 2, feeding.signal);
    await waitFor(
      above(100, () => rec.seqs().length),
      20_000,
      "first fixes",
    );
    await b.restart();
    await waitFor(
      above(400, () => rec.seqs().length),
      20_000,
      "more fixes",
    );
    await b.restart();
    await fed;
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
    const fed = feed(a, 0, 600, 2, feeding.signal);
    for (const at of [100, 250, 400]) {
      await waitFor(
        above(at, () => rec.seqs().length),
        20_000,
        `${at} fixes`,
      );
      proxy.sever();
      await waitFor(() => (rec.statuses.at(-1) === "offline" ? true : undefined), 20_000, "will");
      // Both ends saw the cut before the link comes back.
      await waitFor(() => (a.isConnected ? undefined : true), 20_000, "the agent to notice");
      proxy.restore();
      await waitFor(() => (rec.statuses.at(-1) === "online" ? true : undefined), 20_000, "online");
    }
    await fed;
    await expectAll(rec, a, buffer, 600);
  });

  it("delivers everything when the link silently drops every byte for a while", async () => {
    const { rec, proxy, agent: a, buffer } = await throughProxy("tunnel");
    a.start();
    const fed = feed(a, 0, 500, 4, feeding.signal);
    await waitFor(
      above(100, () => rec.seqs().length),
      20_000,
      "first fixes",
    );
    proxy.blackhole();
    // The keepalive (1 s) notices the dead link; fixes pile up in the buffer meanwhile.
    await waitFor(() => (a.isConnected ? undefined : true), 20_000, "the agent to notice");
    expect(buffer.depth()).toBeGreaterThan(0);
    proxy.restore();
    await fed;
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
    // The attempt reached the proxy, which swallows it: it now hangs.
    await waitFor(
      above(0, () => proxy.connections()),
      20_000,
      "the connection attempt",
    );
    expect(a.isConnected).toBe(false);
    await a.stop();
    expect(buffer.depth()).toBe(1);
  });
});

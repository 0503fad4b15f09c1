// The delivery loop against an in-process aedes broker that can hold back its PUBACKs: the
// in-flight window, batches, the backlog before new fixes, ack-then-delete, and reconnection.

import net from "node:net";
import { locationTopic } from "@locus/protocol";
import { Aedes } from "aedes";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, tempDir, waitFor } from "../../../tests/support/hub-process.ts";
import { fixAt } from "../buffer/buffer.contract.ts";
import type { FixBuffer } from "../buffer/buffer.ts";
import { MemoryBuffer } from "../buffer/memory.ts";
import { SqliteBuffer } from "../buffer/sqlite.ts";
import { Agent, type AgentOptions } from "./agent.ts";

const VEHICLE = "unit-1";
const TOPIC = locationTopic(VEHICLE);

interface Received {
  /** True when the payload was a JSON array. */
  batch: boolean;
  seqs: number[];
}

/**
 * A broker whose PUBACKs for location messages the test hands out: aedes sends one only when
 * authorizePublish calls back, so while `holding` the callbacks wait in `held`.
 */
interface TestBroker {
  url: string;
  port: number;
  /** Location messages in arrival order. */
  received: Received[];
  holding: boolean;
  held: (() => void)[];
  /** Sends the oldest `n` held PUBACKs (all by default). */
  release(n?: number): void;
  /** Closes every connection and stops listening, as a broker that goes away. */
  close(): Promise<void>;
}

async function startBroker(port = 0): Promise<TestBroker> {
  const broker: TestBroker = {
    url: "",
    port: 0,
    received: [],
    holding: false,
    held: [],
    release(n = broker.held.length) {
      for (const ack of broker.held.splice(0, n)) ack();
    },
    close: async () => {},
  };
  const aedes = await Aedes.createBroker({
    authorizePublish(_client, packet, callback) {
      if (packet.topic !== TOPIC) return callback(null);
      const value = JSON.parse(packet.payload.toString());
      const fixes: { seq: number }[] = Array.isArray(value) ? value : [value];
      broker.received.push({ batch: Array.isArray(value), seqs: fixes.map((f) => f.seq) });
      if (broker.holding) broker.held.push(() => callback(null));
      else callback(null);
    },
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  broker.port = typeof address === "object" && address ? address.port : 0;
  broker.url = `mqtt://127.0.0.1:${broker.port}`;
  broker.close = async () => {
    // Held acknowledgements are lost with the broker, as they would be with a crash.
    broker.held.splice(0);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return broker;
}

/** Every seq the broker received, in arrival order, duplicates included. */
const arrived = (broker: TestBroker) => broker.received.flatMap((m) => m.seqs);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
/** The seqs still waiting in a buffer, oldest first. */
const waiting = (buffer: FixBuffer) => buffer.nextBatch(-1, 100_000).map((f) => f.seq);
const until = (what: string, condition: () => boolean) =>
  waitFor(() => (condition() ? true : undefined), 20_000, what);

describe("Agent delivery loop", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const broker = async (port?: number) => {
    const b = await startBroker(port);
    let closed = false;
    const close = b.close;
    b.close = async () => {
      if (closed) return;
      closed = true;
      await close();
    };
    cleanups.push(() => b.close());
    return b;
  };
  const agent = (url: string, buffer: FixBuffer, extra: Partial<AgentOptions> = {}) => {
    const a = new Agent({
      vehicleId: VEHICLE,
      brokerUrl: url,
      buffer,
      reconnectInitialMs: 20,
      reconnectMaxMs: 100,
      stopTimeoutMs: 1000,
      random: () => 0.5,
      ...extra,
    });
    cleanups.push(async () => {
      await a.stop();
      buffer.close();
    });
    return a;
  };

  it("keeps at most the window's messages in flight, one more per PUBACK", async () => {
    const b = await broker();
    b.holding = true;
    const buffer = new MemoryBuffer();
    for (let i = 0; i < 20; i++) buffer.put(fixAt(i));
    const a = agent(b.url, buffer, { inflightWindow: 3, maxBatch: 2 });
    a.start();
    await until("three messages", () => b.received.length >= 3);
    // The agent decides synchronously: had it sent a fourth, it would have counted it.
    expect(a.stats()).toMatchObject({ inflight: 3, sent: 6, acked: 0 });
    expect(b.received.map((m) => m.seqs)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);

    // aedes reads a client's next packets only once every packet of the last read is handled,
    // so the fourth message is judged at the agent, which sends it as the PUBACK frees a slot.
    b.release(1);
    await until("the first acknowledgement", () => a.stats().acked === 2);
    expect(a.stats()).toMatchObject({ inflight: 3, sent: 8, acked: 2 });
    expect(waiting(buffer)[0]).toBe(2);

    b.holding = false;
    b.release();
    await a.drained();
    expect(arrived(b)).toEqual(range(0, 20));
    expect(b.received.every((m) => m.seqs.length === 2)).toBe(true);
  });

  it("sends a backlog in batches of at most maxBatch, a lone fix by itself", async () => {
    const b = await broker();
    const buffer = new MemoryBuffer();
    for (let i = 0; i < 2500; i++) buffer.put(fixAt(i));
    const a = agent(b.url, buffer);
    a.start();
    await a.drained();
    expect(b.received.map((m) => m.seqs.length)).toEqual([1000, 1000, 500]);
    expect(b.received.every((m) => m.batch)).toBe(true);
    expect(arrived(b)).toEqual(range(0, 2500));

    a.push(fixAt(2500));
    await a.drained();
    expect(b.received.at(-1)).toEqual({ batch: false, seqs: [2500] });
  });

  it("sends the backlog before fixes read while it is going out", async () => {
    const b = await broker();
    b.holding = true;
    const buffer = new MemoryBuffer();
    for (let i = 0; i < 25; i++) buffer.put(fixAt(i));
    const a = agent(b.url, buffer, { inflightWindow: 1, maxBatch: 10 });
    a.start();
    await until("the first batch", () => b.received.length >= 1);
    // New fixes while the backlog is in flight: they wait behind it.
    for (let i = 25; i < 28; i++) a.push(fixAt(i));
    expect(b.received.length).toBe(1);
    b.holding = false;
    b.release();
    await a.drained();
    expect(arrived(b)).toEqual(range(0, 28));
    expect(b.received[0]?.seqs).toEqual(range(0, 10));
  });

  it("deletes a fix from the buffer only when its PUBACK arrives", async () => {
    const b = await broker();
    b.holding = true;
    const buffer = new MemoryBuffer();
    const a = agent(b.url, buffer, { inflightWindow: 4 });
    a.start();
    await until("the connection", () => a.isConnected);
    for (let i = 0; i < 3; i++) a.push(fixAt(i));
    await until("three fixes at the broker", () => b.received.length >= 3);
    // At the broker, but not acknowledged: still buffered.
    expect(waiting(buffer)).toEqual([0, 1, 2]);
    expect(a.stats().acked).toBe(0);

    b.release(1);
    await until("the first acknowledgement", () => a.stats().acked === 1);
    expect(waiting(buffer)).toEqual([1, 2]);

    b.release();
    await a.drained();
    expect(waiting(buffer)).toEqual([]);
    expect(a.stats()).toMatchObject({ sent: 3, acked: 3, resent: 0, buffered: 0 });
  });

  it("reconnects when the broker comes back and resends what was not acknowledged", async () => {
    const port = await freePort();
    const first = await broker(port);
    first.holding = true;
    const buffer = SqliteBuffer.open(`${tempDir()}/agent.db`);
    const a = agent(first.url, buffer);
    a.start();
    await until("the connection", () => a.isConnected);
    for (let i = 0; i < 5; i++) a.push(fixAt(i));
    await until("five fixes at the broker", () => arrived(first).length === 5);

    // The broker goes away before it acknowledges anything.
    await first.close();
    await until("the agent to notice", () => !a.isConnected);
    expect(waiting(buffer)).toEqual(range(0, 5));
    // Fixes read while it is away are buffered behind the unacknowledged ones.
    for (let i = 5; i < 8; i++) a.push(fixAt(i));
    expect(waiting(buffer)).toEqual(range(0, 8));

    const second = await broker(port);
    await a.drained();
    expect(arrived(second)).toEqual(range(0, 8));
    expect(waiting(buffer)).toEqual([]);
    expect(a.stats()).toMatchObject({ connections: 2, sent: 13, resent: 5, acked: 8 });
  });

  it("keeps retrying while no broker listens, then delivers everything", async () => {
    const port = await freePort();
    const buffer = new MemoryBuffer();
    const lines: string[] = [];
    const a = agent(`mqtt://127.0.0.1:${port}`, buffer, {
      log: (_level, message) => lines.push(message),
    });
    a.start();
    for (let i = 0; i < 10; i++) a.push(fixAt(i));
    await until("a failed attempt", () => lines.some((l) => l.startsWith("cannot connect")));
    expect(a.stats()).toMatchObject({ connected: false, connections: 0, buffered: 10 });

    const b = await broker(port);
    await a.drained();
    expect(arrived(b)).toEqual(range(0, 10));
    // One outage, one line, however many attempts failed.
    expect(lines.filter((l) => l.startsWith("cannot connect"))).toHaveLength(1);
  });
});

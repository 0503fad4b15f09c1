// Floods against a whole hub in this process: oversized packets, retained publishes as fast as
// sockets take them, and more connections than allowed. The hub's memory (RSS) must stay
// bounded; the bounds are generous, the floods offer far more than they allow.

import type net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  closed,
  connectPacket,
  publishPacket,
  rawSocket,
  startTestHub,
  type TestHub,
  waitFor,
} from "./limits.support.ts";

const MiB = 1024 * 1024;

let hub: TestHub | null = null;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await hub?.close();
  hub = null;
});

/** Samples the RSS until `run` ends; resolves to its highest growth over `before`, bytes. */
async function peakGrowth(run: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage().rss) - before;
}

/** Writes `chunks` as fast as the socket drains, until they end or the socket closes. */
async function writeAll(socket: net.Socket, chunks: Iterable<Buffer>): Promise<void> {
  socket.on("error", () => {});
  for (const chunk of chunks) {
    if (socket.destroyed) return;
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        socket.once("drain", resolve);
        socket.once("close", resolve);
      });
    }
  }
}

function* repeat(buffer: Buffer, times: number): Generator<Buffer> {
  for (let i = 0; i < times; i++) yield buffer;
}

describe("floods", () => {
  it("a packet over the size limit is cut at its header, before its body is buffered", async () => {
    hub = await startTestHub();
    const socket = await rawSocket(hub.port);
    sockets.push(socket);
    socket.write(connectPacket("big"));
    // A retained PUBLISH announcing 200 MiB, then its body, as fast as the socket takes it.
    const announced = Buffer.from([0x31, 0x80, 0x80, 0x80, 0x64]);
    const growth = await peakGrowth(async () => {
      await writeAll(socket, [announced, ...repeat(Buffer.alloc(MiB, 0x61), 200)]);
      await closed(socket);
    });
    expect(await hub.limited("packet_size")).toBe(1);
    // The kernel's buffers take some of the body before the close is seen; not 200 MiB.
    expect(socket.bytesWritten).toBeLessThan(64 * MiB);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it("retained publishes as fast as eight sockets take them keep the RSS bounded", async () => {
    hub = await startTestHub();
    const port = hub.port;
    const payload = Buffer.alloc(250 * 1024, 0x7b);
    const growth = await peakGrowth(async () => {
      await Promise.all(
        Array.from({ length: 8 }, async (_, c) => {
          const socket = await rawSocket(port);
          sockets.push(socket);
          socket.resume(); // reads (and drops) its CONNACK, so it sees the end
          socket.write(connectPacket(`flood-${c}`));
          // Four topics each: what is retained stays small, what is offered is 200 MiB.
          const packets = Array.from({ length: 4 }, (_, t) =>
            publishPacket(`owntracks/flood${c}/phone${t}`, payload, { qos: 0, retain: true }),
          );
          await writeAll(
            socket,
            (function* () {
              for (let i = 0; i < 100; i++) yield packets[i % 4] as Buffer;
            })(),
          );
          socket.end();
          await closed(socket);
        }),
      );
    });
    expect(growth).toBeLessThan(200 * MiB);
  });

  it("more connections than allowed are refused, and those held without CONNECT cost little", async () => {
    hub = await startTestHub({
      LOCUS_MQTT_MAX_CONNECTIONS_PER_ADDRESS: "200",
      LOCUS_MQTT_CONNECT_TIMEOUT_MS: "60000",
    });
    const port = hub.port;
    // Each admitted socket starts a CONNECT it never finishes: 100 KiB of a 300 KiB packet.
    const partial = Buffer.concat([
      Buffer.from([0x10, 0x80, 0xc0, 0x12]),
      Buffer.alloc(100 * 1024),
    ]);
    const attempts = 1000;
    const growth = await peakGrowth(async () => {
      const opened = await Promise.all(
        Array.from({ length: attempts }, async () => {
          const socket = await rawSocket(port).catch(() => null);
          if (socket === null) return;
          sockets.push(socket);
          socket.on("error", () => {});
          socket.write(partial);
        }),
      );
      expect(opened).toHaveLength(attempts);
      await waitFor(async () =>
        (await hub?.limited("connections_per_address")) === attempts - 200 ? true : undefined,
      );
    });
    expect(growth).toBeLessThan(200 * MiB);
  });
});

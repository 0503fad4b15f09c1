// drainSockets over real loopback sockets: it waits for buffered writes to reach the kernel, and
// gives up on a peer that never reads.

import net from "node:net";
import { afterEach, expect, it } from "vitest";
import { drainSockets } from "./socket-drain.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

/** A connected pair: `server` is the hub's side, `peer` the device's, paused (reading nothing). */
async function pair(): Promise<{ server: net.Socket; peer: net.Socket }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => listener.once("connection", r));
  const peer = net.connect(port, "127.0.0.1");
  peer.pause();
  const server = await accepted;
  cleanups.push(() => {
    server.destroy();
    peer.destroy();
    listener.close();
  });
  return { server, peer };
}

/** Writes until the socket buffers in user space, as a burst of PUBACKs to a slow reader would. */
function fill(socket: net.Socket): number {
  const chunk = Buffer.alloc(1 << 20, 1);
  let written = 0;
  while (socket.writableLength === 0) {
    socket.write(chunk);
    written += chunk.length;
  }
  return written;
}

it("resolves once the buffered bytes are handed over, and not before", async () => {
  const { server, peer } = await pair();
  const written = fill(server);
  let drained = false;
  const waiting = drainSockets([server]).then(() => {
    drained = true;
  });
  await new Promise((r) => setImmediate(r));
  expect(drained).toBe(false);
  let received = 0;
  peer.on("data", (d: Buffer) => {
    received += d.length;
  });
  peer.resume();
  await waiting;
  expect(server.writableLength).toBe(0);
  // Everything written reaches the peer if the socket is now destroyed, as aedes does.
  const ended = new Promise((r) => peer.once("close", r));
  server.destroy();
  await ended;
  expect(received).toBe(written);
});

it("gives up after its timeout on a peer that never reads", async () => {
  const { server } = await pair();
  fill(server);
  await drainSockets([server], 20);
  expect(server.writableLength).toBeGreaterThan(0);
});

it("resolves at once when nothing is buffered", async () => {
  const { server } = await pair();
  await drainSockets([server], 60_000);
  expect(server.writableLength).toBe(0);
});

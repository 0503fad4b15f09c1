// Before the embedded broker closes its connections: bytes already written to a socket (the last
// PUBACKs) reach the peer, since aedes destroys sockets on close, dropping what is still buffered.

import type net from "node:net";

/**
 * Resolves once every socket has handed its buffered writes to the kernel, or has closed, or
 * after `timeoutMs` (a peer that stopped reading must not hold up the stop for ever).
 */
export async function drainSockets(sockets: Iterable<net.Socket>, timeoutMs = 5000): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const socket of sockets) {
    if (socket.destroyed || socket.writableLength === 0) continue;
    pending.push(
      new Promise<void>((resolve) => {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      }),
    );
  }
  if (pending.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(pending), timeout]);
  clearTimeout(timer);
}

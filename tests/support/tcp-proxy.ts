// A TCP proxy for fault tests: forwards loopback connections to a target and can cut the link,
// either loudly (sockets closed, new connections refused) or silently (a black hole: bytes vanish
// and nobody is told, as when a vehicle drives into a tunnel).

import net from "node:net";

export interface TcpProxy {
  port: number;
  /** `mqtt://127.0.0.1:{port}` */
  url: string;
  /** Closes every forwarded connection and closes new ones at once. */
  sever(): void;
  /** Keeps connections open but drops every byte both ways; new connections hang the same way. */
  blackhole(): void;
  /** Forwards again; connections that were black-holed are closed. */
  restore(): void;
  /** Open client connections. */
  connections(): number;
  /** Client connections accepted since the start, closed ones included. */
  accepted(): number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  blocked: boolean;
}

/** Starts a proxy on a free loopback port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let mode: "open" | "severed" | "blackhole" = "open";
  const pairs = new Set<Pair>();
  let accepted = 0;

  const destroy = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const server = net.createServer((client) => {
    accepted++;
    if (mode === "severed") {
      client.destroy();
      return;
    }
    const pair: Pair = { client, upstream: null, blocked: mode === "blackhole" };
    pairs.add(pair);
    client.on("error", () => destroy(pair));
    client.on("close", () => destroy(pair));
    if (pair.blocked) {
      client.resume(); // read and discard
      return;
    }
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    pair.upstream = upstream;
    // Manual forwarding, so a black hole can swallow bytes without either side noticing.
    client.on("data", (d) => {
      if (!pair.blocked) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!pair.blocked) client.write(d);
    });
    upstream.on("error", () => {
      if (!pair.blocked) destroy(pair);
    });
    upstream.on("close", () => {
      // A silent cut hides the far side's close too.
      if (!pair.blocked) destroy(pair);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    sever() {
      mode = "severed";
      for (const pair of [...pairs]) destroy(pair);
    },
    blackhole() {
      mode = "blackhole";
      for (const pair of pairs) pair.blocked = true;
    },
    restore() {
      mode = "open";
      for (const pair of [...pairs]) if (pair.blocked) destroy(pair);
    },
    connections: () => pairs.size,
    accepted: () => accepted,
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// A TCP balancer for chaos tests, on loopback only: each new connection goes to a random live
// target (a hub's MQTT port), the next one when that connect fails. A target marked down has its
// connections closed at once and gets no new ones until it is up again (on its new port), so
// devices behind it reconnect to another target, as behind a load balancer with health checks.

import net from "node:net";

export interface Balancer {
  port: number;
  /** `mqtt://127.0.0.1:{port}` */
  url: string;
  /** The target `name` listens on `port` now (a new target, or one that came back). */
  up(name: string, port: number): void;
  /** The target gets no new connections; its open ones are closed. */
  down(name: string): void;
  /** Targets taking connections now. */
  live(): string[];
  /** Connections forwarded since the start, per target. */
  accepted(): Map<string, number>;
  close(): Promise<void>;
}

interface Target {
  port: number | null;
  pairs: Set<net.Socket>;
  accepted: number;
}

/** Starts the balancer on a free loopback port; `random` picks targets (seed it for replays). */
export async function startBalancer(random: () => number = Math.random): Promise<Balancer> {
  const targets = new Map<string, Target>();
  const clients = new Set<net.Socket>();

  const live = () => [...targets].filter(([, t]) => t.port !== null).map(([name]) => name);

  /** Connects `client` to one of `candidates` (random order), or closes it when none answers. */
  const route = (client: net.Socket, candidates: string[]) => {
    if (client.destroyed) return;
    if (candidates.length === 0) {
      client.destroy();
      return;
    }
    const i = Math.floor(random() * candidates.length);
    const name = candidates[i] as string;
    const rest = candidates.filter((_, j) => j !== i);
    const target = targets.get(name);
    if (target === undefined || target.port === null) {
      route(client, rest);
      return;
    }
    const upstream = net.connect({ host: "127.0.0.1", port: target.port });
    let connected = false;
    upstream.once("connect", () => {
      connected = true;
      if (client.destroyed || target.port === null) {
        upstream.destroy();
        client.destroy();
        return;
      }
      target.accepted++;
      target.pairs.add(upstream);
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    const closeBoth = () => {
      target.pairs.delete(upstream);
      upstream.destroy();
      client.destroy();
    };
    upstream.on("error", () => {
      // Refused (the target just died): try another one.
      if (!connected) route(client, rest);
      else closeBoth();
    });
    upstream.on("close", () => {
      if (connected) closeBoth();
    });
    client.on("close", () => {
      if (connected) closeBoth();
      else upstream.destroy();
    });
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    clients.add(client);
    client.on("error", () => client.destroy());
    client.on("close", () => clients.delete(client));
    route(client, live());
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
    up(name, targetPort) {
      const target = targets.get(name);
      if (target === undefined) {
        targets.set(name, { port: targetPort, pairs: new Set(), accepted: 0 });
      } else {
        target.port = targetPort;
      }
    },
    down(name) {
      const target = targets.get(name);
      if (target === undefined) return;
      target.port = null;
      for (const upstream of [...target.pairs]) upstream.destroy();
      target.pairs.clear();
    },
    live,
    accepted: () => new Map([...targets].map(([name, t]) => [name, t.accepted])),
    async close() {
      for (const t of targets.values()) for (const s of t.pairs) s.destroy();
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// `--outage START+LENGTH`: every vehicle connects through this in-process TCP relay, which the
// fleet severs for a while. The agents see what a real outage looks like (their sockets close,
// reconnection attempts are refused) and go through their own buffering and reconnect backoff;
// their code is not told anything.

import net from "node:net";

export class OutageRelay {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;

  private constructor(
    private readonly server: net.Server,
    /** The port vehicles connect to, on 127.0.0.1. */
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards each connection to host:port. */
  static async open(host: string, port: number): Promise<OutageRelay> {
    let relay: OutageRelay | null = null;
    const server = net.createServer((client) => relay?.accept(client, host, port));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    relay = new OutageRelay(server, typeof address === "object" && address ? address.port : 0);
    return relay;
  }

  /** Vehicles' connections through the relay. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  get severed(): boolean {
    return this.cut;
  }

  /** Closes every connection and refuses new ones until `restore`. */
  sever(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host, port });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = () => {
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

// For the broker contract tests: a TCP proxy on the link that carries the hub's acknowledgements,
// which reads the MQTT packets going by and records every PUBACK the hub's side sends, with the
// payload of the message it acknowledges. It can also cut the link, as a lost connection would.
// On the embedded broker that link is a device's (aedes acknowledges for the hub); on an external
// one it is the hub's own connection to the broker.

import net from "node:net";

export interface TapAck {
  /** The acknowledged message's payload. */
  payload: string;
  messageId: number;
  /** Which connection through the tap carried it, counted from 0. */
  connection: number;
}

export interface AckTap {
  /** `mqtt://127.0.0.1:{port}` */
  url: string;
  /** Every PUBACK from the hub's side, in the order it passed. */
  readonly acks: readonly TapAck[];
  /** The payloads acknowledged so far. */
  ackedPayloads(): string[];
  /** Payloads of the QoS 1 and 2 messages sent towards the hub's side, in the order they passed. */
  readonly delivered: readonly string[];
  /** Connections made through the tap so far. */
  connections(): number;
  /** Closes every connection and refuses new ones until restore(). */
  sever(): void;
  restore(): void;
  close(): Promise<void>;
}

/** Splits a byte stream into MQTT packets: (first byte, body). */
class PacketReader {
  #buffer: Buffer = Buffer.alloc(0);
  constructor(readonly onPacket: (type: number, flags: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let at = 1;
      for (;;) {
        if (at >= this.#buffer.length) return;
        const byte = this.#buffer[at++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (this.#buffer.length < at + length) return;
      const first = this.#buffer[0] as number;
      const body = this.#buffer.subarray(at, at + length);
      this.#buffer = this.#buffer.subarray(at + length);
      this.onPacket(first >> 4, first & 0x0f, body);
    }
  }
}

function readVarint(body: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let multiplier = 1;
  for (;;) {
    const byte = body[at++] as number;
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) return [value, at];
  }
}

const CONNECT = 1;
const PUBLISH = 3;
const PUBACK = 4;

/**
 * Starts a tap on a free loopback port forwarding to 127.0.0.1:`targetPort`. `hubSide` says which
 * end acknowledges for the hub: "client" when the hub connects through the tap, "server" when
 * devices do and the broker behind it answers for the hub.
 */
export async function startAckTap(
  targetPort: number,
  hubSide: "client" | "server",
): Promise<AckTap> {
  const acks: TapAck[] = [];
  const delivered: string[] = [];
  const sockets = new Set<net.Socket>();
  let severed = false;
  let connections = 0;

  const server = net.createServer((client) => {
    if (severed) {
      client.destroy();
      return;
    }
    const connection = connections++;
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    let version = 4;
    /** Payloads of messages sent towards the hub's side, by message id. */
    const inFlight = new Map<number, string>();
    const fromClient = new PacketReader((type, flags, body) => {
      if (type === CONNECT) version = body[2 + body.readUInt16BE(0)] as number;
      onPacket(hubSide === "client", type, flags, body);
    });
    const fromServer = new PacketReader((type, flags, body) =>
      onPacket(hubSide === "server", type, flags, body),
    );
    function onPacket(fromHub: boolean, type: number, flags: number, body: Buffer) {
      if (fromHub && type === PUBACK) {
        const messageId = body.readUInt16BE(0);
        acks.push({ payload: inFlight.get(messageId) ?? "?", messageId, connection });
        inFlight.delete(messageId);
      } else if (!fromHub && type === PUBLISH && (flags & 0x06) !== 0) {
        let at = 2 + body.readUInt16BE(0);
        const messageId = body.readUInt16BE(at);
        at += 2;
        if (version === 5) {
          const [properties, next] = readVarint(body, at);
          at = next + properties;
        }
        const payload = body.subarray(at).toString();
        inFlight.set(messageId, payload);
        delivered.push(payload);
      }
    }
    client.on("data", (d: Buffer) => {
      fromClient.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      fromServer.push(d);
      client.write(d);
    });
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `mqtt://127.0.0.1:${port}`,
    acks,
    ackedPayloads: () => acks.map((a) => a.payload),
    delivered,
    connections: () => connections,
    sever() {
      severed = true;
      for (const socket of [...sockets]) socket.destroy();
    },
    restore() {
      severed = false;
    },
    async close() {
      for (const socket of [...sockets]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// A stream client on a bare TCP socket: it does the WebSocket handshake and sends its auth message
// itself, so a test can stop reading (the kernel's buffers fill, then the hub's) and go on later.

import { randomBytes } from "node:crypto";
import net from "node:net";

export interface Frame {
  opcode: number;
  payload: Buffer;
}

export interface RawStream {
  socket: net.Socket;
  /** Messages and control frames, as read so far. */
  frames: Frame[];
  /** Bytes read so far, after the handshake. */
  bytes: number;
  /** Resolves once a frame (seen or to come) matches; rejects after timeoutMs. */
  next(match: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Resolves when the connection has ended (after whatever it carried was read). */
  ended: Promise<void>;
}

/** A masked text frame, as a client must send it. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  if (payload.length > 125) throw new Error("test frames are short");
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Connects to ws://host:port/api/v1/stream, authenticates, and starts reading frames. */
export async function openRawStream(httpUrl: string, token: string): Promise<RawStream> {
  const { hostname, port } = new URL(httpUrl);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET /api/v1/stream HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  const raw: RawStream = {
    socket,
    frames,
    bytes: 0,
    next: (match, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < frames.length; seen++) {
            const frame = frames[seen] as Frame;
            if (match(frame)) {
              clearTimeout(timer);
              waiters.delete(check);
              resolve(frame);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame in ${timeoutMs} ms (${frames.length} read)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    ended: new Promise((resolve) => socket.once("close", () => resolve())),
  };
  let buffer: Buffer = Buffer.alloc(0);
  let upgraded = false;
  socket.on("data", (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString();
      if (!head.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${head}`);
      upgraded = true;
      buffer = buffer.subarray(end + 4);
      socket.write(clientFrame(JSON.stringify({ type: "auth", token })));
    }
    raw.bytes += chunk.length;
    for (;;) {
      if (buffer.length < 2) break;
      const opcode = (buffer[0] as number) & 0x0f;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) break;
      frames.push({ opcode, payload: Buffer.from(buffer.subarray(offset, offset + length)) });
      buffer = buffer.subarray(offset + length);
    }
    for (const w of [...waiters]) w();
  });
  return raw;
}

/** A text frame's JSON. */
// biome-ignore lint/suspicious/noExplicitAny: messages are JSON the tests pick apart
export function json(frame: Frame): any {
  return JSON.parse(frame.payload.toString("utf8"));
}

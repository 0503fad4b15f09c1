// What the embedded broker reads from one connection: at most its message and byte rates, at
// most its in-flight QoS 1 messages, no packet over the size limit, and a CONNECT in time.
//
// aedes reads a connection with `socket.read()` on each 'readable' event and again each time it
// has handled the packets it parsed; it parses everything returned. So the gate sits in that
// read: it hands aedes only the packets the limits allow (the rest goes back with
// `socket.unshift`), returns nothing while the client is over its rate, and emits 'readable'
// once it may read again. Bytes left unread stay in the socket (up to its high-water mark) and
// then in the kernel, so a fast client's own TCP window closes: it is slowed, not disconnected,
// and nothing it sends is lost. (`socket.pause()` would not do: it has no effect on a stream
// read through 'readable'. Nor aedes's `client.pause()`: callbacks of packets handled while
// paused are dropped from its count of pending packets, and the connection may never be read
// again.)

import type net from "node:net";
import { CONNECT, FrameScanner, type FrameVisitor, PUBLISH } from "./frame-scanner.ts";
import type { LimitReason, MqttLimits, OnLimited } from "./limits.ts";

type ReadLimits = Pick<
  MqttLimits,
  "messagesPerSecond" | "bytesPerSecond" | "maxInflight" | "maxPacketBytes" | "connectTimeoutMs"
>;

/** Tokens refilled at `rate` per second up to one second's worth; a debt is paid by waiting. */
class TokenBucket {
  #tokens: number;
  #at = performance.now();

  constructor(readonly rate: number) {
    this.#tokens = rate;
  }

  available(now: number): number {
    this.#tokens = Math.min(this.rate, this.#tokens + ((now - this.#at) * this.rate) / 1000);
    this.#at = now;
    return this.#tokens;
  }

  take(count: number): void {
    this.#tokens -= count;
  }

  /** Ms until a tenth of a second's worth of tokens is there again (at least one). */
  waitMs(): number {
    const target = Math.max(1, this.rate / 10);
    return Math.max(1, Math.ceil(((target - this.#tokens) * 1000) / this.rate));
  }
}

/** One connection's reading limits; `install` before aedes handles the socket. */
export class ReadGate {
  readonly #socket: net.Socket;
  readonly #limits: ReadLimits;
  readonly #onLimited: OnLimited;
  readonly #scanner = new FrameScanner();
  readonly #messages: TokenBucket;
  readonly #bytes: TokenBucket;
  #inflight = 0;
  /** Publishes let through in the chunk being scanned (taken from the bucket after it). */
  #publishes = 0;
  #refusal: LimitReason | null = null;
  /** Why the last read was held back, while aedes waits for a 'readable' from us. */
  #held: LimitReason | null = null;
  #wake: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null;
  #closed = false;
  readonly #visitor: FrameVisitor;

  constructor(socket: net.Socket, limits: ReadLimits, onLimited: OnLimited) {
    this.#socket = socket;
    this.#limits = limits;
    this.#onLimited = onLimited;
    this.#messages = new TokenBucket(limits.messagesPerSecond);
    this.#bytes = new TokenBucket(limits.bytesPerSecond);
    this.#connectTimer = setTimeout(() => this.#cut("connect_timeout"), limits.connectTimeoutMs);
    socket.once("close", () => this.#close());
    this.#visitor = {
      start: (type, flags) => this.#start(type, flags),
      length: (_type, bytes) => {
        if (bytes <= this.#limits.maxPacketBytes) return true;
        this.#refusal = "packet_size";
        return false;
      },
      end: (type) => {
        if (type === CONNECT && this.#connectTimer !== null) {
          clearTimeout(this.#connectTimer);
          this.#connectTimer = null;
        }
      },
    };
  }

  /** QoS 1 messages from this client read and not yet acknowledged by the hub. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Puts the gate in the socket's read; call before aedes sees the socket. */
  install(): void {
    const socket = this.#socket;
    const read = socket.read.bind(socket);
    // read(0) only asks the stream to fill its buffer; it never hands out bytes.
    socket.read = (size?: number) =>
      size === 0 || this.#closed ? read(size) : this.#read(read, size);
  }

  /** The hub acknowledged one of this client's QoS 1 messages (aedes wrote its PUBACK). */
  acknowledged(): void {
    if (this.#inflight > 0) this.#inflight--;
    // Half the window back before reading again: a client at its limit is read in rounds,
    // not one message per acknowledgement.
    if (this.#held === "inflight" && this.#inflight <= this.#limits.maxInflight / 2) this.#resume();
  }

  #read(read: (size?: number) => unknown, size: number | undefined): Buffer | null {
    const now = performance.now();
    const held = this.#heldBy(now);
    if (held !== null) {
      this.#hold(held);
      return null;
    }
    const chunk = read(size) as Buffer | null;
    if (chunk === null) return null;
    this.#publishes = 0;
    const passed = this.#scanner.scan(chunk, this.#visitor);
    this.#messages.take(this.#publishes);
    if (passed < 0) {
      this.#cut(this.#refusal ?? "malformed");
      return null;
    }
    this.#bytes.take(passed);
    if (passed < chunk.length) {
      this.#socket.unshift(chunk.subarray(passed));
      this.#hold(this.#heldBy(now) ?? "inflight");
    }
    return passed === 0 ? null : chunk.subarray(0, passed);
  }

  /** Which limit holds reading back now, if any. */
  #heldBy(now: number): LimitReason | null {
    if (this.#inflight >= this.#limits.maxInflight) return "inflight";
    if (this.#messages.available(now) < 1) return "message_rate";
    if (this.#bytes.available(now) <= 0) return "byte_rate";
    return null;
  }

  #start(type: number, flags: number): boolean {
    if (type !== PUBLISH) return true;
    // A chunk is cut before the publish that would pass a limit; the first one always passes
    // (the gate was open), so a client over its limits still moves, only slower.
    if (this.#publishes > 0 && this.#messages.available(performance.now()) - this.#publishes < 1) {
      return false;
    }
    const qos = (flags >> 1) & 3;
    if (qos === 1) {
      if (this.#inflight >= this.#limits.maxInflight) return false;
      this.#inflight++;
    }
    this.#publishes++;
    return true;
  }

  /** Reading waits: for tokens (a timer), or for acknowledgements (`acknowledged`). */
  #hold(reason: LimitReason): void {
    if (this.#held !== null) return;
    this.#held = reason;
    this.#onLimited(reason);
    if (reason === "inflight") return;
    const bucket = reason === "message_rate" ? this.#messages : this.#bytes;
    this.#wake = setTimeout(() => {
      this.#wake = null;
      this.#resume();
    }, bucket.waitMs());
  }

  /** aedes reads again on 'readable'; a held read left it waiting for one. */
  #resume(): void {
    if (this.#held === null || this.#closed) return;
    this.#held = null;
    if (this.#wake !== null) clearTimeout(this.#wake);
    this.#wake = null;
    setImmediate(() => {
      if (!this.#closed) this.#socket.emit("readable");
    });
  }

  #cut(reason: LimitReason): void {
    if (this.#closed) return;
    this.#onLimited(reason);
    this.#socket.destroy();
    this.#close();
  }

  #close(): void {
    this.#closed = true;
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    if (this.#wake !== null) clearTimeout(this.#wake);
    this.#connectTimer = null;
    this.#wake = null;
  }
}

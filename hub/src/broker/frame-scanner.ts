// Reads the MQTT fixed headers off a connection's incoming bytes without parsing the packets:
// enough to count messages, see a packet's size before its body is buffered, and cut a chunk of
// bytes between two packets.

export const CONNECT = 1;
export const PUBLISH = 3;

export interface FrameVisitor {
  /** A packet starts here (type and flags from its first byte); false: stop before it. */
  start(type: number, flags: number): boolean;
  /** Its remaining length is known; false: refuse the packet. */
  length(type: number, bytes: number): boolean;
  /** All its bytes went by. */
  end(type: number): void;
}

const HEADER = 0;
const LENGTH = 1;
const BODY = 2;

/** Follows packet boundaries across chunks, however the bytes are split. */
export class FrameScanner {
  #state = HEADER;
  #type = 0;
  #length = 0;
  #multiplier = 1;
  #remaining = 0;

  /**
   * Scans `chunk`; returns how many of its bytes belong to packets the visitor let start (a
   * stop leaves the scanner before that packet, to scan it again later), or -1 when a packet
   * was refused or its length is malformed (the connection is then beyond saving).
   */
  scan(chunk: Uint8Array, visitor: FrameVisitor): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === HEADER) {
        const byte = chunk[i] as number;
        if (!visitor.start(byte >> 4, byte & 0x0f)) return i;
        this.#type = byte >> 4;
        this.#length = 0;
        this.#multiplier = 1;
        this.#state = LENGTH;
        i++;
      } else if (this.#state === LENGTH) {
        const byte = chunk[i++] as number;
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        if (byte & 0x80) {
          // A remaining length has at most four bytes (MQTT 3.1.1 §2.2.3).
          if (this.#multiplier >= 128 ** 4) return -1;
          continue;
        }
        if (!visitor.length(this.#type, this.#length)) return -1;
        this.#remaining = this.#length;
        this.#state = BODY;
        if (this.#remaining === 0) this.#finish(visitor);
      } else {
        const take = Math.min(this.#remaining, chunk.length - i);
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#finish(visitor);
      }
    }
    return i;
  }

  #finish(visitor: FrameVisitor): void {
    this.#state = HEADER;
    visitor.end(this.#type);
  }
}

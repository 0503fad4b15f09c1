// The fixed-header scanner: packet boundaries, types and lengths, however the bytes are split.

import { describe, expect, it } from "vitest";
import { FrameScanner, type FrameVisitor } from "./frame-scanner.ts";
import { connectPacket, publishPacket, subscribePacket } from "./limits.support.ts";

interface Seen {
  starts: [number, number][];
  lengths: number[];
  ends: number[];
}

function recorder(
  options: { stopAt?: number; maxLength?: number } = {},
): FrameVisitor & { seen: Seen } {
  const seen: Seen = { starts: [], lengths: [], ends: [] };
  return {
    seen,
    start(type, flags) {
      if (seen.starts.length === options.stopAt) return false;
      seen.starts.push([type, flags]);
      return true;
    },
    length(_type, bytes) {
      seen.lengths.push(bytes);
      return bytes <= (options.maxLength ?? Infinity);
    },
    end(type) {
      seen.ends.push(type);
    },
  };
}

const stream = Buffer.concat([
  connectPacket("a"),
  subscribePacket("x/#", 1),
  publishPacket("t", Buffer.alloc(300), { qos: 1 }), // a two-byte remaining length
  publishPacket("t", Buffer.alloc(0), { qos: 0, retain: true }),
  Buffer.from([0xc0, 0x00]), // PINGREQ: no body
]);

describe("FrameScanner", () => {
  it("finds every packet, its flags and length, in one chunk or split at every byte", () => {
    const whole = recorder();
    expect(new FrameScanner().scan(stream, whole)).toBe(stream.length);
    expect(whole.seen.starts).toEqual([
      [1, 0],
      [8, 2],
      [3, 2],
      [3, 1],
      [12, 0],
    ]);
    expect(whole.seen.ends).toEqual([1, 8, 3, 3, 12]);
    expect(whole.seen.lengths[2]).toBe(2 + 1 + 2 + 300);

    for (const size of [1, 2, 3, 7]) {
      const split = recorder();
      const scanner = new FrameScanner();
      for (let i = 0; i < stream.length; i += size) {
        const chunk = stream.subarray(i, i + size);
        expect(scanner.scan(chunk, split)).toBe(chunk.length);
      }
      expect(split.seen).toEqual(whole.seen);
    }
  });

  it("stops before a packet it is told not to start, and takes it up again from there", () => {
    const scanner = new FrameScanner();
    const first = recorder({ stopAt: 2 });
    const passed = scanner.scan(stream, first);
    expect(passed).toBe(connectPacket("a").length + subscribePacket("x/#", 1).length);
    const rest = recorder();
    expect(scanner.scan(stream.subarray(passed), rest)).toBe(stream.length - passed);
    expect(rest.seen.starts.map(([type]) => type)).toEqual([3, 3, 12]);
  });

  it("refuses a packet over the length limit before its body, and a malformed length", () => {
    const big = publishPacket("t", Buffer.alloc(5000), { qos: 0 });
    expect(new FrameScanner().scan(big.subarray(0, 4), recorder({ maxLength: 4096 }))).toBe(-1);
    const fiveByteLength = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(new FrameScanner().scan(fiveByteLength, recorder())).toBe(-1);
  });
});

// AckQueue: acknowledgements go out in arrival order as commits settle, never for a connection
// that is gone, and thousands are handled in waves with the list compacted on the way.

import { describe, expect, it } from "vitest";
import { AckQueue } from "./ack-queue.ts";

function nth<T>(list: readonly T[], i: number): T {
  return list[i] as T;
}

describe("AckQueue", () => {
  it("sends each acknowledgement once everything before it is settled", () => {
    const sent: number[] = [];
    const queue = new AckQueue<number>((id) => sent.push(id));
    const tickets = [1, 2, 3, 4].map((id) => queue.take(id));
    queue.settle(nth(tickets, 1));
    queue.settle(nth(tickets, 3));
    expect(sent).toEqual([]);
    queue.settle(nth(tickets, 0));
    expect(sent).toEqual([1, 2]);
    queue.settle(nth(tickets, 2));
    expect(sent).toEqual([1, 2, 3, 4]);
    expect(queue.pending).toBe(0);
  });

  it("drops what a lost connection owed, and its late settlements", () => {
    const sent: number[] = [];
    const queue = new AckQueue<number>((id) => sent.push(id));
    const old = [1, 2].map((id) => queue.take(id));
    expect(queue.connectionLost()).toEqual([1, 2]);
    const fresh = queue.take(1);
    expect(queue.isCurrent(nth(old, 0))).toBe(false);
    queue.settle(nth(old, 0));
    queue.settle(nth(old, 1));
    expect(sent).toEqual([]);
    queue.settle(fresh);
    expect(sent).toEqual([1]);
  });

  it("settles thousands in waves, out of order within a wave", () => {
    const sent: number[] = [];
    const queue = new AckQueue<number>((id) => sent.push(id));
    const tickets = Array.from({ length: 3000 }, (_, i) => queue.take(i));
    for (let i = 0; i < 1200; i++) queue.settle(nth(tickets, i));
    for (let i = 1999; i >= 1600; i--) queue.settle(nth(tickets, i));
    for (let i = 1200; i < 1600; i++) queue.settle(nth(tickets, i));
    expect(sent).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(queue.pending).toBe(1000);
    for (let i = 2000; i < 3000; i++) queue.settle(nth(tickets, i));
    expect(sent).toHaveLength(3000);
  });

  it("tells when nothing is pending", async () => {
    const queue = new AckQueue<number>(() => {});
    await queue.idle(60_000);
    const ticket = queue.take(7);
    let idle = false;
    const waiting = queue.idle(60_000).then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    queue.settle(ticket);
    await waiting;
    expect(idle).toBe(true);
  });
});

// The embedded broker's router: a long queue of messages nobody subscribed to, behind slow
// deliveries, is drained in order without overflowing the stack (aedes's own router would end
// the process here: "Maximum call stack size exceeded").

import { describe, expect, it } from "vitest";
import { createRouter } from "./mq.ts";

describe("createRouter", () => {
  it("drains thousands of queued messages behind slow deliveries, in order", async () => {
    const mq = createRouter(100);
    const slow: string[] = [];
    mq.on("slow", (message, done) => {
      slow.push(message.n);
      setTimeout(done, 5);
    });
    const finished: number[] = [];
    // 200 slow deliveries fill the 100 at once; 20,000 unsubscribed messages queue behind them.
    for (let n = 0; n < 200; n++) mq.emit({ topic: "slow", n }, () => finished.push(n));
    for (let n = 200; n < 20_200; n++) mq.emit({ topic: "nobody", n }, () => finished.push(n));
    const deadline = Date.now() + 10_000;
    while (finished.length < 20_200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(finished).toHaveLength(20_200);
    const unsubscribed = finished.filter((n) => n >= 200);
    expect(unsubscribed).toEqual(Array.from({ length: 20_000 }, (_, i) => 200 + i));
    expect(slow).toHaveLength(200);
  });

  it("delivers a message published from inside a delivery", async () => {
    const mq = createRouter(100);
    const seen: string[] = [];
    mq.on("first", (_message, done) => {
      seen.push("first");
      mq.emit({ topic: "second" }, () => seen.push("second done"));
      done();
    });
    mq.on("second", (_message, done) => {
      seen.push("second");
      done();
    });
    await new Promise<void>((resolve) => mq.emit({ topic: "first" }, () => resolve()));
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(["first", "second", "second done"]);
  });
});

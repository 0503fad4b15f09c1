// The embedded broker's router: mqemitter's own test suite for emitters passes against it, and a
// long queue of messages nobody subscribed to, behind held deliveries, is drained in order without
// overflowing the stack (aedes's own router ends the process there).

import assert from "node:assert";
import { createRequire } from "node:module";
import mqemitter, { type Message, type MQEmitter } from "mqemitter";
import { describe, expect, it } from "vitest";
import { createRouter } from "./mq.ts";

interface NodeTestContext {
  plan(count: number): void;
  fail(message?: string): never;
  assert: typeof assert;
}
type AbstractTests = (options: {
  builder: (options?: object) => MQEmitter;
  test: (name: string, body: (t: NodeTestContext) => Promise<void>) => void;
}) => void;

/** Runs mqemitter's shared suite (written for node:test) as vitest tests. */
function mqemitterSuite(builder: (options?: object) => MQEmitter): void {
  const abstractTests = createRequire(import.meta.url)(
    "mqemitter/abstractTest.js",
  ) as AbstractTests;
  abstractTests({
    builder,
    test(name, body) {
      it(name, async () => {
        let planned: number | null = null;
        let asserted = 0;
        const counted = new Proxy(assert, {
          get(target, key) {
            const value = Reflect.get(target, key);
            if (typeof value !== "function") return value;
            return (...args: unknown[]) => {
              asserted++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        await body({
          plan: (count) => {
            planned = count;
          },
          fail: (message) => assert.fail(message),
          assert: counted,
        });
        if (planned !== null) expect(asserted).toBe(planned);
      });
    },
  });
}

/**
 * 200 deliveries to a subscriber that holds each until told, 20,000 messages to nobody queued
 * behind them; then every held delivery is released. Returns the order in which emits finished.
 */
function drainBehindHeldDeliveries(mq: MQEmitter): number[] {
  const held: (() => void)[] = [];
  mq.on("held", (_message: Message, done: () => void) => {
    held.push(done);
  });
  const finished: number[] = [];
  for (let n = 0; n < 200; n++) mq.emit({ topic: "held", n }, () => finished.push(n));
  for (let n = 200; n < 20_200; n++) mq.emit({ topic: "nobody", n }, () => finished.push(n));
  // The first 100 fill the router; the rest wait. Each release lets the next one in.
  while (held.length > 0) (held.shift() as () => void)();
  return finished;
}

describe("createRouter", () => {
  describe("mqemitter's suite, one delivery at a time", () => {
    mqemitterSuite((options) => createRouter(1, options));
  });
  describe("mqemitter's suite, a hundred at a time", () => {
    mqemitterSuite((options) => createRouter(100, options));
  });

  it("drains thousands of queued messages behind held deliveries, in order", () => {
    const finished = drainBehindHeldDeliveries(createRouter(100));
    expect(finished).toHaveLength(20_200);
    expect(finished.filter((n) => n < 200)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(finished.filter((n) => n >= 200)).toEqual(
      Array.from({ length: 20_000 }, (_, i) => 200 + i),
    );
  });

  // Why the router exists: should mqemitter drain its queue without recursion one day, this
  // fails, and aedes's own router can take over again.
  it("is needed: mqemitter's own queue overflows the stack on the same load", () => {
    expect(() => drainBehindHeldDeliveries(mqemitter({ concurrency: 100 }))).toThrow(RangeError);
  });

  it("delivers a message published from inside a delivery", async () => {
    const mq = createRouter(100);
    const seen: string[] = [];
    let secondDone!: () => void;
    const second = new Promise<void>((resolve) => {
      secondDone = resolve;
    });
    mq.on("first", (_message, done) => {
      seen.push("first");
      mq.emit({ topic: "second" }, () => {
        seen.push("second done");
        secondDone();
      });
      done();
    });
    mq.on("second", (_message, done) => {
      seen.push("second");
      done();
    });
    await new Promise<void>((resolve) => mq.emit({ topic: "first" }, () => resolve()));
    await second;
    expect(seen).toEqual(["first", "second", "second done"]);
  });
});

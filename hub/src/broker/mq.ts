// The message router inside the embedded broker: aedes's own (mqemitter), without its deep
// recursion. mqemitter delivers at most `concurrency` messages at once and queues the rest; when a
// delivery ends, it starts the next queued message from inside that delivery's callback. A queued
// message that nobody subscribed to ends at once, so a long queue of them is drained as one
// chain of nested calls, and a few thousand of them overflow the stack and end the process. The
// hub makes such queues: a group commit acknowledges thousands of location messages in one go
// (each routed through the broker, usually to no subscriber) while events are being delivered.
// Here a delivery started from inside another one waits until the outer one has returned, then
// runs in the same turn of the event loop, so the chain becomes a loop, in the same order.

import mqemitter, { type Message } from "mqemitter";

type Emitter = ReturnType<typeof mqemitter>;
type Do = (message: Message, callback: unknown) => Emitter;

export function createRouter(concurrency: number): Emitter {
  const mq = mqemitter({ concurrency, matchEmptyLevels: true });
  const internals = mq as unknown as { _do: Do };
  const deliver = internals._do;
  if (typeof deliver !== "function") {
    throw new Error("mqemitter changed: its _do method is gone; see hub/src/broker/mq.ts");
  }
  const waiting: [Message, unknown][] = [];
  let delivering = false;
  internals._do = function (this: Emitter, message, callback) {
    if (delivering) {
      waiting.push([message, callback]);
      return this;
    }
    delivering = true;
    // Taken by index, not with Array#shift, which copies the rest of a queue of thousands each
    // time; deliveries started meanwhile are appended and taken in the same loop.
    let taken = 0;
    try {
      deliver.call(this, message, callback);
      while (taken < waiting.length) {
        const [next, done] = waiting[taken++] as [Message, unknown];
        deliver.call(this, next, done);
      }
    } finally {
      waiting.splice(0, taken);
      delivering = false;
    }
    return this;
  };
  return mq;
}

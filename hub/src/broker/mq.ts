// The message router inside the embedded broker: aedes's own (mqemitter), with its concurrency
// limit kept here, as a loop, instead of in mqemitter, where it is a recursion.
//
// mqemitter delivers at most `concurrency` messages at once and queues the rest; when a delivery
// ends, it starts the next queued message from inside that delivery's callback. A queued message
// that nobody subscribed to ends at once, so a long queue of them is drained as one chain of
// nested calls, and a few thousand of them overflow the stack and end the process. The hub makes
// such queues: a group commit acknowledges thousands of location messages in one go (each routed
// through the broker, usually to no subscriber) while events are being delivered.
//
// So the emitter underneath runs without a limit (it then never queues, and never recurses), and
// this subclass queues above it: a delivery that ends inside another one's start only lowers the
// count, and the loop already running starts the next message, in the same order.

import mqemitter, { type Message, type MQEmitter } from "mqemitter";

type Callback = (error?: Error) => void;

export interface RouterOptions {
  /** Messages delivered at once; more wait in order (aedes's default is 100). */
  concurrency: number;
  matchEmptyLevels?: boolean;
  separator?: string;
  wildcardOne?: string;
  wildcardSome?: string;
}

// mqemitter's README documents `new MQEmitter(options)`; its typings declare only the factory.
const Emitter = mqemitter as unknown as new (
  options: Omit<RouterOptions, "concurrency"> & { concurrency: 0 },
) => MQEmitter;

function noop(): void {}

class Router extends Emitter {
  readonly #limit: number;
  #inFlight = 0;
  /** Waiting messages from #head on, taken by index: Array#shift copies a queue of thousands. */
  #queue: [Message, Callback][] = [];
  #head = 0;
  #pumping = false;

  constructor({ concurrency, ...options }: RouterOptions) {
    super({ matchEmptyLevels: true, ...options, concurrency: 0 });
    this.#limit = Math.max(1, concurrency);
  }

  override emit(message: Message, callback: Callback = noop): void {
    if (this.#inFlight >= this.#limit || this.#head < this.#queue.length) {
      this.#queue.push([message, callback]);
      this.#pump();
      return;
    }
    this.#deliver(message, callback);
  }

  #deliver(message: Message, callback: Callback): void {
    this.#inFlight++;
    super.emit(message, (error) => {
      this.#inFlight--;
      callback(error);
      this.#pump();
    });
  }

  /** Starts queued messages while there is room; re-entered from a delivery, it leaves it to the loop. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#inFlight < this.#limit && this.#head < this.#queue.length) {
        const [message, callback] = this.#queue[this.#head] as [Message, Callback];
        this.#queue[this.#head++] = undefined as unknown as [Message, Callback];
        this.#deliver(message, callback);
      }
    } finally {
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#pumping = false;
    }
  }
}

/** A router for aedes's `mq` option. */
export function createRouter(
  concurrency: number,
  options: Omit<RouterOptions, "concurrency"> = {},
): MQEmitter {
  return new Router({ concurrency, ...options }) as MQEmitter;
}

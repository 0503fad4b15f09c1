// One stream client's side of the live feed: what it is owed and when it is written, so a client
// that reads slowly costs the hub a bounded amount of memory and never slows anyone else.
//
// - Nothing is written while the socket holds more than `highWaterBytes` unsent: the client is
//   "behind". Its fixes are then coalesced into its own newest-per-vehicle map (it gets the latest
//   state, not every fix), and its other messages wait in a queue of bounded count and bytes.
// - A queue that overflows, or a socket that stays behind for `stallTimeoutMs`, disconnects the
//   client with close code 4408 (STREAM_TOO_SLOW).
// - Until the snapshot is sent (start), everything is held the same way, so updates that happen
//   while the snapshot is read are sent after it, not lost.
// - Nothing is written from within a publish call: messages are queued and written by flush()
//   (on the owner's next turn of the event loop) or tick(), so ingestion never writes a socket.

import type { Fix } from "@locus/protocol";
import { encodeFixes, type FixBatch, type LiveListener, type LiveMessage } from "./feed.ts";

/** Close code for a client that reads too slowly (after HTTP 408, in the application range). */
export const STREAM_TOO_SLOW = 4408;

/** The socket as the session sees it: the ws WebSocket in the hub, a recorder in tests. */
export interface Sink {
  /** Bytes handed to send() and not yet written to the network. */
  readonly bufferedAmount: number;
  /** Writes one text message; never blocks. */
  send(data: Buffer): void;
  /** Closes with a WebSocket close code and a reason (at most 123 bytes). */
  close(code: number, reason: string): void;
}

export interface SessionLimits {
  /** Above this many unsent bytes in the socket, nothing more is written for now. */
  highWaterBytes: number;
  /** Messages other than fixes a client may be owed at once; one more disconnects it. */
  maxQueuedMessages: number;
  /** Bytes of those messages at most. */
  maxQueuedBytes: number;
  /** How long a socket may stay above the high-water mark before the client is disconnected. */
  stallTimeoutMs: number;
}

export interface SessionMetrics {
  /** A message was written to the socket. */
  sent(): void;
  /** Fixes replaced by a newer one of the same vehicle while the client was behind. */
  coalesced(count: number): void;
  /** The client was disconnected for reading too slowly. */
  tooSlow(): void;
}

type State = "starting" | "live" | "closed";

export class StreamSession implements LiveListener {
  #state: State = "starting";
  /** Messages owed, oldest first, from #head on. */
  #queue: LiveMessage[] = [];
  #head = 0;
  #queuedBytes = 0;
  /** Fixes owed while behind: the newest per vehicle. */
  readonly #fixes = new Map<string, Fix>();
  /** Since when the socket has been above the high-water mark (ms), or null. */
  #behindSince: number | null = null;

  /**
   * @param wake called when a message was queued for a live client with nothing else owed: the
   * owner calls flush() soon after, outside the publisher's call (no socket is written there).
   */
  constructor(
    readonly sink: Sink,
    readonly limits: SessionLimits,
    readonly metrics: SessionMetrics,
    readonly wake: (session: StreamSession) => void = () => {},
  ) {}

  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Bytes this session holds for its client: queued messages and the socket's unsent bytes. */
  get heldBytes(): number {
    return this.#queuedBytes + this.sink.bufferedAmount;
  }

  /** Messages waiting in the queue (not counting fixes). */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Fixes owed (one per vehicle at most). */
  get owedFixes(): number {
    return this.#fixes.size;
  }

  /** Sends the snapshot, then whatever was held while it was being read. */
  start(snapshot: Buffer): void {
    if (this.#state !== "starting") return;
    this.#state = "live";
    this.#write(snapshot);
    this.#drain();
  }

  /** An event, geofence or status message from the feed: queued, written by flush() or tick(). */
  message(message: LiveMessage): void {
    if (this.#state === "closed") return;
    if (this.#state === "live" && this.queued === 0) this.wake(this);
    this.#queue.push(message);
    this.#queuedBytes += message.data.length;
    if (this.queued > this.limits.maxQueuedMessages) {
      this.#tooSlow(`more than ${this.limits.maxQueuedMessages} messages waiting`);
    } else if (this.#queuedBytes > this.limits.maxQueuedBytes) {
      this.#tooSlow(`more than ${this.limits.maxQueuedBytes} bytes waiting`);
    }
  }

  /**
   * The ticker's beat (a few times a second): this tick's fixes (null: none), then what is owed
   * is written if the socket has room, and a socket that has stayed full too long is dropped.
   */
  tick(batch: FixBatch | null, now: number): void {
    if (this.#state === "closed") return;
    if (batch !== null) {
      const upToDate = this.#state === "live" && this.queued === 0 && this.#fixes.size === 0;
      if (upToDate && !this.#behind()) {
        // The common case: the batch's shared bytes, encoded once for every client.
        this.#write(batch.data());
      } else {
        let replaced = 0;
        for (const [id, fix] of batch.fixes) {
          if (this.#fixes.has(id)) replaced++;
          this.#fixes.set(id, fix);
        }
        if (replaced > 0) this.metrics.coalesced(replaced);
      }
    }
    this.#drain();
    if (!this.#behind()) {
      this.#behindSince = null;
      return;
    }
    this.#behindSince ??= now;
    if (now - this.#behindSince >= this.limits.stallTimeoutMs) {
      this.#tooSlow(`nothing read for ${Math.round(this.limits.stallTimeoutMs / 1000)} s`);
    }
  }

  /** Writes what is owed while the socket has room. */
  flush(): void {
    this.#drain();
  }

  /** The client left (or the hub closes it): drop what it was owed. */
  dispose(): void {
    this.#state = "closed";
    this.#release();
  }

  #behind(): boolean {
    return this.sink.bufferedAmount > this.limits.highWaterBytes;
  }

  /** Writes what is owed, oldest first, while the socket has room; fixes last. */
  #drain(): void {
    if (this.#state !== "live") return;
    while (this.queued > 0 && !this.#behind()) {
      const message = this.#queue[this.#head] as LiveMessage;
      this.#queue[this.#head] = undefined as unknown as LiveMessage;
      this.#head++;
      this.#queuedBytes -= message.data.length;
      this.#write(message.data);
    }
    if (this.queued === 0) {
      this.#queue = [];
      this.#head = 0;
    }
    if (this.#fixes.size > 0 && this.queued === 0 && !this.#behind()) {
      this.#write(encodeFixes(this.#fixes.values()));
      this.#fixes.clear();
    }
  }

  #write(data: Buffer): void {
    this.sink.send(data);
    this.metrics.sent();
  }

  #tooSlow(why: string): void {
    this.#state = "closed";
    this.#release();
    this.metrics.tooSlow();
    this.sink.close(STREAM_TOO_SLOW, `too slow: ${why}`);
  }

  #release(): void {
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#fixes.clear();
  }
}

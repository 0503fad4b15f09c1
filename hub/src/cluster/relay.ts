// What every hub must see whichever hub judged it: committed events (through a replicated
// stream, each stored once by its id, so every hub republishes it to its own subscribers once)
// and committed fixes for the live stream (a plain subject: a live view that misses a fix while a
// hub reconnects shows the next one).

import { decodeEvent, type Fix, type GeofenceEvent } from "@locus/protocol";
import { type ConsumerMessages, DeliverPolicy, type Subscription } from "nats";
import type { EngineLink } from "./engine-link.ts";
import { EVENTS_STREAM, EVENTS_SUBJECT, LIVE_FIXES_SUBJECT } from "./partition.ts";

export interface RelayOptions {
  link: EngineLink;
  /** An event committed by any hub (this one included), once, in the engine's order. */
  onEvent: (payload: string, event: GeofenceEvent) => void;
  /** Fixes committed by any hub (this one included). */
  onFixes: (fixes: Fix[]) => void;
  onError: (err: Error) => void;
}

/** Fixes per live message: a few hundred bytes each, far under a megabyte. */
const LIVE_FIXES_PER_MESSAGE = 500;
/** How long a publish of an event waits for the engine, ms (the outbox retries after). */
const PUBLISH_TIMEOUT_MS = 5000;

export class ClusterRelay {
  readonly #o: RelayOptions;
  readonly #messages: ConsumerMessages;
  readonly #fixes: Subscription;
  readonly #loops: Promise<void>[];

  private constructor(o: RelayOptions, messages: ConsumerMessages, fixes: Subscription) {
    this.#o = o;
    this.#messages = messages;
    this.#fixes = fixes;
    this.#loops = [this.#readEvents(), this.#readFixes()];
  }

  /** Starts reading the events committed from now on, and every hub's live fixes. */
  static async start(o: RelayOptions): Promise<ClusterRelay> {
    const { js, nc } = o.link;
    // An ordered consumer: the client recreates it where it left off after a lost connection.
    const consumer = await js.consumers.get(EVENTS_STREAM, {
      deliver_policy: DeliverPolicy.New,
    });
    const messages = await consumer.consume();
    const fixes = nc.subscribe(LIVE_FIXES_SUBJECT);
    return new ClusterRelay(o, messages, fixes);
  }

  /** The outbox's way out: resolves once the engine stored the event (a repeat counts once). */
  async publishEvent(payload: string, id: string): Promise<void> {
    await this.#o.link.js.publish(EVENTS_SUBJECT, payload, {
      msgID: id,
      timeout: PUBLISH_TIMEOUT_MS,
    });
  }

  /**
   * Committed fixes, for every hub's live stream clients, in pieces well under the engine's
   * payload limit (a group commit holds up to thousands). Never throws: a live view may miss them.
   */
  publishFixes(fixes: readonly Fix[]): void {
    for (let at = 0; at < fixes.length; at += LIVE_FIXES_PER_MESSAGE) {
      try {
        const piece = fixes.slice(at, at + LIVE_FIXES_PER_MESSAGE);
        this.#o.link.nc.publish(LIVE_FIXES_SUBJECT, JSON.stringify(piece));
      } catch (err) {
        this.#o.onError(err as Error);
        return;
      }
    }
  }

  async stop(): Promise<void> {
    this.#messages.stop();
    this.#fixes.unsubscribe();
    await Promise.allSettled(this.#loops);
  }

  async #readEvents(): Promise<void> {
    for await (const m of this.#messages) {
      const payload = m.string();
      const event = decodeEvent(payload);
      if (event === null) this.#o.onError(new Error(`not an event on ${EVENTS_SUBJECT}: ${m.seq}`));
      else this.#o.onEvent(payload, event);
    }
  }

  async #readFixes(): Promise<void> {
    for await (const m of this.#fixes) {
      try {
        this.#o.onFixes(JSON.parse(m.string()) as Fix[]);
      } catch (err) {
        this.#o.onError(err as Error);
      }
    }
  }
}

// MQTT across hubs (docs/scaling.md): what a client publishes to one hub's broker reaches the
// subscribers of every hub's broker, as if the hubs were one broker. Each accepted publish goes
// out on a plain engine subject made from its topic (every level hex-encoded, as topic levels may
// hold characters subjects may not); a hub subscribes on the engine only to the subjects of the
// filters its own clients hold, so the engine sends a hub only what someone there asked for, and
// a fleet nobody watches over MQTT costs one publish per message. Nothing is kept on the engine:
// a subscriber misses what was published while its hub was cut off from the engine, as an MQTT
// subscriber misses what was published while it was away. Retained messages are retained on
// every hub that hears them.

import { headers, type NatsConnection, type Subscription } from "nats";

/** Where relayed messages travel: `locus.d.` and the topic's levels, each `x` + hex. */
const PREFIX = "locus.d";
/** Header naming the hub a message came from (a hub does not deliver its own twice). */
const ORIGIN = "Locus-Origin";
/** Header marking a retained publish. */
const RETAIN = "Locus-Retain";
/** Header numbering an origin's messages, so a message matching two subscriptions counts once. */
const NUMBER = "Locus-Number";
/** Origins remembered at most (hubs seen since the last restart; cleared beyond). */
const MAX_ORIGINS = 1000;

export interface DeviceRelayOptions {
  nc: NatsConnection;
  /** This hub's member name: messages it published are not delivered to it again. */
  member: string;
  /** A message another hub's client published, for this hub's broker to deliver. */
  deliver: (topic: string, payload: Uint8Array, retain: boolean) => void;
  onError: (err: Error) => void;
}

/** The subject a topic travels on. */
export function topicSubject(topic: string): string {
  return `${PREFIX}.${topic.split("/").map(level).join(".")}`;
}

/**
 * The subjects that carry every topic an MQTT filter matches: `+` is one level, `#` the rest,
 * including the level before it (`a/#` matches `a`). None for `$` filters: those topics are the
 * broker's own and never relayed.
 */
export function filterSubjects(filter: string): string[] {
  if (filter.startsWith("$")) return [];
  const levels = filter.split("/");
  const tokens = levels.map((l) => (l === "+" ? "*" : l === "#" ? ">" : level(l)));
  const subjects = [`${PREFIX}.${tokens.join(".")}`];
  if (levels.at(-1) === "#" && levels.length > 1) {
    subjects.push(`${PREFIX}.${tokens.slice(0, -1).join(".")}`);
  }
  return subjects;
}

function level(text: string): string {
  return `x${Buffer.from(text).toString("hex")}`;
}

export class DeviceRelay {
  readonly #o: DeviceRelayOptions;
  /** Engine subscriptions, each with how many of this hub's filters need it. */
  readonly #subscriptions = new Map<string, { sub: Subscription; wanted: number }>();
  /** The number of the last message delivered from each origin. */
  readonly #lastFrom = new Map<string, number>();
  #sent = 0;
  #stopped = false;

  constructor(options: DeviceRelayOptions) {
    this.#o = options;
  }

  /** A publish this hub's broker accepted from a client: to every other hub. Never throws. */
  published(topic: string, payload: Uint8Array, retain: boolean): void {
    if (this.#stopped) return;
    try {
      const h = headers();
      h.set(ORIGIN, this.#o.member);
      h.set(NUMBER, String(++this.#sent));
      if (retain) h.set(RETAIN, "1");
      this.#o.nc.publish(topicSubject(topic), payload, { headers: h });
    } catch (err) {
      this.#o.onError(err as Error);
    }
  }

  /** One of this hub's clients holds `filter` now (`wanted`), or no longer. */
  interest(filter: string, wanted: boolean): void {
    if (this.#stopped) return;
    for (const subject of filterSubjects(filter)) {
      const held = this.#subscriptions.get(subject);
      if (wanted) {
        if (held !== undefined) held.wanted++;
        else this.#subscriptions.set(subject, { sub: this.#subscribe(subject), wanted: 1 });
      } else if (held !== undefined && --held.wanted === 0) {
        held.sub.unsubscribe();
        this.#subscriptions.delete(subject);
      }
    }
  }

  /** The engine subjects this hub listens on now (for tests and diagnostics). */
  get subjects(): string[] {
    return [...this.#subscriptions.keys()];
  }

  stop(): void {
    this.#stopped = true;
    for (const { sub } of this.#subscriptions.values()) sub.unsubscribe();
    this.#subscriptions.clear();
  }

  #subscribe(subject: string): Subscription {
    return this.#o.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err !== null) {
          this.#o.onError(err);
          return;
        }
        const origin = m.headers?.get(ORIGIN) ?? "";
        if (origin === this.#o.member) return;
        // Two of this hub's filters (`a/+` and `a/#`) may both match a topic, and the engine
        // sends a copy for each; the broker delivers a message to each subscriber once however
        // many of its filters match, so the copies after the first are dropped here. The copies
        // of one message arrive together (the engine queues them to this connection at once);
        // only a repeat of the last number is dropped, so messages that arrive out of order
        // (the origin moved to another engine node) are still delivered.
        const number = Number(m.headers?.get(NUMBER));
        if (this.#lastFrom.get(origin) === number) return;
        if (this.#lastFrom.size >= MAX_ORIGINS) this.#lastFrom.clear();
        this.#lastFrom.set(origin, number);
        const topic = m.subject
          .slice(PREFIX.length + 1)
          .split(".")
          .map((t) => Buffer.from(t.slice(1), "hex").toString())
          .join("/");
        this.#o.deliver(topic, m.data, m.headers?.get(RETAIN) === "1");
      },
    });
  }
}

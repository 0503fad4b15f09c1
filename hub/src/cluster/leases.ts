// Which partitions this hub owns (docs/scaling.md, "Ownership"). Two replicated key-value buckets
// on the engine: members, where each hub puts its heartbeat key every quarter of the lease time
// (the bucket's TTL drops keys not written for a lease time), and partitions, one key per partition
// naming its owner, written only when ownership changes. Both are watched, so the loop reads
// nothing from the engine: it knows who is alive (a new heartbeat seen within a lease time) and who
// owns what. Each heartbeat lists the partitions its hub holds. A partition is free when its key is
// absent or deleted, when its owner is no longer alive, or when two of the owner's heartbeats since
// the key was written do not list it (the owner let it go without clearing the key); it is taken
// with create (only when absent) or with an update against the revision of the entry seen, so two
// hubs should never both take it. The fencing token is not the revision: the owner claims the
// partition in PostgreSQL (PostgresStore.claimPartition), which numbers the claims, so two hubs
// holding a partition at once (the bucket's revisions were once handed out twice after an engine
// node died) cannot both commit. Each hub takes at most its fair share (partitions over live
// members) and gives back what is beyond it, so a hub that joins gets work and a hub that dies
// leaves its partitions to the others once its heartbeat is a lease time old. A hub whose own
// heartbeat cannot be written for half a lease time drops every partition: the others may take them
// from then on.

import type { KV, KvEntry, QueuedIterator } from "nats";
import { partitionOf } from "./partition.ts";

export interface LeaseOwner {
  /** A partition was taken: start consuming. A throw gives it back. */
  take(partition: number): Promise<void>;
  /**
   * The partition is gone (lost, or given back): stop consuming; resolves once nothing of the
   * partition is under way any more.
   */
  drop(partition: number): Promise<void>;
}

export interface LeaseOptions {
  /** Heartbeats: a bucket whose TTL is `leaseMs`. */
  members: KV;
  /** Owners: a bucket without TTL. */
  partitionsKv: KV;
  partitions: number;
  /** This hub's member name: unique per process, a valid key. */
  member: string;
  /** How long a member counts as alive after its last heartbeat, ms. */
  leaseMs: number;
  owner: LeaseOwner;
  onError: (err: Error) => void;
}

interface Owned {
  member: string;
  revision: number;
  /** DEL or PURGE: given back. */
  deleted: boolean;
  /** How many of the owner's heartbeats had been seen when this entry was. */
  beatsBefore: number;
}

interface Member {
  /** The revision of its latest heartbeat. */
  revision: number;
  /** When its latest heartbeat was first seen (performance.now()). */
  at: number;
  /** The partitions its latest heartbeat lists. */
  holds: ReadonlySet<number>;
  /** Heartbeats seen so far. */
  beats: number;
}

export class PartitionLeases {
  readonly #o: LeaseOptions;
  /** Partitions held, with the revision of the owner entry written when taken. */
  readonly #held = new Map<number, number>();
  /** Members' latest heartbeats as seen here. */
  readonly #seen = new Map<string, Member>();
  /** Every partition's entry as last seen. */
  readonly #owners = new Map<number, Owned>();
  readonly #watches: QueuedIterator<KvEntry>[] = [];
  /** When this hub's heartbeat was last written. */
  #beatAt = Number.NEGATIVE_INFINITY;
  /** When this hub's own heartbeat was last seen through the watch. */
  #ownSeenAt = performance.now();
  /** When the watches were last made anew. */
  #watchedAt = performance.now();
  /** Takes refused since the last round: the partition and the revision of the entry seen. */
  readonly #refused = new Map<number, number>();
  #timer: NodeJS.Timeout | null = null;
  #round: Promise<void> | null = null;
  #stopped = false;

  constructor(options: LeaseOptions) {
    this.#o = options;
  }

  /** Starts watching both buckets (their current entries first), then the loop. */
  async start(): Promise<void> {
    await this.#follow(this.#o.members, "m.*", (e) => {
      const name = e.key.slice(2);
      if (e.operation !== "PUT") {
        this.#seen.delete(name);
        return;
      }
      let holds: ReadonlySet<number> = new Set();
      try {
        holds = new Set(JSON.parse(e.string()) as number[]);
      } catch {
        // not a list: holds nothing
      }
      // A watch made anew delivers the current entries again: a heartbeat seen before is no
      // sign of life (a dead hub's last one may outlive its TTL on an engine that lost a node).
      const seen = this.#seen.get(name);
      if (seen?.revision === e.revision) return;
      const beats = (seen?.beats ?? 0) + 1;
      this.#seen.set(name, { revision: e.revision, at: performance.now(), holds, beats });
      if (name === this.#o.member) this.#ownSeenAt = performance.now();
    });
    await this.#follow(this.#o.partitionsKv, "p.*", (e) => {
      const partition = Number(e.key.slice(2));
      const member = e.string();
      const before = this.#owners.get(partition);
      if (before?.revision === e.revision && before.member === member) return; // seen before
      this.#owners.set(partition, {
        member,
        revision: e.revision,
        deleted: e.operation !== "PUT",
        beatsBefore: this.#seen.get(member)?.beats ?? 0,
      });
    });
    const loop = () => {
      this.#round = this.#tick()
        .catch((err: Error) => this.#o.onError(err))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.leaseMs / 4);
        });
    };
    loop();
  }

  /** Gives every partition back (after its consumer stopped), so the others take them at once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#round;
    for (const p of [...this.#held.keys()]) await this.#giveBack(p);
    await this.#o.members.delete(this.#memberKey()).catch(() => undefined);
    for (const w of this.#watches) w.stop();
  }

  /** Another hub claimed the partition: it is no longer this hub's. */
  async lost(partition: number): Promise<void> {
    if (!this.#held.delete(partition)) return;
    await this.#o.owner.drop(partition);
  }

  /**
   * Watches a bucket (its current entries first). A watch that ends or fails while the hub runs
   * is made again, its entries read again: a stale view would leave partitions to dead owners.
   */
  async #follow(kv: KV, key: string, apply: (e: KvEntry) => void): Promise<void> {
    const watch = await kv.watch({ key });
    this.#watches.push(watch);
    void (async () => {
      try {
        for await (const e of watch) apply(e);
      } catch (err) {
        if (!this.#stopped) this.#o.onError(err as Error);
      }
      this.#watches.splice(this.#watches.indexOf(watch), 1);
      while (!this.#stopped) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        try {
          await this.#follow(kv, key, apply);
          return;
        } catch (err) {
          this.#o.onError(err as Error);
        }
      }
    })();
  }

  async #tick(): Promise<void> {
    const { members, partitions, leaseMs, member } = this.#o;
    try {
      await members.put(this.#memberKey(), JSON.stringify([...this.#held.keys()]));
      this.#beatAt = performance.now();
    } catch (err) {
      this.#o.onError(err as Error);
    }
    const now = performance.now();
    // A watch that stopped delivering (its read lost with an engine node) without ending would
    // leave this hub's view stale: when its own heartbeats no longer come back through it, and
    // every ten lease times anyway, both watches are made anew (current entries first).
    // So is a view that still shows the entry a take was refused against a round ago: the write
    // that beat it should have come through the watch by now.
    const stale = [...this.#refused].some(([p, r]) => (this.#owners.get(p)?.revision ?? 0) === r);
    this.#refused.clear();
    if (stale) this.#o.onError(new Error("the owners' view was stale: watching anew"));
    if (
      stale ||
      (now - this.#beatAt < leaseMs / 4 && now - this.#ownSeenAt > leaseMs) ||
      now - this.#watchedAt > 10 * leaseMs
    ) {
      this.#watchedAt = now;
      this.#ownSeenAt = now;
      for (const w of this.#watches) w.stop();
    }
    if (now - this.#beatAt > leaseMs / 2) {
      // The others may soon count this hub dead and take its partitions: it stops first.
      await Promise.all([...this.#held.keys()].map((p) => this.lost(p)));
      return;
    }
    // Taken by another hub meanwhile (it found this one dead): dropped.
    for (const p of [...this.#held.keys()]) {
      const entry = this.#owners.get(p);
      if (entry !== undefined && !entry.deleted && entry.member !== member) await this.lost(p);
    }
    const alive = (m: string) =>
      m === member || now - (this.#seen.get(m)?.at ?? Number.NEGATIVE_INFINITY) < leaseMs;
    /** Whether the entry's owner (alive, another hub) still holds the partition. */
    const holding = (p: number, entry: Owned) => {
      const owner = this.#seen.get(entry.member);
      if (owner === undefined || owner.holds.has(p)) return true;
      return owner.beats - entry.beatsBefore < 2;
    };
    let live = 1;
    for (const m of this.#seen.keys()) if (m !== member && alive(m)) live++;
    const share = Math.ceil(partitions / live);
    // Beyond the fair share: the highest-numbered go back first (the others take them).
    const mine = [...this.#held.keys()].sort((a, b) => b - a);
    for (const p of mine.slice(0, Math.max(0, mine.length - share))) await this.#giveBack(p);
    // Free partitions, looked at from a point of this member's own, so hubs starting together
    // do not all reach for the same ones first.
    const offset = partitionOf(member, partitions);
    for (let i = 0; i < partitions && this.#held.size < share && !this.#stopped; i++) {
      const p = (offset + i) % partitions;
      if (this.#held.has(p)) continue;
      const entry = this.#owners.get(p);
      // Held by a live hub (this one's own entry, left after it dropped the partition, is free,
      // as is another's whose heartbeats stopped listing it).
      if (
        entry !== undefined &&
        !entry.deleted &&
        entry.member !== member &&
        alive(entry.member) &&
        holding(p, entry)
      ) {
        continue;
      }
      let revision: number;
      try {
        revision =
          entry === undefined || entry.deleted
            ? await this.#o.partitionsKv.create(this.#ownerKey(p), member)
            : await this.#o.partitionsKv.update(this.#ownerKey(p), member, entry.revision);
      } catch {
        // Another hub took it first (or the engine did not answer).
        this.#refused.set(p, entry?.revision ?? 0);
        continue;
      }
      this.#held.set(p, revision);
      this.#owners.set(p, { member, revision, deleted: false, beatsBefore: 0 });
      try {
        await this.#o.owner.take(p);
      } catch (err) {
        this.#o.onError(err as Error);
        await this.#giveBack(p);
      }
    }
  }

  async #giveBack(partition: number): Promise<void> {
    if (!this.#held.has(partition)) return;
    this.#held.delete(partition);
    await this.#o.owner.drop(partition);
    // Only if still this hub's entry: a hub that took it meanwhile keeps it.
    const entry = this.#owners.get(partition);
    if (entry === undefined || entry.member !== this.#o.member) return;
    await this.#o.partitionsKv
      .delete(this.#ownerKey(partition), { previousSeq: entry.revision })
      .catch(() => undefined);
  }

  #memberKey(): string {
    return `m.${this.#o.member}`;
  }

  #ownerKey(partition: number): string {
    return `p.${partition}`;
  }
}

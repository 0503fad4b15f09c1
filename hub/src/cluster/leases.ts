// Which partitions this hub owns: a lease per partition in the engine's replicated key-value
// bucket (docs/scaling.md, "Ownership"). A free partition is taken with create (succeeds only
// when the key is absent), held by updating the key against its last revision before the bucket's
// TTL expires it, and given back by deleting it. The revision the lease was taken at is the
// fencing token: every later owner's is higher. Each hub takes at most its fair share (partitions
// over live members, members being heartbeat keys in the same bucket) and gives back what is
// beyond it, so a hub that joins gets work and a hub that dies leaves its partitions to the
// others once its leases expire.

import type { KV } from "nats";
import { partitionOf } from "./partition.ts";

export interface LeaseOwner {
  /** A lease was taken under `token`: start consuming. A throw gives the lease back. */
  take(partition: number, token: number): Promise<void>;
  /**
   * The lease is gone (lost, or given back): stop consuming; resolves once nothing of the
   * partition is under way any more.
   */
  drop(partition: number): Promise<void>;
}

export interface LeaseOptions {
  kv: KV;
  partitions: number;
  /** This hub's member name: unique per process. */
  member: string;
  /** The bucket's TTL, ms: a lease not renewed within it expires. */
  leaseMs: number;
  owner: LeaseOwner;
  onError: (err: Error) => void;
  /** Until this many members are seen (or one lease period passed), take nothing: the first
   * hub to start would otherwise take every partition only to give most of them back. */
  expectedMembers?: number;
}

interface Held {
  /** The revision it was taken at: the fencing token. */
  token: number;
  /** The key's latest revision (renewals update against it). */
  revision: number;
  /** When it was last renewed (or taken), by this process's clock. */
  renewedAt: number;
}

export class PartitionLeases {
  readonly #o: LeaseOptions;
  readonly #held = new Map<number, Held>();
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> | null = null;
  #stopped = false;

  constructor(options: LeaseOptions) {
    this.#o = options;
  }

  /** The partitions held now, with their fencing tokens. */
  held(): Map<number, number> {
    return new Map([...this.#held].map(([p, h]) => [p, h.token]));
  }

  start(): void {
    const loop = () => {
      this.#tick = this.#round()
        .catch((err: Error) => this.#o.onError(err))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.leaseMs / 8);
        });
    };
    loop();
  }

  /** Gives every partition back (after its consumer stopped), so the others take them at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#tick;
    for (const p of [...this.#held.keys()]) await this.#giveBack(p);
    await this.#o.kv.delete(this.#memberKey()).catch(() => undefined);
  }

  /** Another hub claimed the partition: it is no longer this hub's, whatever the lease says. */
  async lost(partition: number): Promise<void> {
    if (!this.#held.delete(partition)) return;
    await this.#o.owner.drop(partition);
  }

  async #round(): Promise<void> {
    const { kv, partitions, leaseMs } = this.#o;
    await kv.put(this.#memberKey(), String(Date.now()));
    await this.#renew();
    if (this.#stopped) return;
    let members = 0;
    for await (const _ of await kv.keys("member.*")) members++;
    members = Math.max(members, 1);
    if (members < (this.#o.expectedMembers ?? 1) && Date.now() - this.#startedAt < leaseMs) return;
    const share = Math.ceil(partitions / members);
    // Beyond the fair share: give back the highest-numbered first (the others take them).
    const mine = [...this.#held.keys()].sort((a, b) => b - a);
    for (const p of mine.slice(0, Math.max(0, mine.length - share))) await this.#giveBack(p);
    if (this.#held.size >= share) return;
    // Free partitions, looked at from a point of this member's own, so hubs starting together
    // do not all try the same ones first.
    const offset = partitionOf(this.#o.member, partitions);
    for (let i = 0; i < partitions && this.#held.size < share && !this.#stopped; i++) {
      const p = (offset + i) % partitions;
      if (this.#held.has(p)) continue;
      const entry = await kv.get(leaseKey(p));
      if (entry !== null && entry.operation === "PUT") continue;
      let token: number;
      try {
        token = await kv.create(leaseKey(p), this.#o.member);
      } catch {
        continue; // taken by another hub meanwhile
      }
      this.#held.set(p, { token, revision: token, renewedAt: Date.now() });
      try {
        await this.#o.owner.take(p, token);
      } catch (err) {
        this.#o.onError(err as Error);
        await this.#giveBack(p);
      }
    }
  }

  /**
   * Renews every held lease against its revision. One that another hub holds now is dropped; one
   * that could not be renewed (the engine unreachable) is kept only while it cannot have expired.
   */
  async #renew(): Promise<void> {
    const { kv, leaseMs, member } = this.#o;
    for (const [p, held] of [...this.#held]) {
      try {
        held.revision = await kv.update(leaseKey(p), member, held.revision);
        held.renewedAt = Date.now();
      } catch (err) {
        const lost = /wrong last sequence/i.test((err as Error).message);
        if (lost || Date.now() - held.renewedAt > leaseMs / 2) {
          this.#held.delete(p);
          await this.#o.owner.drop(p);
        }
      }
    }
  }

  async #giveBack(partition: number): Promise<void> {
    const held = this.#held.get(partition);
    if (held === undefined) return;
    this.#held.delete(partition);
    await this.#o.owner.drop(partition);
    await this.#o.kv
      .delete(leaseKey(partition), { previousSeq: held.revision })
      .catch(() => undefined);
  }

  #memberKey(): string {
    return `member.${this.#o.member}`;
  }
}

function leaseKey(partition: number): string {
  return `p.${partition}`;
}

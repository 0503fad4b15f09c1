// The messages every engine scenario sends (numbered fixes of about 150 bytes, keyed by vehicle)
// and the ledger that checks what came back: every acknowledged fix delivered, per-vehicle order,
// duplicates, the longest pauses.

/** The partition of a vehicle: the hubs' own function (FNV-1a of its id, modulo the count). */
export { partitionOf } from "../../hub/src/cluster/partition.ts";

export function vehicleName(index: number): string {
  return `veh-${String(index).padStart(5, "0")}`;
}

export interface SentFix {
  /** Unique over the run: also the engine's de-duplication id where it has one. */
  n: number;
  vehicle: string;
  /** Per-vehicle sequence, from 1. */
  seq: number;
}

/** A fix as JSON, about 150 bytes like the devices' own. */
export function encodeFix(fix: SentFix): Buffer {
  return Buffer.from(
    JSON.stringify({
      vehicle_id: fix.vehicle,
      n: fix.n,
      seq: fix.seq,
      latitude: 34.052235 + (fix.n % 1000) / 1e5,
      longitude: -118.243683 - (fix.n % 777) / 1e5,
      ts: 1_790_000_000_000 + fix.n,
      speed: 12.5,
      heading: 271,
    }),
  );
}

export function decodeFix(body: Uint8Array): SentFix {
  const parsed = JSON.parse(Buffer.from(body).toString("utf8")) as {
    vehicle_id: string;
    n: number;
    seq: number;
  };
  return { n: parsed.n, vehicle: parsed.vehicle_id, seq: parsed.seq };
}

/** Hands out numbered fixes round-robin over a fleet. */
export class FixSource {
  private n = 0;
  private readonly seqs: number[];
  constructor(readonly vehicles: number) {
    this.seqs = new Array(vehicles).fill(0);
  }
  private held: SentFix | null = null;

  /** The next fix, without taking it. */
  peek(): SentFix {
    this.held ??= this.make();
    return this.held;
  }

  next(): SentFix {
    const fix = this.peek();
    this.held = null;
    return fix;
  }

  private make(): SentFix {
    const index = this.n % this.vehicles;
    this.n += 1;
    this.seqs[index] = (this.seqs[index] ?? 0) + 1;
    return { n: this.n, vehicle: vehicleName(index), seq: this.seqs[index] ?? 0 };
  }
}

export interface LedgerCheck {
  acked: number;
  delivered: number;
  /** Acknowledged to the publisher but never delivered. */
  lost: number;
  /** Deliveries of a fix already delivered once (redelivery after a crash, or a resend). */
  duplicates: number;
  /** First deliveries of a vehicle's fix after a later one of the same vehicle. */
  orderViolations: number;
  /** Longest gap between two publisher acknowledgements, ms. */
  maxAckGapMs: number;
  /** Longest gap between two deliveries, ms. */
  maxDeliveryGapMs: number;
}

/** What a scenario published and what its consumers received. */
export class Ledger {
  readonly acked = new Set<number>();
  private readonly seen = new Set<number>();
  private readonly lastSeq = new Map<string, number>();
  private deliveries = 0;
  private duplicates = 0;
  private orderViolations = 0;
  private lastAckAt = 0;
  private lastDeliveryAt = 0;
  private maxAckGap = 0;
  private maxDeliveryGap = 0;

  ack(fix: SentFix, at = Date.now()): void {
    this.acked.add(fix.n);
    if (this.lastAckAt) this.maxAckGap = Math.max(this.maxAckGap, at - this.lastAckAt);
    this.lastAckAt = at;
  }

  deliver(fix: SentFix, at = Date.now()): void {
    this.deliveries += 1;
    if (this.lastDeliveryAt) {
      this.maxDeliveryGap = Math.max(this.maxDeliveryGap, at - this.lastDeliveryAt);
    }
    this.lastDeliveryAt = at;
    if (this.seen.has(fix.n)) {
      this.duplicates += 1;
      return;
    }
    this.seen.add(fix.n);
    const last = this.lastSeq.get(fix.vehicle) ?? 0;
    if (fix.seq < last) this.orderViolations += 1;
    else this.lastSeq.set(fix.vehicle, fix.seq);
  }

  /** True once every acknowledged fix has been delivered. */
  complete(): boolean {
    for (const n of this.acked) if (!this.seen.has(n)) return false;
    return true;
  }

  delivered(n: number): boolean {
    return this.seen.has(n);
  }

  check(): LedgerCheck {
    let lost = 0;
    for (const n of this.acked) if (!this.seen.has(n)) lost += 1;
    return {
      acked: this.acked.size,
      delivered: this.deliveries,
      lost,
      duplicates: this.duplicates,
      orderViolations: this.orderViolations,
      maxAckGapMs: this.maxAckGap,
      maxDeliveryGapMs: this.maxDeliveryGap,
    };
  }
}

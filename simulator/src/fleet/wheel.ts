// One timer for the whole fleet: every vehicle ticks once per interval at its own phase, so the
// wheel splits the interval into slots and, at each slot's end, hands over the vehicles whose phase
// falls in it. No timer per vehicle, and the fleet's fixes spread evenly over the interval.

export interface WheelOptions {
  /** The period every member repeats at, ms. */
  periodMs: number;
  /** Slot length, ms: a member's tick runs at most this late (plus event-loop delay). */
  slotMs: number;
  /** Called with the members of each finished slot and the current time. */
  onSlot: (members: readonly number[], now: number) => void;
  now?: () => number;
}

export class TimerWheel {
  private readonly slots: number[][];
  private readonly slotMs: number;
  private readonly now: () => number;
  private readonly onSlot: WheelOptions["onSlot"];
  private t0 = 0;
  /** Absolute index of the next slot to hand over. */
  private cursor = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(options: WheelOptions) {
    const count = Math.max(1, Math.round(options.periodMs / options.slotMs));
    this.slotMs = options.periodMs / count;
    this.slots = Array.from({ length: count }, () => []);
    this.now = options.now ?? Date.now;
    this.onSlot = options.onSlot;
  }

  /** Adds a member whose ticks fall at phaseMs (mod the period) after the wheel's start. */
  add(member: number, phaseMs: number): void {
    const period = this.slotMs * this.slots.length;
    const phase = ((phaseMs % period) + period) % period;
    const slot = Math.min(this.slots.length - 1, Math.floor(phase / this.slotMs));
    (this.slots[slot] as number[]).push(member);
  }

  /** Starts turning; `t0` is the time phases count from. */
  start(t0: number): void {
    if (this.running) return;
    this.running = true;
    this.t0 = t0;
    this.cursor = 0;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (!this.running) return;
    const due = this.t0 + (this.cursor + 1) * this.slotMs;
    this.timer = setTimeout(() => this.turn(), Math.max(0, due - this.now()));
  }

  private turn(): void {
    this.timer = null;
    const now = this.now();
    // Slots whose end has passed; after a long stall each slot is visited once, not many times.
    const finished = Math.floor((now - this.t0) / this.slotMs);
    if (finished - this.cursor > this.slots.length) this.cursor = finished - this.slots.length;
    while (this.running && this.cursor < finished) {
      const members = this.slots[this.cursor % this.slots.length] as number[];
      this.cursor++;
      if (members.length > 0) this.onSlot(members, now);
    }
    this.schedule();
  }
}

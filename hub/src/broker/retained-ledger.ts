// The embedded broker's bound on retained messages: how many topics hold one and how many payload
// bytes they hold in all. aedes keeps them in memory with no bound of its own, so without this any
// client allowed to retain could fill the hub's memory.

/** Bounds on the retained messages the embedded broker holds (every client together). */
export interface RetainedLimits {
  /** Topics holding a retained message. */
  maxMessages: number;
  /** Payload bytes of all retained messages together. */
  maxBytes: number;
}

/** Room for a status and a few OwnTracks devices per vehicle of a large fleet. */
export const DEFAULT_RETAINED_LIMITS: RetainedLimits = {
  maxMessages: 100_000,
  maxBytes: 64 * 1024 * 1024,
};

export class RetainedLedger {
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  constructor(readonly limits: RetainedLimits) {}

  /**
   * Records a retained message about to be stored, or returns false (recording nothing) when it
   * would take the broker past a limit. An empty payload clears the topic and always fits; a
   * message replacing one on the same topic needs room only for the difference.
   */
  admit(topic: string, bytes: number): boolean {
    const old = this.#sizes.get(topic);
    if (bytes === 0) {
      if (old !== undefined) {
        this.#sizes.delete(topic);
        this.#bytes -= old;
      }
      return true;
    }
    const count = this.#sizes.size + (old === undefined ? 1 : 0);
    const total = this.#bytes - (old ?? 0) + bytes;
    if (count > this.limits.maxMessages || total > this.limits.maxBytes) return false;
    this.#sizes.set(topic, bytes);
    this.#bytes = total;
    return true;
  }

  get messages(): number {
    return this.#sizes.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}

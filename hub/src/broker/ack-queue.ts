// The PUBACKs the hub owes its broker, in arrival order (MQTT 5 §4.6), per connection: a message
// is acknowledged once its commit settles and every message before it is acknowledged, and an
// acknowledgement never crosses to a later connection (the broker sends those messages again).

/** One message taken and not yet acknowledged. */
export interface AckTicket<T> {
  /** What acknowledges it: a message id, a callback. */
  readonly value: T;
  /** The connection it arrived on. */
  readonly connection: number;
  settled: boolean;
}

export class AckQueue<T> {
  readonly #send: (value: T) => void;
  /** Counts connections: bumped when one is lost, so late settlements for it are dropped. */
  #connection = 0;
  /**
   * Tickets in arrival order, from #head on. Taken from the front by index, not with
   * Array#shift, which copies the rest of the array each time (up to the receive maximum, 1,000
   * by default): in a profile of the hub under load, acknowledging that way took 29% of its CPU
   * time, and the hub fell seconds behind the broker.
   */
  #tickets: AckTicket<T>[] = [];
  #head = 0;
  #idleWaiters: (() => void)[] = [];

  /** `send` acknowledges one message on the current connection. */
  constructor(send: (value: T) => void) {
    this.#send = send;
  }

  /** The current connection's number. */
  get connection(): number {
    return this.#connection;
  }

  /** Messages taken and not yet acknowledged. */
  get pending(): number {
    return this.#tickets.length - this.#head;
  }

  /** Records a message taken on the current connection. */
  take(value: T): AckTicket<T> {
    const ticket: AckTicket<T> = { value, connection: this.#connection, settled: false };
    this.#tickets.push(ticket);
    return ticket;
  }

  /** Whether the ticket belongs to the current connection. */
  isCurrent(ticket: AckTicket<T>): boolean {
    return ticket.connection === this.#connection;
  }

  /** Marks the message committed and sends every PUBACK now due, in arrival order. */
  settle(ticket: AckTicket<T>): void {
    if (ticket.connection !== this.#connection) return;
    ticket.settled = true;
    while (
      this.#head < this.#tickets.length &&
      (this.#tickets[this.#head] as AckTicket<T>).settled
    ) {
      const due = this.#tickets[this.#head] as AckTicket<T>;
      this.#head++;
      this.#send(due.value);
    }
    if (this.#head === this.#tickets.length) {
      this.#tickets = [];
      this.#head = 0;
      this.#wakeIdle();
    } else if (this.#head > 1024 && this.#head * 2 > this.#tickets.length) {
      this.#tickets = this.#tickets.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The connection is gone: what it owed is void (the sender resends those messages). Returns
   * the values of the messages that were pending, in arrival order.
   */
  connectionLost(): T[] {
    const pending = this.#tickets.slice(this.#head).map((t) => t.value);
    this.#connection++;
    this.#tickets = [];
    this.#head = 0;
    this.#wakeIdle();
    return pending;
  }

  /** Resolves once nothing is pending (acknowledged or void), or after timeoutMs. */
  idle(timeoutMs: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#idleWaiters.push(done);
    });
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

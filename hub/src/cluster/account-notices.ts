// MQTT accounts across hubs: accounts live in the shared store, but each hub remembers recent
// logins and holds its own devices' sessions. When an account is issued, rotated or revoked
// through one hub, the others are told on the engine (a plain subject), and each forgets that
// account's remembered logins and ends its live sessions there, as the hub that made the change
// does. A hub cut off from the engine when the notice went out misses it; it forgets every
// remembered login once it is back, so only sessions already open there stay until they end.

import type { NatsConnection, Subscription } from "nats";
import type { BrokerAccounts } from "../identity/broker-accounts.ts";
import type { Principal } from "../identity/principal.ts";

export const ACCOUNTS_SUBJECT = "locus.accounts";

export interface AccountNoticesOptions {
  nc: NatsConnection;
  /** This hub's member name: its own notices are not applied twice. */
  member: string;
  /** Forgets remembered logins: of one account, or of all (null) after a lost connection. */
  forget: (username: string | null) => void;
  onError: (err: Error) => void;
}

export class AccountNotices {
  readonly #o: AccountNoticesOptions;
  readonly #subscription: Subscription;
  readonly #reading: Promise<void>;
  /** This hub's broker side, once the broker runs (sessions are cut through it). */
  #local: BrokerAccounts | null = null;

  constructor(options: AccountNoticesOptions) {
    this.#o = options;
    this.#subscription = options.nc.subscribe(ACCOUNTS_SUBJECT);
    this.#reading = this.#read();
    // Ends with the connection.
    void this.#watch();
  }

  /** This hub's broker side, told of changes made here and announced to the other hubs. */
  across(local: BrokerAccounts): BrokerAccounts {
    this.#local = local;
    const announce = (username: string) => {
      this.#o.nc.publish(ACCOUNTS_SUBJECT, JSON.stringify({ username, from: this.#o.member }));
    };
    return {
      async upsert(username: string, password: string, principal: Principal) {
        await local.upsert(username, password, principal);
        announce(username);
      },
      async remove(username: string) {
        await local.remove(username);
        announce(username);
      },
    };
  }

  async stop(): Promise<void> {
    this.#subscription.unsubscribe();
    await this.#reading;
  }

  async #read(): Promise<void> {
    for await (const m of this.#subscription) {
      try {
        const { username, from } = JSON.parse(m.string()) as { username: string; from: string };
        if (from === this.#o.member || typeof username !== "string") continue;
        this.#o.forget(username);
        // The account's password changed or it is gone: its sessions here end (a device with
        // the new password logs in again).
        await this.#local?.remove(username);
      } catch (err) {
        this.#o.onError(err as Error);
      }
    }
  }

  /** After a lost connection, notices sent meanwhile are lost: every remembered login goes. */
  async #watch(): Promise<void> {
    for await (const s of this.#o.nc.status()) {
      if (s.type === "reconnect") this.#o.forget(null);
    }
  }
}

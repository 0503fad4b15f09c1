// The broker's side of MQTT accounts: what the account service tells the broker when a vehicle or
// client account is issued, rotated or revoked. The embedded broker checks passwords against the
// hub's store and only has sessions to cut; an external broker (Mosquitto's dynamic security
// plugin) keeps its own copy of each account.

import type { Principal } from "./principal.ts";

export interface BrokerAccounts {
  /**
   * Creates or replaces the account `username` with this password and the principal's rights.
   * Live sessions of the account are disconnected, so an old password stops working at once.
   */
  upsert(username: string, password: string, principal: Principal): Promise<void>;
  /** Removes the account (if it exists) and disconnects its live sessions. */
  remove(username: string): Promise<void>;
}

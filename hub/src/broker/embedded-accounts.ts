// The embedded broker's side of MQTT accounts: it checks passwords against the hub's store at
// each login (through its authenticator), so issuing, rotating or revoking an account only has
// to end the account's live sessions.

import type { BrokerAccounts } from "../identity/broker-accounts.ts";
import type { EmbeddedBroker } from "./embedded.ts";

export class EmbeddedBrokerAccounts implements BrokerAccounts {
  constructor(readonly broker: Pick<EmbeddedBroker, "disconnectSessions">) {}

  /** The new password is already in the store: sessions logged in with the old one end now. */
  async upsert(username: string): Promise<void> {
    await this.broker.disconnectSessions(username);
  }

  /** The account is gone from the store: its sessions end now. */
  async remove(username: string): Promise<void> {
    await this.broker.disconnectSessions(username);
  }
}

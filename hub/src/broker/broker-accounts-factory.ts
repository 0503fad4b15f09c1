// Opens the hub's management of accounts on an external broker: Mosquitto's dynamic security
// plugin when the broker has it and the hub's account may use it, otherwise why not, so that the
// credential endpoints can answer 501 naming what the broker lacks (CONTRACT §3).

import { DynamicSecurity, DynsecError } from "./dynsec.ts";
import { DYNSEC_TOPIC } from "./dynsec-client.ts";

export interface BrokerAccountsTarget {
  /** LOCUS_MQTT_URL */
  url: string;
  /** LOCUS_MQTT_USERNAME / LOCUS_MQTT_PASSWORD: the hub's account, which must be the plugin's admin. */
  username: string | null;
  password: string | null;
  /** LOCUS_MQTT_CLIENT_ID: this connection uses it with "-accounts" appended. */
  clientId: string;
}

export interface BrokerAccountsPolicy {
  /** LOCUS_MQTT_ALLOW_ANONYMOUS */
  allowAnonymous: boolean;
  /** How long a command waits for the plugin's answer, ms (default 5000). */
  timeoutMs?: number;
}

/** Either the accounts, ready, or why the broker cannot be managed (for a 501's message). */
export type OpenedBrokerAccounts =
  | { accounts: DynamicSecurity; unmanaged: null }
  | { accounts: null; unmanaged: string };

/**
 * Connects to the external broker's dynamic security plugin, checks that it answers, and makes
 * the broker's roles those of CONTRACT §3 (ensureRoles). A broker that cannot be managed is not
 * an error: the result says why, and the hub runs on without account management.
 */
export async function openBrokerAccounts(
  target: BrokerAccountsTarget,
  policy: BrokerAccountsPolicy,
): Promise<OpenedBrokerAccounts> {
  const unmanaged = (why: string): OpenedBrokerAccounts => ({
    accounts: null,
    unmanaged: `the broker cannot be managed through Mosquitto's dynamic security plugin (${DYNSEC_TOPIC}) with the hub's account: ${why}`,
  });
  let accounts: DynamicSecurity;
  try {
    accounts = await DynamicSecurity.connect({
      url: target.url,
      username: target.username,
      password: target.password,
      clientId: `${target.clientId}-accounts`,
      allowAnonymous: policy.allowAnonymous,
      ...(policy.timeoutMs !== undefined ? { timeoutMs: policy.timeoutMs } : {}),
      connectTimeoutMs: 10_000,
    });
  } catch (err) {
    if (err instanceof DynsecError) return unmanaged(err.message);
    throw err;
  }
  try {
    const probe = await accounts.probe();
    if (!probe.manageable) {
      await accounts.close();
      return unmanaged(
        /no answer/.test(probe.reason)
          ? `${probe.reason} (no dynamic security plugin answers there)`
          : probe.reason,
      );
    }
    await accounts.ensureRoles();
  } catch (err) {
    await accounts.close();
    if (err instanceof DynsecError) return unmanaged(err.message);
    throw err;
  }
  return { accounts, unmanaged: null };
}

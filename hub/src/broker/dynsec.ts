// MQTT accounts on an external Mosquitto, kept by the hub at run time in Mosquitto's dynamic
// security plugin: the roles of CONTRACT §3, the anonymous group, and one client per vehicle or
// consumer account. Mosquitto disconnects a client's live sessions when its password changes or
// it is deleted (tested), so a rotated or revoked password stops working at once.

import type { BrokerAccounts } from "../identity/broker-accounts.ts";
import type { Principal } from "../identity/principal.ts";
import {
  DynsecClient,
  type DynsecClientOptions,
  type DynsecCommand,
  DynsecError,
  type DynsecResponse,
} from "./dynsec-client.ts";
import {
  type Acl,
  ANONYMOUS_GROUP,
  ANONYMOUS_ROLE,
  clientRoleName,
  DEFAULT_ACL_ACCESS,
  HUB_ROLE,
  SHARED_ROLES,
  sameAcls,
  vehicleAcls,
  vehicleRole,
} from "./dynsec-roles.ts";

export { DynsecError } from "./dynsec-client.ts";

export interface DynamicSecurityOptions {
  url: string;
  /** The hub's account; it must hold the plugin's admin rights (the locus-hub role). */
  username: string | null;
  password: string | null;
  /** The client id of this connection; not the hub's session's. */
  clientId: string;
  /** Whether clients without credentials may publish fixes (LOCUS_MQTT_ALLOW_ANONYMOUS). */
  allowAnonymous: boolean;
  /** How long a command waits for the plugin's answer, ms (default 5000). */
  timeoutMs?: number;
  /** How long the first connection is tried, ms (default 10000). */
  connectTimeoutMs?: number;
}

/** Whether the broker can be managed, and if not, what it lacks. */
export type ProbeResult = { manageable: true } | { manageable: false; reason: string };

export class DynamicSecurity implements BrokerAccounts {
  readonly #client: DynsecClient;
  readonly #o: DynamicSecurityOptions;

  private constructor(client: DynsecClient, options: DynamicSecurityOptions) {
    this.#client = client;
    this.#o = options;
  }

  /** Connects to the broker (its own connection, with the hub's account). */
  static async connect(options: DynamicSecurityOptions): Promise<DynamicSecurity> {
    const clientOptions: DynsecClientOptions = {
      url: options.url,
      username: options.username,
      password: options.password,
      clientId: options.clientId,
      timeoutMs: options.timeoutMs ?? 5000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    };
    return new DynamicSecurity(await DynsecClient.connect(clientOptions), options);
  }

  /**
   * Asks the plugin for one client: manageable when it answers. Not manageable when the broker
   * refuses the command (the account lacks the admin rights) or nobody answers (no plugin).
   */
  async probe(): Promise<ProbeResult> {
    try {
      const [answer] = await this.#client.request([
        { command: "listClients", verbose: false, count: 1, offset: 0 },
      ]);
      if (answer?.error) return { manageable: false, reason: answer.error };
      return { manageable: true };
    } catch (err) {
      if (!(err instanceof DynsecError)) throw err;
      return { manageable: false, reason: err.message };
    }
  }

  /**
   * Makes the broker's rules those of CONTRACT §3: default deny for publishing and subscribing,
   * the shared roles with their rights, the anonymous group per the anonymous policy, and the
   * hub's own role. Changes only what differs (a changed role disconnects its clients).
   */
  async ensureRoles(): Promise<void> {
    const [defaults] = await this.#run([{ command: "getDefaultACLAccess" }]);
    const current = new Map(
      ((defaults?.data as { acls?: { acltype: string; allow: boolean }[] })?.acls ?? []).map(
        (a) => [a.acltype, a.allow],
      ),
    );
    if (DEFAULT_ACL_ACCESS.some((a) => current.get(a.acltype) !== a.allow)) {
      await this.#run([{ command: "setDefaultACLAccess", acls: DEFAULT_ACL_ACCESS }]);
    }
    for (const [rolename, acls] of SHARED_ROLES) await this.#ensureRole(rolename, acls);
    await this.#ensureAnonymousGroup();
    await this.#ensureHubRole();
  }

  /**
   * Creates or replaces the account: its password and the rights of its principal. An existing
   * account's live sessions are disconnected by Mosquitto when its password is set.
   */
  async upsert(username: string, password: string, principal: Principal): Promise<void> {
    this.#refuseHub(username);
    const roles: DynsecCommand[] = [];
    let rolename: string;
    if (principal.kind === "vehicle") {
      if (principal.id !== username) {
        throw new Error(`a vehicle's username is its id: "${username}" is not "${principal.id}"`);
      }
      rolename = vehicleRole(principal.id);
      const acls = vehicleAcls(principal.id);
      // createRole fails on an existing role; modifyRole then sets its rights all the same.
      roles.push(
        { command: "createRole", rolename, acls },
        { command: "modifyRole", rolename, acls },
      );
    } else if (principal.kind === "client") {
      rolename = clientRoleName(principal.role);
    } else {
      throw new Error("anonymous clients have no account");
    }
    const answers = await this.#client.request([
      ...roles,
      { command: "createClient", username, password, roles: [{ rolename }] },
    ]);
    // createRole's error (the role exists) is expected; modifyRole's is not.
    const modified = roles.length > 0 ? answers[1] : undefined;
    if (modified?.error) throw commandError(modified);
    const created = answers[roles.length];
    if (!created?.error) return;
    if (!/already exists/i.test(created.error)) throw commandError(created);
    // An existing account: its rights first, then the password, which disconnects its sessions.
    const [rights, reset] = await this.#client.request([
      { command: "modifyClient", username, roles: [{ rolename }], groups: [] },
      { command: "setClientPassword", username, password },
      // Was it a vehicle before? Its own role goes (an error here only means there was none).
      ...(principal.kind === "vehicle"
        ? []
        : [{ command: "deleteRole", rolename: vehicleRole(username) }]),
    ]);
    for (const answer of [rights, reset]) if (answer?.error) throw commandError(answer);
  }

  /** Deletes the account (and a vehicle's own role); Mosquitto disconnects its sessions. */
  async remove(username: string): Promise<void> {
    this.#refuseHub(username);
    const [client, role] = await this.#client.request([
      { command: "deleteClient", username },
      { command: "deleteRole", rolename: vehicleRole(username) },
    ]);
    if (client?.error && !/not found/i.test(client.error)) throw commandError(client);
    if (role?.error && !/not found/i.test(role.error)) throw commandError(role);
  }

  /** Disconnects this connection (the accounts stay in the broker). */
  close(): Promise<void> {
    return this.#client.close();
  }

  /** The hub's own account is not the REST API's to change: that would lock the hub out. */
  #refuseHub(username: string): void {
    if (username === this.#o.username) {
      throw new Error(`"${username}" is the hub's own account on the broker`);
    }
  }

  async #ensureRole(rolename: string, acls: readonly Acl[]): Promise<void> {
    const [got] = await this.#client.request([{ command: "getRole", rolename }]);
    if (got?.error) {
      if (!/not found/i.test(got.error)) throw commandError(got);
      await this.#run([{ command: "createRole", rolename, acls }]);
      return;
    }
    const have = (got?.data as { role?: { acls?: Acl[] } })?.role?.acls ?? [];
    if (!sameAcls(have, acls)) await this.#run([{ command: "modifyRole", rolename, acls }]);
  }

  /** Mosquitto's allow_anonymous decides who may connect without credentials; this, what they may do. */
  async #ensureAnonymousGroup(): Promise<void> {
    const roles = this.#o.allowAnonymous ? [{ rolename: ANONYMOUS_ROLE }] : [];
    const [got] = await this.#client.request([{ command: "getGroup", groupname: ANONYMOUS_GROUP }]);
    if (got?.error) {
      if (!/not found/i.test(got.error)) throw commandError(got);
      await this.#run([{ command: "createGroup", groupname: ANONYMOUS_GROUP, roles }]);
    } else {
      const have = (
        (got?.data as { group?: { roles?: { rolename: string }[] } })?.group?.roles ?? []
      ).map((r) => r.rolename);
      if (have.join() !== roles.map((r) => r.rolename).join()) {
        await this.#run([{ command: "modifyGroup", groupname: ANONYMOUS_GROUP, roles }]);
      }
    }
    const [anonymous] = await this.#run([{ command: "getAnonymousGroup" }]);
    const name = (anonymous?.data as { group?: { groupname?: string } })?.group?.groupname;
    if (name !== ANONYMOUS_GROUP) {
      await this.#run([{ command: "setAnonymousGroup", groupname: ANONYMOUS_GROUP }]);
    }
  }

  /**
   * The hub's account needs the locus-hub role to publish events. The bootstrap gives it; an
   * account made otherwise (mosquitto_ctrl dynsec init) gets it here once, and Mosquitto then
   * disconnects the hub's connections, which reconnect.
   */
  async #ensureHubRole(): Promise<void> {
    if (this.#o.username === null) return;
    const [got] = await this.#run([{ command: "getClient", username: this.#o.username }]);
    const roles = (got?.data as { client?: { roles?: { rolename: string }[] } })?.client?.roles;
    if (roles?.some((r) => r.rolename === HUB_ROLE)) return;
    try {
      await this.#run([
        { command: "addClientRole", username: this.#o.username, rolename: HUB_ROLE },
      ]);
    } catch (err) {
      // Its answer may be lost with the connection the change cuts: the role is in place anyway.
      if (!(err instanceof DynsecError) || err.reason === "command") throw err;
    }
  }

  /** Sends commands and throws on the first that failed, with the plugin's own words. */
  async #run(commands: DynsecCommand[]): Promise<DynsecResponse[]> {
    const answers = await this.#client.request(commands);
    const failed = answers.find((a) => a.error);
    if (failed) throw commandError(failed);
    return answers;
  }
}

function commandError(answer: DynsecResponse): DynsecError {
  return new DynsecError("command", `dynamic security ${answer.command}: ${answer.error}`);
}

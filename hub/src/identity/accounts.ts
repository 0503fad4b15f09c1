// The account service: issues, rotates and revokes the MQTT credentials of vehicles and clients,
// issues REST tokens (CONTRACT §3, §5), checks MQTT logins against the stored hashes, and tells
// the broker (BrokerAccounts) about every change.

import { timingSafeEqual } from "node:crypto";
import type { AccountRecord, Page, Store, TokenRecord, VehicleRecord } from "../store/store.ts";
import type { BrokerAccounts } from "./broker-accounts.ts";
import type { ClientRole, MqttAuthenticator, Principal, TokenRole } from "./principal.ts";
import {
  hashPassword,
  newPassword,
  newToken,
  passwordDigest,
  type ScryptCost,
  tokenDigest,
  verifyPassword,
} from "./secrets.ts";

/** Why an account operation was refused; the API turns each reason into its status code. */
export type AccountErrorReason = "conflict" | "not_found" | "unmanaged" | "broker";

/** A refused account operation, with a message that says what to do instead. */
export class AccountError extends Error {
  override readonly name = "AccountError";

  constructor(
    readonly reason: AccountErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface AccountServiceOptions {
  store: Store;
  /**
   * The broker's side of accounts: told after every issue, rotation and revocation, so that it
   * cuts live sessions (the embedded broker) or updates its own copy (Mosquitto's dynamic
   * security). Absent: nothing to tell, the broker only asks `authenticate`.
   */
  broker?: BrokerAccounts;
  /**
   * Set when the broker cannot hold accounts (an external broker the hub cannot manage): what it
   * lacks. Issuing and rotating credentials are then refused with reason "unmanaged".
   */
  brokerLacks?: string;
  now?: () => number;
  /** Successful logins remembered, so that a reconnecting fleet does not cost one scrypt each. */
  cache?: { maxEntries?: number; ttlMs?: number };
  /** scrypt's cost for new hashes (tests lower it). */
  cost?: ScryptCost;
}

/** A vehicle just registered, with the password shown this once. */
export interface IssuedVehicle {
  vehicle: VehicleRecord;
  password: string;
}

export interface IssuedClient {
  account: AccountRecord;
  password: string;
}

export interface IssuedToken {
  record: TokenRecord;
  /** The token itself, shown this once; the store keeps only its digest. */
  token: string;
}

interface CachedLogin {
  digest: Buffer;
  principal: Principal;
  at: number;
}

const DEFAULT_CACHE_ENTRIES = 10_000;
/** Bounds how long a password changed by another hub on a shared database keeps working here. */
const DEFAULT_CACHE_TTL_MS = 60_000;

function principalOf(account: AccountRecord): Principal {
  if (account.kind === "vehicle") return { kind: "vehicle", id: account.username };
  return { kind: "client", name: account.username, role: account.role ?? "events" };
}

export class AccountService {
  readonly #store: Store;
  #broker: BrokerAccounts | undefined;
  #brokerLacks: string | undefined;
  readonly #now: () => number;
  readonly #cost: ScryptCost | undefined;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  /** Successful logins by username (Map order: least recently used first). */
  readonly #cache = new Map<string, CachedLogin>();
  /** Rises with every change of any account, so a login verified meanwhile is checked again. */
  #epoch = 0;

  constructor(options: AccountServiceOptions) {
    this.#store = options.store;
    this.#broker = options.broker;
    this.#brokerLacks = options.brokerLacks;
    this.#now = options.now ?? Date.now;
    this.#cost = options.cost;
    this.#maxEntries = Math.max(1, options.cache?.maxEntries ?? DEFAULT_CACHE_ENTRIES);
    this.#ttlMs = options.cache?.ttlMs ?? DEFAULT_CACHE_TTL_MS;
  }

  /**
   * Sets the broker's side of accounts once the broker runs: the embedded broker is started with
   * `authenticate`, so the service exists before it.
   */
  useBroker(broker: BrokerAccounts): void {
    this.#broker = broker;
    this.#brokerLacks = undefined;
  }

  /**
   * Says that the broker, found to run, cannot hold accounts (an external broker the hub cannot
   * manage): issuing and rotating credentials are refused from now on, naming `why`.
   */
  brokerCannotHoldAccounts(why: string): void {
    this.#broker = undefined;
    this.#brokerLacks = why;
  }

  /** Why credentials cannot be issued here, or null when they can. */
  get brokerLacks(): string | null {
    return this.#brokerLacks ?? null;
  }

  /** Logins remembered now (for tests and metrics). */
  get cachedLogins(): number {
    return this.#cache.size;
  }

  /** Checks MQTT credentials against the stored hash (CONTRACT §3). */
  readonly authenticate: MqttAuthenticator = async (username, password) => {
    const digest = passwordDigest(password);
    const cached = this.#cache.get(username);
    if (cached !== undefined) {
      if (this.#now() - cached.at > this.#ttlMs) {
        this.#cache.delete(username);
      } else if (timingSafeEqual(cached.digest, digest)) {
        // Moved to the end: the least recently used login is the first to go.
        this.#cache.delete(username);
        this.#cache.set(username, cached);
        return cached.principal;
      }
      // A different password leaves the remembered one alone: failed guesses evict nothing.
    }
    const epoch = this.#epoch;
    const account = await this.#store.accounts.getAccount(username);
    // An unknown username costs no scrypt: usernames are vehicle ids, public in every topic, so
    // answering it faster tells nobody anything new.
    if (account === null) return null;
    if (!(await verifyPassword(password, account.password_hash))) return null;
    if (this.#epoch !== epoch) {
      // An account changed while the hash was checked: this one may have been rotated or revoked.
      const now = await this.#store.accounts.getAccount(username);
      if (now === null || now.password_hash !== account.password_hash) return null;
      return principalOf(now);
    }
    const principal = principalOf(account);
    this.#remember(username, { digest, principal, at: this.#now() });
    return principal;
  };

  /** Registers a vehicle and issues its credentials (POST /api/v1/vehicles). */
  async registerVehicle(id: string, name: string | null): Promise<IssuedVehicle> {
    this.#requireManagedBroker();
    const password = newPassword();
    const account: AccountRecord & { kind: "vehicle" } = {
      username: id,
      kind: "vehicle",
      role: null,
      password_hash: await hashPassword(password, this.#cost),
      created_at: this.#now(),
    };
    if (!(await this.#store.accounts.registerVehicle(account, name))) {
      throw await this.#taken(id, "vehicle");
    }
    try {
      await this.#broker?.upsert(id, password, principalOf(account));
    } catch (err) {
      await this.#store.accounts.deleteAccount(id, "vehicle");
      throw brokerFailed(err, "nothing was issued: register the vehicle again");
    }
    const vehicle = await this.#store.getVehicle(id);
    if (vehicle === null) throw new Error(`vehicle ${id} vanished after it was registered`);
    return { vehicle, password };
  }

  /** Issues a vehicle a new password; the old one stops working (POST …/credentials). */
  async rotateVehicle(id: string): Promise<string> {
    this.#requireManagedBroker();
    const account = await this.#store.accounts.getAccount(id);
    if (account === null || account.kind !== "vehicle") {
      throw new AccountError(
        "not_found",
        `no registered vehicle with id ${JSON.stringify(id)}: register it first with POST /api/v1/vehicles`,
      );
    }
    const password = newPassword();
    const hash = await hashPassword(password, this.#cost);
    if (!(await this.#store.accounts.setAccountPassword(id, hash))) {
      throw new AccountError("not_found", `vehicle ${JSON.stringify(id)} was deleted meanwhile`);
    }
    this.#forget(id);
    try {
      await this.#broker?.upsert(id, password, principalOf(account));
    } catch (err) {
      throw brokerFailed(
        err,
        "the old password no longer works here but the broker has not taken the new one: ask for new credentials again",
      );
    }
    return password;
  }

  /** Unregisters a vehicle, revoking its credentials; `purge` deletes its history too. */
  async deleteVehicle(id: string, purge: boolean): Promise<void> {
    const deleted = await this.#store.accounts.deleteVehicle(id, purge);
    this.#forget(id);
    if (!deleted) {
      throw new AccountError(
        "not_found",
        `no vehicle with id ${JSON.stringify(id)}: list them with GET /api/v1/vehicles`,
      );
    }
    await this.#removeFromBroker(id);
  }

  /** Creates an MQTT client account of `role` (POST /api/v1/clients). */
  async createClient(name: string, role: ClientRole): Promise<IssuedClient> {
    this.#requireManagedBroker();
    const password = newPassword();
    const account: AccountRecord & { kind: "client" } = {
      username: name,
      kind: "client",
      role,
      password_hash: await hashPassword(password, this.#cost),
      created_at: this.#now(),
    };
    if (!(await this.#store.accounts.createClientAccount(account)))
      throw await this.#taken(name, "client");
    try {
      await this.#broker?.upsert(name, password, principalOf(account));
    } catch (err) {
      await this.#store.accounts.deleteAccount(name, "client");
      throw brokerFailed(err, "nothing was issued: create the client again");
    }
    return { account, password };
  }

  listClients(page: Page): Promise<AccountRecord[]> {
    return this.#store.accounts.listAccounts("client", page);
  }

  /** Deletes a client account and disconnects its sessions. */
  async deleteClient(name: string): Promise<void> {
    const deleted = await this.#store.accounts.deleteAccount(name, "client");
    this.#forget(name);
    if (!deleted) {
      throw new AccountError(
        "not_found",
        `no client named ${JSON.stringify(name)}: list them with GET /api/v1/clients`,
      );
    }
    await this.#removeFromBroker(name);
  }

  /** Issues a REST token (POST /api/v1/tokens); it works at once. */
  async createToken(name: string, role: TokenRole): Promise<IssuedToken> {
    const token = newToken();
    const record: TokenRecord = { name, role, digest: tokenDigest(token), created_at: this.#now() };
    if (!(await this.#store.accounts.createToken(record))) {
      throw new AccountError(
        "conflict",
        `a token named ${JSON.stringify(name)} exists already: choose another name, or delete it first with DELETE /api/v1/tokens/${name}`,
      );
    }
    return { record, token };
  }

  listTokens(page: Page): Promise<TokenRecord[]> {
    return this.#store.accounts.listTokens(page);
  }

  /** Deletes a token; it stops working at once. */
  async deleteToken(name: string): Promise<void> {
    if (!(await this.#store.accounts.deleteToken(name))) {
      throw new AccountError(
        "not_found",
        `no token named ${JSON.stringify(name)}: list them with GET /api/v1/tokens`,
      );
    }
  }

  /** The role of an issued token, or null when no such token exists (looked up by digest). */
  async tokenRole(token: string): Promise<TokenRole | null> {
    return (await this.#store.accounts.tokenByDigest(tokenDigest(token)))?.role ?? null;
  }

  #requireManagedBroker(): void {
    if (this.#brokerLacks !== undefined) {
      throw new AccountError(
        "unmanaged",
        `the hub cannot issue MQTT credentials on this broker: ${this.#brokerLacks}`,
      );
    }
  }

  /** The conflict error for a username that is taken, saying by what. */
  async #taken(username: string, wanted: AccountRecord["kind"]): Promise<AccountError> {
    const quoted = JSON.stringify(username);
    const holder = await this.#store.accounts.getAccount(username);
    if (holder?.kind === "vehicle" && wanted === "vehicle") {
      return new AccountError(
        "conflict",
        `vehicle ${quoted} is registered already: issue it a new password with POST /api/v1/vehicles/${username}/credentials`,
      );
    }
    if (holder?.kind === "client") {
      return new AccountError(
        "conflict",
        `the username ${quoted} belongs to an MQTT client: choose another ${wanted === "vehicle" ? "vehicle id" : "name"}`,
      );
    }
    return new AccountError(
      "conflict",
      `${quoted} is a vehicle's username (MQTT usernames of vehicles are their ids): choose another client name`,
    );
  }

  #remember(username: string, login: CachedLogin): void {
    this.#cache.delete(username);
    this.#cache.set(username, login);
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  /**
   * Forgets remembered logins, of one account or (null) of all: another hub changed the account,
   * or changes may have been missed. Their next login checks the store again.
   */
  forgetLogins(username: string | null): void {
    if (username === null) {
      this.#epoch++;
      this.#cache.clear();
    } else {
      this.#forget(username);
    }
  }

  #forget(username: string): void {
    this.#epoch++;
    this.#cache.delete(username);
  }

  async #removeFromBroker(username: string): Promise<void> {
    try {
      await this.#broker?.remove(username);
    } catch (err) {
      throw brokerFailed(
        err,
        "the account is deleted from the hub, but the broker may still hold it or its sessions: check the broker",
      );
    }
  }
}

function brokerFailed(err: unknown, what: string): AccountError {
  const reason = err instanceof Error ? err.message : String(err);
  return new AccountError("broker", `the MQTT broker refused the change (${reason}); ${what}`);
}

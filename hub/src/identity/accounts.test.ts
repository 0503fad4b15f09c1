// The account service over a real SQLite store, with a BrokerAccounts that records what it is told.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../store/sqlite.ts";
import { AccountError, AccountService, type AccountServiceOptions } from "./accounts.ts";
import type { BrokerAccounts } from "./broker-accounts.ts";
import type { Principal } from "./principal.ts";
import { hashPassword, tokenDigest, verifyPassword } from "./secrets.ts";

/** Cheap scrypt for tests; one test below checks the default cost. */
const COST = { N: 2 ** 10, r: 8, p: 1 };

type Call = ["upsert", string, string, Principal] | ["remove", string];

class RecordingBroker implements BrokerAccounts {
  readonly calls: Call[] = [];
  failing: Error | null = null;
  async upsert(username: string, password: string, principal: Principal) {
    if (this.failing) throw this.failing;
    this.calls.push(["upsert", username, password, principal]);
  }
  async remove(username: string) {
    if (this.failing) throw this.failing;
    this.calls.push(["remove", username]);
  }
}

let dir: string;
let store: SqliteStore;
let broker: RecordingBroker;
let clock: number;

function service(options: Partial<AccountServiceOptions> = {}): AccountService {
  return new AccountService({ store, broker, cost: COST, now: () => clock, ...options });
}

async function refused(promise: Promise<unknown>, reason: AccountError["reason"]) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AccountError);
  expect((err as AccountError).reason).toBe(reason);
  return (err as AccountError).message;
}

const pw = (s: string) => Buffer.from(s, "utf8");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "locus-accounts-"));
  store = new SqliteStore(join(dir, "locus.db"), { synchronous: "normal" });
  broker = new RecordingBroker();
  clock = Date.UTC(2026, 10, 24, 20);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("secrets", () => {
  it("hashes with the default scrypt cost, salted, and verifies only the right password", async () => {
    const a = await hashPassword("correct horse");
    const b = await hashPassword("correct horse");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain("correct horse");
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword(pw("correct horse"), b)).toBe(true);
    expect(await verifyPassword("correct horsE", a)).toBe(false);
    expect(await verifyPassword("correct horse", "scrypt$3$8$1$AAAA$AAAA")).toBe(false);
    expect(await verifyPassword("correct horse", "plain")).toBe(false);
  });
});

describe("AccountService", () => {
  it("registers a vehicle: the password is random, stored only as a hash, and logs in", async () => {
    const accounts = service();
    const issued = await accounts.registerVehicle("truck-01", "Truck");
    expect(issued.password.length).toBeGreaterThanOrEqual(22);
    expect(issued.vehicle).toMatchObject({ id: "truck-01", name: "Truck", last_fix: null });
    const stored = await store.accounts.getAccount("truck-01");
    expect(stored?.password_hash).not.toBe(issued.password);
    expect(stored?.password_hash).not.toContain(issued.password);
    expect(await verifyPassword(issued.password, stored?.password_hash ?? "")).toBe(true);
    expect(await accounts.authenticate("truck-01", pw(issued.password))).toEqual({
      kind: "vehicle",
      id: "truck-01",
    });
    expect(await accounts.authenticate("truck-01", pw(`${issued.password}x`))).toBeNull();
    expect(await accounts.authenticate("truck-02", pw(issued.password))).toBeNull();
    expect(broker.calls).toEqual([
      ["upsert", "truck-01", issued.password, { kind: "vehicle", id: "truck-01" }],
    ]);
    const other = await accounts.registerVehicle("truck-02", null);
    expect(other.password).not.toBe(issued.password);
  });

  it("refuses to register a vehicle twice, naming the way to new credentials", async () => {
    const accounts = service();
    await accounts.registerVehicle("v1", null);
    const message = await refused(accounts.registerVehicle("v1", null), "conflict");
    expect(message).toContain("/api/v1/vehicles/v1/credentials");
    expect(broker.calls).toHaveLength(1);
  });

  it("rotates: the old password stops at once, even though it was cached", async () => {
    const accounts = service();
    const { password: old } = await accounts.registerVehicle("v1", null);
    expect(await accounts.authenticate("v1", pw(old))).not.toBeNull();
    expect(accounts.cachedLogins).toBe(1);
    const fresh = await accounts.rotateVehicle("v1");
    expect(fresh).not.toBe(old);
    expect(accounts.cachedLogins).toBe(0);
    expect(await accounts.authenticate("v1", pw(old))).toBeNull();
    expect(await accounts.authenticate("v1", pw(fresh))).toEqual({ kind: "vehicle", id: "v1" });
    expect(broker.calls.at(-1)).toEqual(["upsert", "v1", fresh, { kind: "vehicle", id: "v1" }]);
    await refused(accounts.rotateVehicle("nobody"), "not_found");
  });

  it("answers a repeated login from the cache, for a bounded time and number of accounts", async () => {
    const accounts = service({ cache: { maxEntries: 2, ttlMs: 1000 } });
    const issued = new Map<string, string>();
    for (const id of ["a", "b", "c"])
      issued.set(id, (await accounts.registerVehicle(id, null)).password);
    for (const [id, password] of issued) await accounts.authenticate(id, pw(password));
    expect(accounts.cachedLogins).toBe(2);
    // The store's hash changes behind the service's back: a cached login still passes…
    await store.accounts.setAccountPassword("c", await hashPassword("other", COST));
    expect(await accounts.authenticate("c", pw(issued.get("c") ?? ""))).not.toBeNull();
    // …a wrong password never does…
    expect(await accounts.authenticate("c", pw("other-wrong"))).toBeNull();
    // …and once the entry is older than the TTL, the store decides again.
    clock += 1001;
    expect(await accounts.authenticate("c", pw(issued.get("c") ?? ""))).toBeNull();
    expect(await accounts.authenticate("c", pw("other"))).not.toBeNull();
  });

  it("refuses a login whose account was rotated while its hash was being checked", async () => {
    // The login reads the account, then waits (as if scrypt were slow) until the rotation is done.
    let hold = false;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowAccounts = new Proxy(store.accounts, {
      get(target, key) {
        if (key === "getAccount") {
          return async (username: string) => {
            const account = await target.getAccount(username);
            if (hold) {
              hold = false;
              await gate;
            }
            return account;
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const slow = new Proxy(store, {
      get(target, key) {
        if (key === "accounts") return slowAccounts;
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const accounts = service({ store: slow });
    const { password: old } = await accounts.registerVehicle("v1", null);
    hold = true;
    const login = accounts.authenticate("v1", pw(old));
    const fresh = await accounts.rotateVehicle("v1");
    release();
    expect(await login).toBeNull();
    expect(accounts.cachedLogins).toBe(0);
    expect(await accounts.authenticate("v1", pw(fresh))).not.toBeNull();
  });

  it("deletes a vehicle: its password stops, the broker removes it, purge decides its history", async () => {
    const accounts = service();
    const { password } = await accounts.registerVehicle("v1", null);
    await accounts.authenticate("v1", pw(password));
    await accounts.deleteVehicle("v1", false);
    expect(await accounts.authenticate("v1", pw(password))).toBeNull();
    expect(await store.getVehicle("v1")).toBeNull();
    expect(broker.calls.at(-1)).toEqual(["remove", "v1"]);
    await refused(accounts.deleteVehicle("v1", true), "not_found");
  });

  it("creates clients with their roles, keeps them off vehicles' usernames, and deletes them", async () => {
    const accounts = service();
    const { password } = await accounts.createClient("dashboard", "observer");
    expect(await accounts.authenticate("dashboard", pw(password))).toEqual({
      kind: "client",
      name: "dashboard",
      role: "observer",
    });
    await accounts.registerVehicle("v1", null);
    expect(await refused(accounts.createClient("v1", "events"), "conflict")).toContain("vehicle");
    expect(await refused(accounts.registerVehicle("dashboard", null), "conflict")).toContain(
      "client",
    );
    expect((await accounts.listClients({ limit: 10 })).map((c) => c.username)).toEqual([
      "dashboard",
    ]);
    await accounts.deleteClient("dashboard");
    expect(await accounts.authenticate("dashboard", pw(password))).toBeNull();
    expect(broker.calls.at(-1)).toEqual(["remove", "dashboard"]);
    await refused(accounts.deleteClient("dashboard"), "not_found");
  });

  it("issues tokens kept as digests, that stop when deleted", async () => {
    const accounts = service();
    const { token, record } = await accounts.createToken("map", "read");
    expect(token.length).toBeGreaterThanOrEqual(43);
    expect(record.digest).toBe(tokenDigest(token));
    expect(record.digest).not.toContain(token);
    expect(await accounts.tokenRole(token)).toBe("read");
    expect(await accounts.tokenRole(`${token}x`)).toBeNull();
    await refused(accounts.createToken("map", "admin"), "conflict");
    await accounts.deleteToken("map");
    expect(await accounts.tokenRole(token)).toBeNull();
    await refused(accounts.deleteToken("map"), "not_found");
  });

  it("refuses credentials where the broker cannot hold accounts, saying what it lacks", async () => {
    const accounts = service({ broker: undefined, brokerLacks: "no dynamic security plugin" });
    expect(await refused(accounts.registerVehicle("v1", null), "unmanaged")).toContain(
      "no dynamic security plugin",
    );
    await refused(accounts.createClient("c", "events"), "unmanaged");
    expect(await store.accounts.getAccount("v1")).toBeNull();
    // Tokens have nothing to do with the broker.
    expect((await accounts.createToken("t", "admin")).token).toBeTruthy();
  });

  it("issues nothing when the broker refuses the account", async () => {
    const accounts = service();
    broker.failing = new Error("connection lost");
    expect(await refused(accounts.registerVehicle("v1", null), "broker")).toContain(
      "connection lost",
    );
    expect(await store.accounts.getAccount("v1")).toBeNull();
    await refused(accounts.createClient("c", "events"), "broker");
    expect(await store.accounts.getAccount("c")).toBeNull();
    broker.failing = null;
    expect((await accounts.registerVehicle("v1", null)).password).toBeTruthy();
  });

  it("tells a broker attached later", async () => {
    const accounts = service({ broker: undefined });
    await accounts.registerVehicle("v1", null);
    accounts.useBroker(broker);
    await accounts.deleteVehicle("v1", false);
    expect(broker.calls).toEqual([["remove", "v1"]]);
  });

  it("works without a BrokerAccounts (a broker that only asks authenticate)", async () => {
    const accounts = service({ broker: undefined });
    const { password } = await accounts.registerVehicle("v1", null);
    expect(await accounts.authenticate("v1", pw(password))).not.toBeNull();
    await accounts.deleteVehicle("v1", false);
    expect(await accounts.authenticate("v1", pw(password))).toBeNull();
  });
});

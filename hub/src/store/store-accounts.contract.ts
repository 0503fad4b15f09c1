// The Store contract for MQTT accounts, REST tokens and vehicle registrations: part of the one
// contract suite (store.contract.ts calls it), so SQLite and PostgreSQL are held to the same rows.

import { buildEvent, type Fix } from "@locus/protocol";
import { describe, expect, it } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import type { AccountRecord, Store, TokenRecord } from "./store.ts";

const T0 = Date.parse("2026-11-24T20:00:00.000Z");

function vehicleAccount(id: string, hash = `scrypt$hash-of-${id}`) {
  return {
    username: id,
    kind: "vehicle",
    role: null,
    password_hash: hash,
    created_at: T0,
  } satisfies AccountRecord;
}

function clientAccount(name: string, role: "events" | "observer" = "events") {
  return {
    username: name,
    kind: "client",
    role,
    password_hash: `scrypt$hash-of-${name}`,
    created_at: T0 + 1,
  } satisfies AccountRecord;
}

function token(name: string, role: "admin" | "read" = "read"): TokenRecord {
  return { name, role, digest: `digest-of-${name}`, created_at: T0 + 2 };
}

function fixAt(vehicleId: string, s: number): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34.05,
    longitude: -118.24,
    ts: T0 + s * 1000,
    ts_given: true,
  };
}

/** Stores two fixes of the vehicle with an event for the second, and its state. */
async function history(store: Store, vehicleId: string): Promise<void> {
  const fixes = [fixAt(vehicleId, 1), fixAt(vehicleId, 2)];
  const last = fixes[1] as Fix;
  await ingest(store, fixes, () => ({
    vehicles: [
      { vehicle_id: vehicleId, state: { last_ts: last.ts, inside: new Map() }, last_fix: last },
    ],
    events: [buildEvent({ type: "enter", geofence_id: "fence-a" }, last, "a", last.ts + 1)],
  }));
}

/** Registers the accounts-and-tokens rows of the contract; `store()` is the store under test. */
export function accountsContract(store: () => Store): void {
  describe("accounts and tokens", () => {
    it("registers a vehicle: its account, and the vehicle with its name and no fix", async () => {
      const s = store();
      expect(await s.accounts.registerVehicle(vehicleAccount("truck-01"), "Truck one")).toBe(true);
      expect(await s.accounts.getAccount("truck-01")).toEqual(vehicleAccount("truck-01"));
      const vehicle = await s.getVehicle("truck-01");
      expect(vehicle).toMatchObject({ id: "truck-01", name: "Truck one", last_fix: null });
      expect(vehicle?.status).toBe("unknown");
      expect(vehicle?.state.inside.size).toBe(0);
      expect((await s.listVehicles({ limit: 10 })).map((v) => v.id)).toEqual(["truck-01"]);
    });

    it("refuses a second registration of a vehicle and keeps the first", async () => {
      const s = store();
      expect(await s.accounts.registerVehicle(vehicleAccount("v1", "scrypt$first"), "first")).toBe(
        true,
      );
      expect(
        await s.accounts.registerVehicle(vehicleAccount("v1", "scrypt$second"), "second"),
      ).toBe(false);
      expect((await s.accounts.getAccount("v1"))?.password_hash).toBe("scrypt$first");
      expect((await s.getVehicle("v1"))?.name).toBe("first");
    });

    it("registers a vehicle already seen, keeping its state and last fix", async () => {
      const s = store();
      await history(s, "v1");
      const before = await s.getVehicle("v1");
      expect(before?.name).toBeUndefined();
      expect(await s.accounts.registerVehicle(vehicleAccount("v1"), null)).toBe(true);
      expect(await s.getVehicle("v1")).toEqual(before);
    });

    it("keeps usernames unique across vehicles and clients, and clients off seen vehicles' ids", async () => {
      const s = store();
      expect(await s.accounts.createClientAccount(clientAccount("dash", "observer"))).toBe(true);
      expect(await s.accounts.getAccount("dash")).toEqual(clientAccount("dash", "observer"));
      expect(await s.accounts.createClientAccount(clientAccount("dash"))).toBe(false);
      expect(await s.accounts.registerVehicle(vehicleAccount("dash"), null)).toBe(false);
      expect(await s.getVehicle("dash")).toBeNull();

      await s.accounts.registerVehicle(vehicleAccount("v1"), null);
      expect(await s.accounts.createClientAccount(clientAccount("v1"))).toBe(false);
      await s.setVehicleStatus("v2", "online", T0);
      expect(await s.accounts.createClientAccount(clientAccount("v2"))).toBe(false);
      expect(await s.accounts.getAccount("v2")).toBeNull();
    });

    it("lists accounts of one kind in username order, a page at a time", async () => {
      const s = store();
      for (const name of ["c", "a", "b"]) await s.accounts.createClientAccount(clientAccount(name));
      await s.accounts.registerVehicle(vehicleAccount("aa"), null);
      const names = async (page: { limit: number; after?: string }) =>
        (await s.accounts.listAccounts("client", page)).map((a) => a.username);
      expect(await names({ limit: 2 })).toEqual(["a", "b"]);
      expect(await names({ limit: 2, after: "b" })).toEqual(["c"]);
      expect(await s.accounts.listAccounts("vehicle", { limit: 10 })).toEqual([
        vehicleAccount("aa"),
      ]);
    });

    it("replaces a password hash, and deletes an account only of the kind named", async () => {
      const s = store();
      await s.accounts.createClientAccount(clientAccount("dash"));
      expect(await s.accounts.setAccountPassword("dash", "scrypt$new")).toBe(true);
      expect((await s.accounts.getAccount("dash"))?.password_hash).toBe("scrypt$new");
      expect(await s.accounts.setAccountPassword("nobody", "scrypt$new")).toBe(false);
      expect(await s.accounts.deleteAccount("dash", "vehicle")).toBe(false);
      expect(await s.accounts.deleteAccount("dash", "client")).toBe(true);
      expect(await s.accounts.getAccount("dash")).toBeNull();
      expect(await s.accounts.deleteAccount("dash", "client")).toBe(false);
    });

    it("deletes a vehicle's account and row, keeping its history unless purged", async () => {
      const s = store();
      await history(s, "v1");
      await s.accounts.registerVehicle(vehicleAccount("v1"), "one");
      expect(await s.accounts.deleteVehicle("v1", false)).toBe(true);
      expect(await s.accounts.getAccount("v1")).toBeNull();
      expect(await s.getVehicle("v1")).toBeNull();
      expect(await s.vehicleStates()).toEqual(new Map());
      expect(await s.locations("v1", { limit: 10 })).toHaveLength(2);
      expect(await s.events({ vehicle_id: "v1", limit: 10 })).toHaveLength(1);
      expect(await s.accounts.deleteVehicle("v1", false)).toBe(false);
    });

    it("purges a vehicle's fixes, events and state, and nobody else's", async () => {
      const s = store();
      await history(s, "v1");
      await history(s, "v2");
      await s.accounts.registerVehicle(vehicleAccount("v1"), null);
      expect(await s.accounts.deleteVehicle("v1", true)).toBe(true);
      expect(await s.getVehicle("v1")).toBeNull();
      expect(await s.locations("v1", { limit: 10 })).toEqual([]);
      expect(await s.events({ vehicle_id: "v1", limit: 10 })).toEqual([]);
      expect(await s.newestFixTs(["v1"])).toEqual(new Map());
      // A purged fix is no longer stored: sent again, it is stored again.
      expect(await s.storedFixes([{ vehicle_id: "v1", ts: T0 + 1000, seq: null }])).toEqual([
        false,
      ]);
      expect(await s.locations("v2", { limit: 10 })).toHaveLength(2);
      expect(await s.events({ vehicle_id: "v2", limit: 10 })).toHaveLength(1);
      expect(await s.getVehicle("v2")).not.toBeNull();
      expect(await s.accounts.deleteVehicle("v1", true)).toBe(false);
      expect(await s.accounts.deleteVehicle("never-seen", true)).toBe(false);
    });

    it("stores tokens by name and digest, and finds them by digest", async () => {
      const s = store();
      expect(await s.accounts.createToken(token("ci", "admin"))).toBe(true);
      expect(await s.accounts.createToken(token("map"))).toBe(true);
      expect(await s.accounts.createToken({ ...token("ci"), digest: "other" })).toBe(false);
      expect(await s.accounts.createToken({ ...token("other"), digest: "digest-of-ci" })).toBe(
        false,
      );
      expect(await s.accounts.tokenByDigest("digest-of-ci")).toEqual(token("ci", "admin"));
      expect(await s.accounts.tokenByDigest("digest-of-nobody")).toBeNull();
      expect(await s.accounts.listTokens({ limit: 1 })).toEqual([token("ci", "admin")]);
      expect(await s.accounts.listTokens({ limit: 10, after: "ci" })).toEqual([token("map")]);
      expect(await s.accounts.deleteToken("ci")).toBe(true);
      expect(await s.accounts.tokenByDigest("digest-of-ci")).toBeNull();
      expect(await s.accounts.deleteToken("ci")).toBe(false);
    });
  });
}

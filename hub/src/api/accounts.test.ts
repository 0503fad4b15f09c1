// The identity routes over a real SQLite store: vehicle registration and credentials, MQTT client
// accounts, REST tokens and their roles (CONTRACT §3, §5).

import type { Fix } from "@locus/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ingest } from "../ingest/test-support.ts";
import { call, errorMessage, startApi, type TestApi } from "./test-support.ts";

const T0 = Date.UTC(2026, 10, 24, 20);
let t: TestApi;

beforeEach(async () => {
  t = await startApi();
});
afterEach(async () => {
  await t.close();
});

const login = (username: string, password: string) =>
  t.deps.accounts.authenticate(username, Buffer.from(password, "utf8"));

function fix(vehicleId: string, i: number): Fix {
  return {
    vehicle_id: vehicleId,
    latitude: 34,
    longitude: -118,
    ts: T0 + i * 1000,
    ts_given: true,
    seq: i,
  };
}

async function storeFixes(vehicleId: string): Promise<void> {
  const fixes = [fix(vehicleId, 1), fix(vehicleId, 2)];
  await ingest(t.store, fixes, () => ({
    vehicles: [
      {
        vehicle_id: vehicleId,
        state: { last_ts: T0 + 2000, inside: new Map() },
        last_fix: fixes[1] as Fix,
      },
    ],
    events: [],
  }));
}

async function register(id: string, name?: string) {
  const response = await call(t.app, "POST", "/api/v1/vehicles", name ? { id, name } : { id });
  expect(response.statusCode).toBe(201);
  return response.json() as {
    id: string;
    name?: string;
    mqtt: { username: string; password: string };
  };
}

describe("POST /api/v1/vehicles", () => {
  it("registers a vehicle and shows its password this once", async () => {
    const response = await call(t.app, "POST", "/api/v1/vehicles", {
      id: "truck-01",
      name: "Truck",
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({
      id: "truck-01",
      name: "Truck",
      last_fix: null,
      geofences: [],
      status: "unknown",
      mqtt: { username: "truck-01", password: expect.any(String) },
    });
    const { password } = body.mqtt;
    expect(password.length).toBeGreaterThanOrEqual(22);
    expect(await login("truck-01", password)).toEqual({ kind: "vehicle", id: "truck-01" });

    const one = await call(t.app, "GET", "/api/v1/vehicles/truck-01");
    expect(one.json()).toEqual({
      id: "truck-01",
      name: "Truck",
      last_fix: null,
      geofences: [],
      status: "unknown",
    });
    const list = await call(t.app, "GET", "/api/v1/vehicles");
    expect(list.json().vehicles.map((v: { id: string }) => v.id)).toEqual(["truck-01"]);
    for (const r of [one, list]) expect(r.body).not.toContain(password);
  });

  it("registers a vehicle already reporting, keeping its last fix", async () => {
    await storeFixes("v1");
    const body = await register("v1");
    expect(body).toMatchObject({ id: "v1", last_fix: { seq: 2 } });
    expect(body.name).toBeUndefined();
  });

  it("answers 409 for a vehicle registered already, and the first password still works", async () => {
    const first = await register("v1");
    const again = await call(t.app, "POST", "/api/v1/vehicles", { id: "v1" });
    expect(errorMessage(again, 409)).toContain("/api/v1/vehicles/v1/credentials");
    expect(await login("v1", first.mqtt.password)).not.toBeNull();
  });

  it("answers 400 for an id that is not a vehicle id, a missing id, or unknown fields", async () => {
    for (const id of ["bad id", "", "a/b", "x".repeat(65), "lorry+1"]) {
      const response = await call(t.app, "POST", "/api/v1/vehicles", { id });
      expect(errorMessage(response, 400)).toContain("body/id");
    }
    expect(errorMessage(await call(t.app, "POST", "/api/v1/vehicles", {}), 400)).toContain(
      "body/id is required",
    );
    const extra = await call(t.app, "POST", "/api/v1/vehicles", { id: "v1", password: "mine" });
    expect(errorMessage(extra, 400)).toContain("body/password");
    expect(await t.store.accounts.getAccount("v1")).toBeNull();
  });
});

describe("POST /api/v1/vehicles/{id}/credentials", () => {
  it("issues a new password; the old one stops at once", async () => {
    const { mqtt } = await register("v1");
    expect(await login("v1", mqtt.password)).not.toBeNull();
    const response = await call(t.app, "POST", "/api/v1/vehicles/v1/credentials");
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({ id: "v1", mqtt: { username: "v1", password: expect.any(String) } });
    expect(body.mqtt.password).not.toBe(mqtt.password);
    expect(await login("v1", mqtt.password)).toBeNull();
    expect(await login("v1", body.mqtt.password)).not.toBeNull();
  });

  it("answers 404 for a vehicle that is not registered, even one that reports", async () => {
    await storeFixes("v2");
    for (const id of ["nobody", "v2"]) {
      const response = await call(t.app, "POST", `/api/v1/vehicles/${id}/credentials`);
      expect(errorMessage(response, 404)).toContain("POST /api/v1/vehicles");
    }
  });
});

describe("DELETE /api/v1/vehicles/{id}", () => {
  it("revokes the credentials and unlists the vehicle, keeping its history", async () => {
    await storeFixes("v1");
    const { mqtt } = await register("v1");
    const response = await call(t.app, "DELETE", "/api/v1/vehicles/v1");
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe("");
    expect(await login("v1", mqtt.password)).toBeNull();
    errorMessage(await call(t.app, "GET", "/api/v1/vehicles/v1"), 404);
    const history = await call(t.app, "GET", "/api/v1/vehicles/v1/locations");
    expect(history.json().locations).toHaveLength(2);
    errorMessage(await call(t.app, "DELETE", "/api/v1/vehicles/v1"), 404);
    // The history is still there to purge.
    expect((await call(t.app, "DELETE", "/api/v1/vehicles/v1?purge=true")).statusCode).toBe(204);
    errorMessage(await call(t.app, "GET", "/api/v1/vehicles/v1/locations"), 404);
  });

  it("with purge=true deletes its fixes too, and nobody else's", async () => {
    await storeFixes("v1");
    await storeFixes("v2");
    await register("v1");
    expect((await call(t.app, "DELETE", "/api/v1/vehicles/v1?purge=true")).statusCode).toBe(204);
    expect(await t.store.locations("v1", { limit: 10 })).toEqual([]);
    expect(await t.store.locations("v2", { limit: 10 })).toHaveLength(2);
    expect((await call(t.app, "GET", "/api/v1/vehicles")).json().vehicles).toHaveLength(1);
  });

  it("answers 404 for an unknown vehicle and 400 for a bad purge value", async () => {
    expect(errorMessage(await call(t.app, "DELETE", "/api/v1/vehicles/nobody"), 404)).toContain(
      "GET /api/v1/vehicles",
    );
    await register("v1");
    errorMessage(await call(t.app, "DELETE", "/api/v1/vehicles/v1?purge=maybe"), 400);
    expect(await t.store.accounts.getAccount("v1")).not.toBeNull();
  });
});

describe("/api/v1/clients", () => {
  it("creates a client, lists it without secrets, and deletes it", async () => {
    const created = await call(t.app, "POST", "/api/v1/clients", {
      name: "dashboard",
      role: "observer",
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toEqual({
      name: "dashboard",
      role: "observer",
      mqtt: { username: "dashboard", password: expect.any(String) },
    });
    expect(await login("dashboard", body.mqtt.password)).toEqual({
      kind: "client",
      name: "dashboard",
      role: "observer",
    });
    await call(t.app, "POST", "/api/v1/clients", { name: "alerts", role: "events" });

    const list = await call(t.app, "GET", "/api/v1/clients?limit=1");
    expect(list.statusCode).toBe(200);
    const page = list.json();
    expect(page.clients).toEqual([
      { name: "alerts", role: "events", created_at: expect.any(String) },
    ]);
    const next = await call(t.app, "GET", `/api/v1/clients?cursor=${page.next_cursor}`);
    expect(next.json()).toEqual({
      clients: [{ name: "dashboard", role: "observer", created_at: expect.any(String) }],
    });
    for (const r of [list, next]) {
      expect(r.body).not.toContain(body.mqtt.password);
      expect(r.body).not.toContain("scrypt");
    }

    expect((await call(t.app, "DELETE", "/api/v1/clients/dashboard")).statusCode).toBe(204);
    expect(await login("dashboard", body.mqtt.password)).toBeNull();
    errorMessage(await call(t.app, "DELETE", "/api/v1/clients/dashboard"), 404);
  });

  it("refuses a taken name (409), a vehicle's name (409), a bad name or role (400)", async () => {
    await call(t.app, "POST", "/api/v1/clients", { name: "alerts", role: "events" });
    const twice = await call(t.app, "POST", "/api/v1/clients", { name: "alerts", role: "events" });
    errorMessage(twice, 409);
    await register("truck-01");
    await storeFixes("truck-02");
    for (const name of ["truck-01", "truck-02"]) {
      const taken = await call(t.app, "POST", "/api/v1/clients", { name, role: "events" });
      expect(errorMessage(taken, 409)).toContain("vehicle");
    }
    const asVehicle = await call(t.app, "POST", "/api/v1/vehicles", { id: "alerts" });
    expect(errorMessage(asVehicle, 409)).toContain("client");
    const badName = await call(t.app, "POST", "/api/v1/clients", { name: "a b", role: "events" });
    expect(errorMessage(badName, 400)).toContain("body/name");
    const badRole = await call(t.app, "POST", "/api/v1/clients", { name: "x", role: "admin" });
    expect(errorMessage(badRole, 400)).toContain("body/role");
  });
});

describe("/api/v1/tokens and roles", () => {
  async function issue(name: string, role: "admin" | "read") {
    const response = await call(t.app, "POST", "/api/v1/tokens", { name, role });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({ name, role, token: expect.any(String) });
    return body.token as string;
  }
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it("issues tokens that work at once and lists them without the secret", async () => {
    const admin = await issue("ci", "admin");
    const read = await issue("map", "read");
    expect(admin).not.toBe(read);
    const list = await call(t.app, "GET", "/api/v1/tokens", undefined, as(read));
    expect(list.json()).toEqual({
      tokens: [
        { name: "ci", role: "admin", created_at: expect.any(String) },
        { name: "map", role: "read", created_at: expect.any(String) },
      ],
    });
    expect(list.body).not.toContain(admin);
    expect(list.body).not.toContain(read);
    const byAdmin = await call(t.app, "POST", "/api/v1/vehicles", { id: "v1" }, as(admin));
    expect(byAdmin.statusCode).toBe(201);
  });

  it("lets a read token only GET and HEAD: anything else is 403", async () => {
    const read = await issue("map", "read");
    expect((await call(t.app, "GET", "/api/v1/vehicles", undefined, as(read))).statusCode).toBe(
      200,
    );
    expect((await call(t.app, "HEAD", "/api/v1/vehicles", undefined, as(read))).statusCode).toBe(
      200,
    );
    expect((await call(t.app, "GET", "/metrics", undefined, as(read))).statusCode).toBe(200);
    const refusals = [
      await call(t.app, "POST", "/api/v1/vehicles", { id: "v1" }, as(read)),
      await call(t.app, "POST", "/api/v1/tokens", { name: "mine", role: "admin" }, as(read)),
      await call(t.app, "DELETE", "/api/v1/tokens/map", undefined, as(read)),
      await call(t.app, "DELETE", "/api/v1/geofences/x", undefined, as(read)),
    ];
    for (const response of refusals) expect(errorMessage(response, 403)).toContain("admin token");
    expect(await t.store.accounts.getAccount("v1")).toBeNull();
    expect(await t.store.accounts.listTokens({ limit: 10 })).toHaveLength(1);
  });

  it("stops a deleted token at once (401), and keeps the configured token undeletable", async () => {
    const admin = await issue("ci", "admin");
    expect((await call(t.app, "DELETE", "/api/v1/tokens/ci")).statusCode).toBe(204);
    const after = await call(t.app, "GET", "/api/v1/vehicles", undefined, as(admin));
    expect(errorMessage(after, 401)).toContain("wrong bearer token");
    errorMessage(await call(t.app, "DELETE", "/api/v1/tokens/ci"), 404);
    expect((await call(t.app, "GET", "/api/v1/tokens")).json()).toEqual({ tokens: [] });
  });

  it("refuses a taken name (409), a bad role (400), and requests without a token (401)", async () => {
    await issue("ci", "read");
    errorMessage(await call(t.app, "POST", "/api/v1/tokens", { name: "ci", role: "admin" }), 409);
    const badRole = await call(t.app, "POST", "/api/v1/tokens", { name: "x", role: "root" });
    expect(errorMessage(badRole, 400)).toContain("body/role");
    for (const [method, url] of [
      ["GET", "/api/v1/tokens"],
      ["POST", "/api/v1/tokens"],
      ["GET", "/api/v1/clients"],
      ["POST", "/api/v1/vehicles"],
      ["DELETE", "/api/v1/vehicles/v1"],
    ] as const) {
      const response = await t.app.inject({ method, url });
      errorMessage(response, 401);
    }
  });
});

describe("a broker that cannot hold accounts", () => {
  it("answers 501 to the credential endpoints, naming what it lacks; the rest works", async () => {
    await t.close();
    t = await startApi({}, { brokerLacks: "the broker has no dynamic security plugin" });
    await storeFixes("v1");
    const refusals = [
      await call(t.app, "POST", "/api/v1/vehicles", { id: "v2" }),
      await call(t.app, "POST", "/api/v1/vehicles/v1/credentials"),
      await call(t.app, "POST", "/api/v1/clients", { name: "alerts", role: "events" }),
    ];
    for (const response of refusals) {
      expect(errorMessage(response, 501)).toContain("no dynamic security plugin");
    }
    expect(await t.store.accounts.listAccounts("vehicle", { limit: 10 })).toEqual([]);
    expect(
      (await call(t.app, "POST", "/api/v1/tokens", { name: "t", role: "read" })).statusCode,
    ).toBe(201);
    expect((await call(t.app, "DELETE", "/api/v1/vehicles/v1")).statusCode).toBe(204);
  });
});

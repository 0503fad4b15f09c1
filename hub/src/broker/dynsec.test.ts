// The hub's accounts on a real Mosquitto with its dynamic security plugin and the committed
// production config: what each principal may publish and subscribe to, rotation and removal
// cutting live sessions, concurrency, restarts, and an account that cannot manage the broker.
// mqtt.js and the real mosquitto_pub/mosquitto_sub/mosquitto_ctrl check it.

import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasProductionMosquitto,
  type RepoMosquitto,
  startRepoMosquitto,
} from "../../../tests/support/broker.ts";
import { waitFor } from "../../../tests/support/hub-process.ts";
import { openBrokerAccounts } from "./broker-accounts-factory.ts";
import { DynamicSecurity, DynsecError } from "./dynsec.ts";
import { DynsecClient } from "./dynsec-client.ts";
import { Clients, closed, inbox, subscribeCodes } from "./dynsec-test-clients.ts";

const run = promisify(execFile);
const HUB = { username: "locus-hub", password: "hub-secret-1" };
const STUCK_MS = 20_000;
const hasMosquitto = hasProductionMosquitto();

describe.runIf(hasMosquitto)("DynamicSecurity on the production Mosquitto", () => {
  let broker: RepoMosquitto;
  let accounts: DynamicSecurity;
  const clients = new Clients(() => broker.url);

  beforeAll(async () => {
    broker = await startRepoMosquitto({ users: { [HUB.username]: HUB.password } });
    accounts = await DynamicSecurity.connect({
      url: broker.url,
      ...HUB,
      clientId: "locus-hub-accounts",
      allowAnonymous: false,
    });
    await accounts.ensureRoles();
    await accounts.upsert("truck-1", "truck-1-pw", { kind: "vehicle", id: "truck-1" });
    await accounts.upsert("truck-2", "truck-2-pw", { kind: "vehicle", id: "truck-2" });
    await accounts.upsert("dash", "dash-pw", { kind: "client", name: "dash", role: "events" });
    await accounts.upsert("map", "map-pw", { kind: "client", name: "map", role: "observer" });
  });

  afterAll(async () => {
    clients.endAll();
    await accounts?.close();
    await broker?.stop();
  });

  it("can manage the broker, and a second ensureRoles changes nothing (no session is cut)", async () => {
    expect(await accounts.probe()).toEqual({ manageable: true });
    const observer = await clients.login("map", "map-pw");
    let cut = false;
    observer.once("close", () => {
      cut = true;
    });
    await accounts.ensureRoles();
    // Ordered after ensureRoles' commands: had a role changed, the cut would have come first.
    await accounts.upsert("late", "late-pw", { kind: "vehicle", id: "late" });
    expect(await subscribeCodes(observer, ["locus/geofence/events"])).toEqual([1]);
    expect(cut).toBe(false);
  });

  it("keeps a vehicle to publishing its own fixes and status", async () => {
    const hub = await clients.login(HUB.username, HUB.password);
    const hubGot = inbox(hub);
    await hub.subscribeAsync(["locus/vehicles/+/location", "locus/vehicles/+/status"], { qos: 1 });
    const events = await clients.login("dash", "dash-pw");
    const eventsGot = inbox(events);
    await events.subscribeAsync("locus/geofence/events", { qos: 1 });

    const truck5 = await clients.login("truck-1", "truck-1-pw");
    for (const topic of ["locus/vehicles/truck-2/location", "locus/geofence/events", "other/x"]) {
      await expect(truck5.publishAsync(topic, "forged-5", { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed/i,
      );
    }
    // MQTT 3.1.1 cannot say no: the forgery is acknowledged and dropped.
    const truck3 = await clients.login("truck-1", "truck-1-pw", { protocolVersion: 4 });
    await truck3.publishAsync("locus/vehicles/truck-2/location", "forged-3", { qos: 1 });
    await truck3.publishAsync("locus/geofence/events", "forged-event", { qos: 1 });
    // The real mosquitto_pub, as truck-2, under truck-1's name.
    await run("mosquitto_pub", [
      ...["-h", "127.0.0.1", "-p", String(broker.port), "-u", "truck-2", "-P", "truck-2-pw"],
      ...["-q", "1", "-t", "locus/vehicles/truck-1/location", "-m", "forged-cli"],
    ]).catch(() => {});
    // Its own topics work; sent after the forgeries, so once these arrive those would have.
    await truck3.publishAsync("locus/vehicles/truck-1/status", "online", { qos: 1 });
    await truck5.publishAsync("locus/vehicles/truck-1/location", "own", { qos: 1 });
    await waitFor(() => (hubGot.some((m) => m.payload === "own") ? true : undefined), STUCK_MS);
    expect(hubGot).toEqual([
      { topic: "locus/vehicles/truck-1/status", payload: "online" },
      { topic: "locus/vehicles/truck-1/location", payload: "own" },
    ]);
    await hub.publishAsync("locus/geofence/events", "real-event", { qos: 1 });
    await waitFor(() => (eventsGot.length > 0 ? true : undefined), STUCK_MS);
    expect(eventsGot.map((m) => m.payload)).toEqual(["real-event"]);
  });

  it("lets a vehicle subscribe to its own topics only", async () => {
    const truck = await clients.login("truck-1", "truck-1-pw");
    expect(
      await subscribeCodes(truck, [
        "locus/vehicles/truck-1/#",
        "locus/vehicles/truck-1/location",
        "owntracks/truck-1/#",
      ]),
    ).toEqual([1, 1, 1]);
    const refused = await subscribeCodes(truck, [
      "locus/vehicles/truck-2/#",
      "locus/vehicles/+/location",
      "locus/geofence/events",
      "owntracks/truck-2/#",
      "#",
    ]);
    for (const code of refused) expect(code).toBeGreaterThanOrEqual(128);
    // The real mosquitto_sub says so when every subscription is denied.
    const cli = async (topic: string) =>
      (
        await run("mosquitto_sub", [
          ...["-h", "127.0.0.1", "-p", String(broker.port), "-u", "truck-2", "-P", "truck-2-pw"],
          ...["-t", topic, "-E", "-W", "10"],
        ])
      ).stderr;
    expect(await cli("locus/vehicles/truck-1/#")).toMatch(/All subscription requests were denied/);
    expect(await cli("locus/vehicles/truck-2/#")).toBe("");
  });

  it("lets an events client subscribe to events only, an observer also to fixes and status; neither publishes", async () => {
    const events = await clients.login("dash", "dash-pw");
    expect(await subscribeCodes(events, ["locus/geofence/events"])).toEqual([1]);
    for (const code of await subscribeCodes(events, [
      "locus/vehicles/+/location",
      "locus/vehicles/+/status",
      "#",
    ])) {
      expect(code).toBeGreaterThanOrEqual(128);
    }
    const observer = await clients.login("map", "map-pw");
    expect(
      await subscribeCodes(observer, [
        "locus/geofence/events",
        "locus/vehicles/+/location",
        "locus/vehicles/+/status",
        "locus/vehicles/truck-1/location",
      ]),
    ).toEqual([1, 1, 1, 1]);
    for (const code of await subscribeCodes(observer, [
      "locus/vehicles/#",
      "owntracks/#",
      "#",
      "$CONTROL/dynamic-security/v1/response",
    ])) {
      expect(code).toBeGreaterThanOrEqual(128);
    }
    for (const client of [events, observer]) {
      for (const topic of [
        "locus/geofence/events",
        "locus/vehicles/truck-1/location",
        "$CONTROL/dynamic-security/v1",
      ]) {
        await expect(client.publishAsync(topic, "{}", { qos: 1 })).rejects.toThrow(
          /not authori[sz]ed/i,
        );
      }
    }
  });

  it("on rotation refuses the old password and cuts its live session at once", async () => {
    await accounts.upsert("truck-r", "old-pw", { kind: "vehicle", id: "truck-r" });
    const live = await clients.login("truck-r", "old-pw");
    const cut = closed(live);
    await accounts.upsert("truck-r", "new-pw", { kind: "vehicle", id: "truck-r" });
    await cut;
    await expect(clients.login("truck-r", "old-pw")).rejects.toThrow(/not authori[sz]ed|bad user/i);
    const renewed = await clients.login("truck-r", "new-pw");
    await renewed.publishAsync("locus/vehicles/truck-r/location", "{}", { qos: 1 });
    // The CLI too: the old password is refused (exit code 5: not authorised).
    await expect(
      run("mosquitto_sub", [
        ...["-h", "127.0.0.1", "-p", String(broker.port), "-u", "truck-r", "-P", "old-pw"],
        ...["-t", "locus/vehicles/truck-r/#", "-E", "-W", "10"],
      ]),
    ).rejects.toMatchObject({ code: 5 });
  });

  it("on removal cuts the live session and refuses the account; removing again is harmless", async () => {
    await accounts.upsert("truck-x", "x-pw", { kind: "vehicle", id: "truck-x" });
    const live = await clients.login("truck-x", "x-pw");
    const cut = closed(live);
    await accounts.remove("truck-x");
    await cut;
    await expect(clients.login("truck-x", "x-pw")).rejects.toThrow(/not authori[sz]ed|bad user/i);
    await accounts.remove("truck-x");
    await accounts.remove("never-existed");
  });

  it("turns a vehicle account into a client account, with the rights following", async () => {
    await accounts.upsert("shifty", "s-pw", { kind: "vehicle", id: "shifty" });
    await accounts.upsert("shifty", "s-pw-2", { kind: "client", name: "shifty", role: "events" });
    const asClient = await clients.login("shifty", "s-pw-2");
    await expect(
      asClient.publishAsync("locus/vehicles/shifty/location", "{}", { qos: 1 }),
    ).rejects.toThrow(/not authori[sz]ed/i);
    expect(await subscribeCodes(asClient, ["locus/geofence/events"])).toEqual([1]);
    // Its vehicle role is gone with it.
    const raw = await DynsecClient.connect({
      url: broker.url,
      ...HUB,
      clientId: "locus-hub-raw-2",
      timeoutMs: 5000,
      connectTimeoutMs: 5000,
    });
    try {
      const [role] = await raw.request([{ command: "getRole", rolename: "locus-vehicle-shifty" }]);
      expect(role?.error).toMatch(/not found/i);
    } finally {
      await raw.close();
    }
  });

  it("refuses anonymous clients (allow_anonymous false) and never touches the hub's own account", async () => {
    await expect(clients.connect()).rejects.toThrow(/not authori[sz]ed/i);
    await expect(
      accounts.upsert(HUB.username, "x", { kind: "client", name: HUB.username, role: "events" }),
    ).rejects.toThrow(/hub's own account/);
    await expect(accounts.remove(HUB.username)).rejects.toThrow(/hub's own account/);
    await expect(accounts.upsert("bad/id", "x", { kind: "vehicle", id: "bad/id" })).rejects.toThrow(
      /not a vehicle id/,
    );
  });

  it("serves devices over TLS on the second listener with the same accounts", async () => {
    const hub = await clients.login(HUB.username, HUB.password);
    const hubGot = inbox(hub);
    await hub.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
    await run("mosquitto_pub", [
      ...["-h", "127.0.0.1", "-p", String(broker.tlsPort), "--cafile", broker.ca],
      ...["-u", "truck-2", "-P", "truck-2-pw", "-q", "1"],
      ...["-t", "locus/vehicles/truck-2/location", "-m", "over-tls"],
    ]);
    await waitFor(() => (hubGot.length > 0 ? true : undefined), STUCK_MS);
    expect(hubGot.map((m) => m.payload)).toEqual(["over-tls"]);
    const tls = await mqtt
      .connectAsync(broker.tlsUrl, {
        ca: fs.readFileSync(broker.ca),
        username: "truck-2",
        password: "wrong",
        reconnectPeriod: 0,
      })
      .catch((e: unknown) => e);
    expect(String(tls)).toMatch(/not authori[sz]ed/i);
  });

  it("surfaces the plugin's own error text", async () => {
    const client = await DynsecClient.connect({
      url: broker.url,
      ...HUB,
      clientId: "locus-hub-raw",
      timeoutMs: 5000,
      connectTimeoutMs: 5000,
    });
    try {
      const [answer] = await client.request([{ command: "getClient", username: "nobody" }]);
      expect(answer?.error).toMatch(/not found/i);
    } finally {
      await client.close();
    }
  });

  it("matches answers to concurrent commands, ignoring answers to another administrator", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `fleet-${i}`);
    // mosquitto_ctrl, meanwhile, on the same answer topic. It takes the first answer there,
    // whoever it was for, so only its exit code is checked; the hub must not be confused.
    await Promise.all([
      Promise.all(ids.map((id) => accounts.upsert(id, `${id}-pw`, { kind: "vehicle", id }))),
      ...[1, 2, 3].map(() =>
        run("mosquitto_ctrl", [
          ...["-h", "127.0.0.1", "-p", String(broker.port), "-u", HUB.username, "-P", HUB.password],
          ...["dynsec", "listClients"],
        ]),
      ),
    ]);
    for (const id of ids) {
      const c = await clients.login(id, `${id}-pw`);
      await c.publishAsync(`locus/vehicles/${id}/location`, "{}", { qos: 1 });
      c.end(true);
    }
  });

  it("keeps managing the broker after it restarts", async () => {
    await broker.restart();
    await accounts.upsert("after-restart", "ar-pw", { kind: "vehicle", id: "after-restart" });
    const c = await clients.login("after-restart", "ar-pw");
    await c.publishAsync("locus/vehicles/after-restart/location", "{}", { qos: 1 });
    expect(await accounts.probe()).toEqual({ manageable: true });
  });

  it("finds the broker unmanageable with an account that is not the hub's", async () => {
    const err = await DynamicSecurity.connect({
      url: broker.url,
      username: "truck-1",
      password: "truck-1-pw",
      clientId: "not-the-hub",
      allowAnonymous: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynsecError);
    expect((err as DynsecError).reason).toBe("refused");
    const opened = await openBrokerAccounts(
      { url: broker.url, username: "truck-1", password: "truck-1-pw", clientId: "not-the-hub" },
      { allowAnonymous: false },
    );
    expect(opened.accounts).toBeNull();
    expect(opened.unmanaged).toMatch(/\$CONTROL\/dynamic-security/);
  });
});

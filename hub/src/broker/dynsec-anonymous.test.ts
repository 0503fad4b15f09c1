// The hub's anonymous policy on a Mosquitto that lets clients without credentials in (its
// accounts file as `mosquitto_ctrl dynsec init` makes it, so the hub also gives itself its role),
// and a broker without the dynamic security plugin, which the hub finds it cannot manage.

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasProductionMosquitto,
  type Mosquitto,
  startMosquitto,
} from "../../../tests/support/broker.ts";
import { tempDir, waitFor } from "../../../tests/support/hub-process.ts";
import { openBrokerAccounts } from "./broker-accounts-factory.ts";
import { DynamicSecurity } from "./dynsec.ts";
import { Clients, inbox, subscribeCodes } from "./dynsec-test-clients.ts";

const run = promisify(execFile);
const HUB = { username: "locus-hub", password: "hub-secret-1" };
const STUCK_MS = 20_000;
const hasMosquitto = hasProductionMosquitto();
let nextId = 0;

describe.runIf(hasMosquitto)("DynamicSecurity on a broker that lets anonymous clients in", () => {
  let broker: Mosquitto;
  const clients = new Clients(() => broker.url);
  const opened: DynamicSecurity[] = [];

  beforeAll(async () => {
    // The plugin's file as `mosquitto_ctrl dynsec init` makes it: the hub is an admin without
    // the locus-hub role, which ensureRoles then gives it.
    const dir = tempDir("locus-dynsec-anon-");
    fs.chmodSync(dir, 0o777);
    const file = path.join(dir, "dynamic-security.json");
    await run("mosquitto_ctrl", ["dynsec", "init", file, HUB.username, HUB.password]);
    fs.chmodSync(file, 0o666);
    const plugin = fs.readFileSync(
      path.join(import.meta.dirname, "../../../infra/mosquitto/mosquitto.conf"),
      "utf8",
    );
    expect(plugin).toMatch(/^plugin \S+mosquitto_dynamic_security\.so$/m);
    broker = await startMosquitto({
      settings: [
        "allow_anonymous true",
        `plugin ${["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]
          .map((d) => `${d}/mosquitto_dynamic_security.so`)
          .find((p) => fs.existsSync(p))}`,
        `plugin_opt_config_file ${file}`,
        "persistence false",
        "log_dest stderr",
        "log_type error",
      ],
    });
  });

  afterAll(async () => {
    clients.endAll();
    for (const a of opened) await a.close();
    await broker?.stop();
  });

  async function manage(allowAnonymous: boolean): Promise<DynamicSecurity> {
    const accounts = await DynamicSecurity.connect({
      url: broker.url,
      ...HUB,
      clientId: `locus-hub-accounts-${nextId++}`,
      allowAnonymous,
    });
    opened.push(accounts);
    await accounts.ensureRoles();
    return accounts;
  }

  it("gives the hub its role, and anonymous clients fixes and status for any vehicle, and events", async () => {
    const accounts = await manage(true);
    await accounts.upsert("v-1", "v-1-pw", { kind: "vehicle", id: "v-1" });
    const hub = await clients.login(HUB.username, HUB.password);
    const hubGot = inbox(hub);
    await hub.subscribeAsync(["locus/vehicles/+/location", "owntracks/#"], { qos: 1 });
    // The role ensureRoles added: the hub may publish events.
    await hub.publishAsync("locus/geofence/events", "{}", { qos: 1 });

    const anon = await clients.connect();
    await anon.publishAsync("locus/vehicles/v-1/location", "anon-fix", { qos: 1 });
    await anon.publishAsync("locus/vehicles/v-9/status", "online", { qos: 1 });
    await anon.publishAsync("owntracks/v-1/phone", "{}", { qos: 1 });
    for (const topic of ["locus/geofence/events", "locus/vehicles/v-1/other", "owntracks/a/b/c"]) {
      await expect(anon.publishAsync(topic, "x", { qos: 1 })).rejects.toThrow(/not authori[sz]ed/i);
    }
    expect(await subscribeCodes(anon, ["locus/geofence/events"])).toEqual([1]);
    for (const code of await subscribeCodes(anon, ["locus/vehicles/+/location", "#"])) {
      expect(code).toBeGreaterThanOrEqual(128);
    }
    await waitFor(() => (hubGot.length >= 2 ? true : undefined), STUCK_MS);
    expect(hubGot.map((m) => m.topic)).toEqual([
      "locus/vehicles/v-1/location",
      "owntracks/v-1/phone",
    ]);
  });

  it("takes every right from anonymous clients when the policy forbids them", async () => {
    await manage(false);
    const anon = await clients.connect();
    await expect(anon.publishAsync("locus/vehicles/v-1/location", "x", { qos: 1 })).rejects.toThrow(
      /not authori[sz]ed/i,
    );
    for (const code of await subscribeCodes(anon, ["locus/geofence/events"])) {
      expect(code).toBeGreaterThanOrEqual(128);
    }
  });
});

describe.runIf(hasMosquitto)("a broker without the dynamic security plugin", () => {
  let broker: Mosquitto;

  beforeAll(async () => {
    broker = await startMosquitto();
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it("is found unmanageable: nobody answers the commands", async () => {
    const opened = await openBrokerAccounts(
      { url: broker.url, username: null, password: null, clientId: "locus-hub" },
      { allowAnonymous: false, timeoutMs: 1000 },
    );
    expect(opened.accounts).toBeNull();
    expect(opened.unmanaged).toMatch(/no answer.*dynamic security plugin/i);
  });
});

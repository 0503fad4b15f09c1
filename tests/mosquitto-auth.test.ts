// The production broker as committed: infra/mosquitto/mosquitto.conf run with only its listeners,
// plugin path and directories changed, and infra/mosquitto/start.sh, which checks the data
// directory and the certificate and makes the accounts file with the hub's account. What each
// account may do is tested with the hub's account management (hub/src/broker/dynsec.test.ts).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DYNSEC_TOPIC } from "../hub/src/broker/dynsec-client.ts";
import { HUB_ACLS, sameAcls } from "../hub/src/broker/dynsec-roles.ts";
import {
  hasProductionMosquitto,
  INFRA_MOSQUITTO,
  type RepoMosquitto,
  renderRepoMosquittoConf,
  repoDirs,
  runStartCheck,
  startRepoMosquitto,
} from "./support/broker.ts";

const USERS = {
  "locus-hub": "hub-secret-1",
  "locus-events": "events-secret-1",
  "truck-1": "truck-1-secret",
};
type User = keyof typeof USERS;

const hasMosquitto = hasProductionMosquitto();

/** The accounts file's template, as JSON once its placeholders are filled. */
function template(): { roles: { rolename: string; acls: [] }[]; clients: { roles: unknown }[] } {
  const text = fs
    .readFileSync(path.join(INFRA_MOSQUITTO, "dynamic-security.template.json"), "utf8")
    .replace('"@ITERATIONS@"', "101");
  return JSON.parse(text);
}

describe("the accounts file's template", () => {
  it("gives the hub exactly the rights the hub keeps in the broker, and no password", () => {
    const t = template();
    expect(t.roles.map((r) => r.rolename)).toEqual(["locus-hub"]);
    expect(sameAcls(t.roles[0]?.acls ?? [], HUB_ACLS)).toBe(true);
    expect(t.clients[0]?.roles).toEqual([{ rolename: "locus-hub" }]);
    const text = fs.readFileSync(
      path.join(INFRA_MOSQUITTO, "dynamic-security.template.json"),
      "utf8",
    );
    expect(text).toContain('"password": "@PASSWORD_HASH@"');
  });
});

describe.runIf(hasMosquitto)("Mosquitto with the committed production config", () => {
  let broker: RepoMosquitto;
  const clients: MqttClient[] = [];

  async function connect(user: User | null, extra: IClientOptions = {}): Promise<MqttClient> {
    const credentials = user === null ? {} : { username: user, password: USERS[user] };
    const client = await mqtt.connectAsync(broker.url, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      protocolVersion: 5,
      ...credentials,
      ...extra,
    });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    broker = await startRepoMosquitto({ users: USERS });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await broker?.stop();
  });

  it("runs the committed file, changing only the listeners, the plugin's path and the directories", () => {
    const committed = fs
      .readFileSync(path.join(INFRA_MOSQUITTO, "mosquitto.conf"), "utf8")
      .split("\n");
    const run = fs.readFileSync(broker.conf, "utf8").split("\n");
    expect(run).toHaveLength(committed.length);
    const changed = committed
      .map((line, i) => [line, run[i]] as const)
      .filter(([a, b]) => a !== b)
      .map(([a]) => a.split(" ")[0]);
    expect(changed.sort()).toEqual(
      [
        "certfile",
        "keyfile",
        "listener",
        "listener",
        "persistence_location",
        "plugin",
        "plugin_opt_config_file",
      ].sort(),
    );
    // The settings the docs rely on are really there.
    for (const setting of [
      "listener 1883",
      "listener 8883",
      "allow_anonymous false",
      "plugin /usr/lib/mosquitto_dynamic_security.so",
      "plugin_opt_config_file /mosquitto/data/dynamic-security.json",
      "persistence true",
      "autosave_interval 5",
      "max_queued_messages 1000000",
      "max_packet_size 300000",
    ]) {
      expect(committed).toContain(setting);
    }
    expect(committed.some((l) => /^(password_file|acl_file)\b/.test(l))).toBe(false);
  });

  it("refuses anonymous clients and wrong passwords, on both listeners", async () => {
    await expect(connect(null)).rejects.toThrow(/not authori[sz]ed/i);
    await expect(connect(null, { protocolVersion: 4 })).rejects.toThrow(/not authori[sz]ed/i);
    await expect(
      mqtt.connectAsync(broker.tlsUrl, {
        ca: fs.readFileSync(broker.ca),
        username: "truck-1",
        password: "wrong",
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/not authori[sz]ed|bad user/i);
  });

  it("gives the hub its role: reads fixes and status, publishes events, never a fix", async () => {
    const hub = await connect("locus-hub");
    const granted = await hub.subscribeAsync({
      "locus/vehicles/+/location": { qos: 1 },
      "locus/vehicles/+/status": { qos: 1 },
      "$SYS/broker/clients/connected": { qos: 0 },
    });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 0]);
    await expect(
      hub.publishAsync("locus/geofence/events", "{}", { qos: 1 }),
    ).resolves.toBeDefined();
    for (const topic of ["locus/vehicles/truck-1/location", "locus/vehicles/locus-hub/location"]) {
      await expect(hub.publishAsync(topic, "forged", { qos: 1 })).rejects.toThrow(
        /not authori[sz]ed/i,
      );
    }
    // Mosquitto's client count reaches the hub (sys_interval), as the gauge needs.
    const count = await new Promise<string>((resolve) =>
      hub.on("message", (topic, payload) => {
        if (topic.startsWith("$SYS/")) resolve(payload.toString());
      }),
    );
    expect(Number(count)).toBeGreaterThanOrEqual(1);
  });

  it("keeps the accounts across a restart, in the data directory's file", async () => {
    const saved = JSON.parse(fs.readFileSync(broker.accountsFile, "utf8"));
    expect(saved.clients.map((c: { username: string }) => c.username).sort()).toEqual(
      Object.keys(USERS).sort(),
    );
    // Hashes only.
    expect(fs.readFileSync(broker.accountsFile, "utf8")).not.toContain(USERS["truck-1"]);
    await broker.restart();
    const truck = await connect("truck-1");
    await truck.publishAsync("locus/vehicles/truck-1/location", "{}", { qos: 1 });
    // The hub's commands are answered after the restart too.
    const hub = await connect("locus-hub");
    await hub.subscribeAsync(`${DYNSEC_TOPIC}/response`, { qos: 1 });
    const answer = new Promise<string>((resolve) =>
      hub.on("message", (_t, payload) => resolve(payload.toString())),
    );
    await hub.publishAsync(
      DYNSEC_TOPIC,
      JSON.stringify({ commands: [{ command: "getClient", username: "truck-1" }] }),
      { qos: 1 },
    );
    expect(JSON.parse(await answer).responses[0].data.client.username).toBe("truck-1");
  });
});

describe.runIf(hasMosquitto)("infra/mosquitto/start.sh", () => {
  const HUB_ENV = { LOCUS_MQTT_USERNAME: "locus-hub", LOCUS_MQTT_PASSWORD: "a-real-secret" };

  function setUp(): { conf: string; dirs: ReturnType<typeof repoDirs>["dirs"] } {
    const { dirs } = repoDirs();
    const conf = path.join(dirs.config, "mosquitto.conf");
    fs.writeFileSync(conf, renderRepoMosquittoConf(1883, 8883, dirs));
    for (const f of ["fullchain.pem", "privkey.pem"]) {
      fs.writeFileSync(path.join(dirs.certs, f), "test");
      fs.chmodSync(path.join(dirs.certs, f), 0o644);
    }
    return { conf, dirs };
  }

  /** start.sh --check's exit code and what it said. */
  function check(conf: string, env: Record<string, string>): { code: number; output: string } {
    try {
      return { code: 0, output: runStartCheck(conf, env) };
    } catch (err) {
      const e = err as { status: number; stderr: string; stdout: string };
      return { code: e.status, output: `${e.stdout}${e.stderr}` };
    }
  }

  it("makes the accounts file once, with the hub's hashed password, readable by Mosquitto alone", () => {
    const { conf, dirs } = setUp();
    const first = check(conf, HUB_ENV);
    expect(first).toMatchObject({ code: 0 });
    expect(first.output).toMatch(/made .*dynamic-security\.json with the hub's account locus-hub/);
    const file = path.join(dirs.data, "dynamic-security.json");
    const text = fs.readFileSync(file, "utf8");
    expect(text).not.toContain("a-real-secret");
    const saved = JSON.parse(text);
    expect(saved.clients[0]).toMatchObject({ username: "locus-hub", iterations: 101 });
    expect(saved.clients[0].password).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // A second start leaves it alone, whatever the environment says now.
    expect(check(conf, { ...HUB_ENV, LOCUS_MQTT_PASSWORD: "another" })).toEqual({
      code: 0,
      output: "",
    });
    expect(fs.readFileSync(file, "utf8")).toBe(text);
  });

  it("refuses to make the accounts file without the hub's own password", () => {
    const { conf } = setUp();
    for (const password of ["", "change-me-hub"]) {
      const result = check(conf, { ...HUB_ENV, LOCUS_MQTT_PASSWORD: password });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/LOCUS_MQTT_PASSWORD must be set/);
    }
    expect(check(conf, { ...HUB_ENV, LOCUS_MQTT_USERNAME: "bad name" }).output).toMatch(
      /LOCUS_MQTT_USERNAME must be set/,
    );
  });

  it("says so in one line when Mosquitto could not write its data directory", (ctx) => {
    // Only root can start Mosquitto as another user; as anyone else the check is plain -w.
    if (process.getuid?.() !== 0) return ctx.skip();
    const { conf, dirs } = setUp();
    fs.chmodSync(dirs.data, 0o755); // root's, not Mosquitto's
    const result = check(conf, HUB_ENV);
    expect(result.code).toBe(1);
    expect(result.output.trim().split("\n")).toHaveLength(1);
    expect(result.output).toMatch(/cannot write its data directory/);
  });

  it("says so when the TLS certificate is missing", () => {
    const { conf, dirs } = setUp();
    fs.rmSync(path.join(dirs.certs, "privkey.pem"));
    const result = check(conf, HUB_ENV);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/cannot read the TLS keyfile .*privkey\.pem/);
  });

  it("is a POSIX shell script that the image's sh runs", () => {
    const script = path.join(INFRA_MOSQUITTO, "start.sh");
    expect(fs.statSync(script).mode & 0o111).not.toBe(0);
    execFileSync("sh", ["-n", script]);
  });
});

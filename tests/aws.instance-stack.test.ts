// The AWS instance's services as its units run them, on this machine: the certificate from
// locus-tls.sh, Mosquitto from the config mosquitto-conf.sh renders, started through start.sh
// with the environment locus-mosquitto.service gives it, and the hub with locus-hub.service's
// environment and the secrets bootstrap.sh writes (PostgreSQL with PostGIS as the store). A
// vehicle publishes over TLS trusting only the deployment CA, an event consumer gets the `enter`
// event, the API answers over HTTPS, and after both services stop and start again (what a reboot
// does) the data and the accounts are still there. What differs from the instance: loopback
// ports chosen here instead of 443/8883/1883, temp directories instead of /etc/locus and
// /var/lib/locus, and the hub from the sources instead of the bundle.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import mqtt, { type IClientOptions } from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { INSTANCE_DIR } from "../infra/aws/user-data.ts";
import { requireBinary } from "./support/binaries.ts";
import { hasProductionMosquitto } from "./support/broker.ts";
import {
  freePort,
  type HubProcess,
  startHubProcess,
  tempDir,
  waitFor,
} from "./support/hub-process.ts";
import { startPostgres, type TestPostgres } from "./support/postgres.ts";
import { YARD, yardFix } from "./support/yard.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const ready = requireBinary("openssl", "openssl") && hasProductionMosquitto();
const DYNSEC = [
  "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
  "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
].find((p) => fs.existsSync(p));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The Environment= lines of a unit, as a map. */
function unitEnvironment(unit: string): Record<string, string> {
  const text = fs.readFileSync(path.join(INSTANCE_DIR, unit), "utf8");
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm))
    env[m[1] as string] = m[2] as string;
  return env;
}

/** HTTPS to the hub trusting only `ca`. */
function request(
  url: string,
  ca: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${url}${route}`,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }),
        );
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe.skipIf(!ready || DYNSEC === undefined)(
  "the instance's services, as the units run them",
  () => {
    const root = tempDir("locus-aws-instance-");
    const tls = path.join(root, "tls");
    const config = path.join(root, "mosquitto");
    const data = path.join(root, "mosquitto-data");
    const hubData = path.join(root, "hub");
    let broker: ChildProcess | null = null;
    let hub: HubProcess | null = null;
    let pg: TestPostgres | null = null;
    const clients: mqtt.MqttClient[] = [];
    const secrets = {
      token: "aws-test-token-0123456789abcdef",
      mqtt: "HubPassword0123456789abcdefABCDEF",
    };

    afterAll(async () => {
      for (const c of clients) c.end(true);
      await hub?.stop();
      if (broker?.exitCode === null) {
        const exited = new Promise((r) => broker?.once("exit", r));
        broker.kill("SIGTERM");
        await exited;
      }
      await pg?.stop();
      fs.rmSync(root, { recursive: true, force: true });
    });

    let ports = { plain: 0, tls: 0, http: 0 };

    /** Starts Mosquitto as locus-mosquitto.service does; returns what it has logged since. */
    async function startBroker(): Promise<() => string> {
      const unit = unitEnvironment("locus-mosquitto.service");
      expect(unit.MOSQUITTO_CONF).toBe("/etc/locus/mosquitto/mosquitto.conf");
      // ExecStart, with the checkout here instead of /opt/locus/src, and its output appended to
      // a log file as StandardOutput=append: does (the file CloudWatch ships).
      const exec = /^ExecStart=(.*)$/m
        .exec(fs.readFileSync(path.join(INSTANCE_DIR, "locus-mosquitto.service"), "utf8"))?.[1]
        ?.split(" ");
      expect(exec?.slice(0, 3)).toEqual(["/usr/bin/stdbuf", "-oL", "/bin/sh"]);
      expect(exec?.[3]).toBe("/opt/locus/src/infra/mosquitto/start.sh");
      const [command, ...args] = (exec ?? []).map((a) => a.replace("/opt/locus/src", ROOT));
      const logFile = path.join(root, "mosquitto.log");
      const log = fs.openSync(logFile, "a");
      const logStart = fs.statSync(logFile).size;
      const logged = () => fs.readFileSync(logFile, "utf8").slice(logStart);
      const child = spawn(command as string, args, {
        env: {
          PATH: process.env.PATH ?? "",
          MOSQUITTO_CONF: path.join(config, "mosquitto.conf"),
          // mosquitto.env, as bootstrap.sh writes it.
          LOCUS_MQTT_USERNAME: "locus-hub",
          LOCUS_MQTT_PASSWORD: secrets.mqtt,
        },
        stdio: ["ignore", log, log],
      });
      fs.closeSync(log);
      broker = child;
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`mosquitto exited:\n${logged()}`);
          return (await accepts(ports.tls)) ? true : undefined;
        },
        20_000,
        () => `mosquitto's TLS listener:\n${logged()}`,
      );
      // Its log reaches the file while it runs, not only when it exits.
      await waitFor(
        () => (/mosquitto version \S+ running/.test(logged()) ? true : undefined),
        20_000,
        () => `mosquitto's log in ${logFile}:\n${logged()}`,
      );
      return logged;
    }

    async function startHub(): Promise<HubProcess> {
      const unit = unitEnvironment("locus-hub.service");
      expect(unit).toMatchObject({
        LOCUS_HTTP_PORT: "443",
        LOCUS_MQTT_URL: "mqtt://127.0.0.1:1883",
        LOCUS_TLS_CERT: "/etc/locus/tls/fullchain.pem",
        LOCUS_TLS_KEY: "/etc/locus/tls/privkey.pem",
      });
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(unit)) {
        env[k] = v.replace("/etc/locus/tls", tls).replace("/var/lib/locus/hub", hubData);
      }
      Object.assign(env, {
        // This machine's loopback and free ports instead of every interface and 443/1883.
        LOCUS_HTTP_HOST: "127.0.0.1",
        LOCUS_HTTP_PORT: String(ports.http),
        LOCUS_MQTT_URL: unit.LOCUS_MQTT_URL?.replace(":1883", `:${ports.plain}`) ?? "",
        // hub.env, as bootstrap.sh writes it.
        LOCUS_API_TOKEN: secrets.token,
        LOCUS_MQTT_USERNAME: "locus-hub",
        LOCUS_MQTT_PASSWORD: secrets.mqtt,
        ...(pg === null ? {} : { LOCUS_DATABASE_URL: pg.url }),
      });
      return startHubProcess({
        env,
        httpPort: ports.http,
        token: secrets.token,
        timeoutMs: 60_000,
      });
    }

    async function stopAll(): Promise<void> {
      expect(await hub?.stop("SIGTERM")).toBe(0);
      const b = broker;
      if (b?.exitCode === null) {
        const exited = new Promise((r) => b.once("exit", r));
        b.kill("SIGTERM");
        await exited;
      }
    }

    it("serves HTTPS and MQTT over TLS with the deployment CA, and keeps everything across a restart", async () => {
      // Without PostgreSQL here (startPostgres said so), the hub stores in SQLite: everything
      // else still runs as on the instance.
      pg = await startPostgres();
      ports = { plain: await freePort(), tls: await freePort(), http: await freePort() };

      // The certificate, as bootstrap.sh makes it; locus-tls is Mosquitto's group here.
      // Mosquitto drops to its own user, which must reach the directories below (as under /etc).
      fs.chmodSync(root, 0o755);
      fs.mkdirSync(tls, { mode: 0o750 });
      expect(
        execFileSync(path.join(INSTANCE_DIR, "locus-tls.sh"), ["self-signed", tls, "127.0.0.1"], {
          encoding: "utf8",
        }).trim(),
      ).toBe("changed");
      if (process.getuid?.() === 0) {
        for (const p of [tls, path.join(tls, "privkey.pem")])
          execFileSync("chgrp", ["mosquitto", p]);
      }
      const ca = fs.readFileSync(path.join(tls, "ca.pem"), "utf8");

      // Mosquitto's config, as bootstrap.sh renders it, then this machine's free ports.
      fs.mkdirSync(config);
      fs.mkdirSync(data, { mode: 0o777 });
      fs.chmodSync(data, 0o777);
      const conf = path.join(config, "mosquitto.conf");
      execFileSync(path.join(INSTANCE_DIR, "mosquitto-conf.sh"), [
        path.join(ROOT, "infra/mosquitto/mosquitto.conf"),
        conf,
        DYNSEC as string,
        config,
        data,
        tls,
      ]);
      const rendered = fs.readFileSync(conf, "utf8");
      expect(rendered).toMatch(/^listener 1883 127\.0\.0\.1$/m);
      expect(rendered).toMatch(/^listener 8883$/m);
      fs.writeFileSync(
        conf,
        rendered
          .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${ports.plain} 127.0.0.1`)
          .replace(/^listener 8883$/m, `listener ${ports.tls} 127.0.0.1`),
      );
      const firstLog = await startBroker();
      expect(firstLog()).toContain("mosquitto: made ");
      hub = await startHub();
      expect(hub.httpUrl).toMatch(/^https:/);
      const call = (method: string, route: string, body?: unknown) =>
        request(hub?.httpUrl ?? "", ca, secrets.token, method, route, body);

      expect((await call("GET", "/api/v1/health")).status).toBe(200);
      const fence = await call("POST", "/api/v1/geofences", YARD);
      expect(fence.status).toBe(201);
      const vehicle = await call("POST", "/api/v1/vehicles", { id: "aws-truck" });
      expect(vehicle.status).toBe(201);
      const consumer = await call("POST", "/api/v1/clients", {
        name: "aws-dashboard",
        role: "events",
      });
      expect(consumer.status).toBe(201);

      const tlsUrl = `mqtts://127.0.0.1:${ports.tls}`;
      const connect = async (options: IClientOptions) => {
        const c = await mqtt.connectAsync(tlsUrl, {
          reconnectPeriod: 0,
          connectTimeout: 10_000,
          ...options,
        });
        clients.push(c);
        return c;
      };
      // Without the CA the server is not trusted; without credentials Mosquitto refuses.
      await expect(
        connect({ username: "aws-truck", password: vehicle.body.mqtt.password }),
      ).rejects.toThrow(/certificate/i);
      await expect(connect({ ca })).rejects.toThrow(/Not authorized|Bad username/i);

      const events = await connect({ ca, ...consumer.body.mqtt });
      const received: any[] = [];
      events.on("message", (_topic, payload) => received.push(JSON.parse(payload.toString())));
      await events.subscribeAsync("locus/geofence/events", { qos: 1 });
      const truck = await connect({
        ca,
        username: "aws-truck",
        password: vehicle.body.mqtt.password,
      });
      for (let i = 0; i < 4; i++) {
        await truck.publishAsync("locus/vehicles/aws-truck/location", JSON.stringify(yardFix(i)), {
          qos: 1,
        });
      }
      const enter = await waitFor(
        () => received.find((e) => e.type === "enter"),
        30_000,
        "the enter event",
      );
      expect(enter).toMatchObject({ vehicle_id: "aws-truck", geofence_id: fence.body.id });
      await truck.endAsync();

      // What a reboot does to the services: both stop cleanly and start again.
      await stopAll();
      const secondLog = await startBroker();
      expect(secondLog()).not.toContain("mosquitto: made "); // start.sh kept the accounts file
      hub = await startHub();
      const locations = await call("GET", "/api/v1/vehicles/aws-truck/locations?limit=100");
      expect(locations.body.locations).toHaveLength(4);
      const stored = await call(
        "GET",
        `/api/v1/events?vehicle_id=aws-truck&geofence_id=${fence.body.id}`,
      );
      expect(stored.body.events.map((e: any) => e.type)).toEqual(["enter"]);
      // The vehicle's account survived in Mosquitto's data directory.
      const again = await connect({
        ca,
        username: "aws-truck",
        password: vehicle.body.mqtt.password,
      });
      await again.publishAsync("locus/vehicles/aws-truck/location", JSON.stringify(yardFix(4)), {
        qos: 1,
      });
      await waitFor(
        async () => {
          const r = await call("GET", "/api/v1/vehicles/aws-truck/locations?limit=100");
          return r.body.locations.length === 5 ? true : undefined;
        },
        30_000,
        "the fix after the restart",
      );
    }, 240_000);
  },
);

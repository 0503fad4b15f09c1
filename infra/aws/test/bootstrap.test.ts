// The instance's first boot, run for real: user-data.sh as the stack renders it, in a fresh
// Debian root of the release the stack uses, fetching this checkout (its working tree, committed
// to a throwaway repository) and handing over to bootstrap.sh, which installs the packages,
// builds the hub, makes the certificate and starts the services. Then, from this machine: a
// vehicle publishes over MQTT with TLS trusting only the CA the instance published, an `enter`
// event arrives, the API answers over HTTPS with the admin token from the secret, and after
// every service is stopped and started again (what a reboot does to them) the data is still there.
//
// What cannot run here, and what stands in (printed by the test as well, see docs/aws.md):
// systemd is not PID 1 here, so a chroot instead of a booted instance, with fake-systemctl.sh
// doing on disk what systemctl does and starting services from their units' own lines; AWS does
// not exist here, so fake-aws.sh answers the Secrets Manager and SSM calls from files, and the
// AWS agents (downloaded from S3) are left out; this machine runs its own services on the
// standard ports, so the root's services take free loopback ports through deploy.env's port
// settings.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../../../tests/support/hub-process.ts";
import { YARD, yardFix } from "../../../tests/support/yard.ts";
import { type DeployEnv, renderUserData } from "../user-data.ts";
import {
  baseTarball,
  CACHE_DIR,
  cannotBuildRoot,
  type DebianRoot,
  makeRoot,
} from "./debian-root.ts";

const REPO = path.resolve(import.meta.dirname, "../../..");
/** The release of the stack's image (stack.ts: Debian 13). */
const RELEASE = "trixie";
const BOOTSTRAP_TIMEOUT_MS = 17 * 60_000;
const unavailable = cannotBuildRoot();
if (unavailable !== null) {
  // .ci/run installs debootstrap and runs as root: there, a missing piece fails the run.
  if (process.env.CI === "true") throw new Error(`the first-boot test cannot run: ${unavailable}`);
  log(`skipped: ${unavailable}`);
}

const NOT_RUN = [
  "systemd as PID 1: this machine's PID 1 is not systemd and systemd-nspawn is not installed, so the root is entered with chroot and fake-systemctl.sh stands in (enable/mask/is-enabled by the root's real systemctl; start/stop from the units' ExecStart, Environment, EnvironmentFile, User, Group, WorkingDirectory, StandardOutput; no sandboxing, Restart= or timers)",
  "Secrets Manager and SSM Parameter Store: no AWS here; fake-aws.sh answers get-secret-value and put-parameter from files",
  "the SSM and CloudWatch agents: downloaded from AWS's S3 buckets, unreachable here (LOCUS_WITHOUT_AWS_AGENTS=1)",
  "ports 443, 8883, 1883 and 5432 on every interface: this machine's own services hold some of them, so free loopback ports through deploy.env's port settings",
  "a real reboot: the services are stopped and started again instead",
];

function log(line: string): void {
  process.stdout.write(`[aws bootstrap] ${line}\n`);
}

/** The working tree as a commit (tracked and untracked files, .gitignore applied). */
function workingTreeCommit(): string {
  const index = path.join(fs.mkdtempSync("/tmp/locus-index-"), "index");
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", REPO, ...args], {
      encoding: "utf8",
      env: { ...process.env, GIT_INDEX_FILE: index },
    }).trim();
  try {
    git("read-tree", "HEAD");
    git("add", "-A");
    const tree = git("write-tree");
    return git(
      "-c",
      "user.name=locus-test",
      "-c",
      "user.email=test@locus.invalid",
      "commit-tree",
      tree,
      "-p",
      "HEAD",
      "-m",
      "working tree under test",
    );
  } finally {
    fs.rmSync(path.dirname(index), { recursive: true, force: true });
  }
}

function request(
  port: number,
  ca: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path: route,
        method,
        ca,
        timeout: 10_000,
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
    req.on("timeout", () => req.destroy(new Error(`${method} ${route}: no answer in 10 s`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe.skipIf(unavailable !== null)("the instance bootstrap in a fresh Debian root", () => {
  let root: DebianRoot | null = null;
  const clients: mqtt.MqttClient[] = [];
  const logFile = path.join(fs.mkdtempSync("/tmp/locus-bootstrap-log-"), "bootstrap.log");

  afterAll(async () => {
    for (const c of clients) c.end(true);
    const problems = (await root?.destroy()) ?? [];
    for (const p of problems) log(`cleanup: ${p}`);
    expect(problems).toEqual([]);
  });

  it(
    "installs, starts and serves the stack, and keeps its data across a restart",
    async () => {
      const started = Date.now();
      for (const part of NOT_RUN) log(`not run here: ${part}`);
      const tarball = baseTarball(RELEASE, log);
      // Downloads survive the root: apt's packages and npm's cache are kept beside the tarball.
      root = makeRoot(tarball, {
        [path.join(CACHE_DIR, `apt-${RELEASE}`)]: "var/cache/apt/archives",
        [path.join(CACHE_DIR, "npm")]: "var/cache/locus-npm",
      });
      const r = root;
      fs.mkdirSync(r.at("var/cache/apt/archives/partial"), { recursive: true });
      // Debian's way to keep package scripts in a chroot from starting services (they would take
      // this machine's ports); the bootstrap starts them itself.
      fs.writeFileSync(r.at("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });

      // The stand-ins, on a PATH of their own, and the secrets the stack would have generated.
      fs.mkdirSync(r.at("opt/locus-test/bin"), { recursive: true });
      fs.copyFileSync(
        path.join(import.meta.dirname, "fake-aws.sh"),
        r.at("opt/locus-test/bin/aws"),
      );
      fs.copyFileSync(
        path.join(import.meta.dirname, "fake-systemctl.sh"),
        r.at("opt/locus-test/bin/systemctl"),
      );
      fs.chmodSync(r.at("opt/locus-test/bin/aws"), 0o755);
      fs.chmodSync(r.at("opt/locus-test/bin/systemctl"), 0o755);
      const arn = (name: string) =>
        `arn:aws:secretsmanager:eu-west-1:123456789012:secret:Locus${name}-AbCdEf`;
      const secrets = {
        [arn("ApiToken")]: crypto.randomBytes(24).toString("hex"),
        [arn("Mqtt")]: crypto.randomBytes(24).toString("hex"),
        [arn("Db")]: crypto.randomBytes(24).toString("hex"),
      };
      fs.mkdirSync(r.at("opt/locus-test/aws/secrets"), { recursive: true, mode: 0o700 });
      for (const [id, value] of Object.entries(secrets)) {
        fs.writeFileSync(
          r.at(`opt/locus-test/aws/secrets/${id.replace(/[^A-Za-z0-9]/g, "_")}`),
          value,
        );
      }
      const token = secrets[arn("ApiToken")] as string;

      // The repository the instance clones: this working tree, at one commit.
      const ref = workingTreeCommit();
      execFileSync("git", ["init", "-q", "--bare", r.at("srv/locus.git")]);
      execFileSync("git", [
        "-C",
        REPO,
        "push",
        "-q",
        r.at("srv/locus.git"),
        `${ref}:refs/heads/main`,
      ]);

      const ports = {
        https: await freePort(),
        mqtts: await freePort(),
        mqtt: await freePort(),
        db: await freePort(),
      };
      const env: DeployEnv & Record<string, string> = {
        LOCUS_STACK: "Locus",
        LOCUS_REGION: "eu-west-1",
        LOCUS_REPOSITORY: "file:///srv/locus.git",
        LOCUS_REF: ref,
        LOCUS_DOMAIN: "",
        LOCUS_ACME_EMAIL: "",
        LOCUS_PUBLIC_IP: "127.0.0.1",
        LOCUS_DATABASE: "local",
        LOCUS_DB_SECRET_ARN: arn("Db"),
        LOCUS_API_TOKEN_SECRET_ARN: arn("ApiToken"),
        LOCUS_MQTT_SECRET_ARN: arn("Mqtt"),
        LOCUS_CA_PARAMETER: "/locus/Locus/ca-certificate",
        LOCUS_LOG_GROUP_PREFIX: "/locus/Locus",
        LOCUS_HTTPS_PORT: String(ports.https),
        LOCUS_MQTTS_PORT: String(ports.mqtts),
        LOCUS_MQTT_PORT: String(ports.mqtt),
        LOCUS_DB_PORT: String(ports.db),
        LOCUS_LISTEN_ADDRESS: "127.0.0.1",
      };
      fs.writeFileSync(r.at("root/user-data.sh"), renderUserData(env), { mode: 0o755 });
      // This machine reaches the npm registry through a proxy whose CA is in its bundle: the test
      // passes the bundle in by environment, leaving the scripts' own defaults alone.
      fs.copyFileSync("/etc/ssl/certs/ca-certificates.crt", r.at("opt/locus-test/host-ca.pem"));
      const chrootEnv = {
        PATH: "/opt/locus-test/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: "/root",
        LANG: "C.UTF-8",
        LOCUS_WITHOUT_AWS_AGENTS: "1",
        NODE_EXTRA_CA_CERTS: "/opt/locus-test/host-ca.pem",
        npm_config_cafile: "/opt/locus-test/host-ca.pem",
      };

      log(`running user-data.sh in ${r.dir} (log: ${logFile})`);
      const bootStart = Date.now();
      const code = await r.run(
        ["/bin/bash", "/root/user-data.sh"],
        chrootEnv,
        logFile,
        BOOTSTRAP_TIMEOUT_MS,
      );
      const output = fs.readFileSync(logFile, "utf8");
      log(`user-data.sh exited ${code} after ${Math.round((Date.now() - bootStart) / 1000)} s`);
      if (code !== 0)
        throw new Error(
          `user-data.sh failed (exit ${code}); its last lines:\n${output.slice(-4000)}`,
        );
      expect(output).toMatch(/locus-bootstrap: Locus is up/);

      // Enabled for boot as systemd would find them; the distribution's broker masked.
      const systemctl = (...args: string[]) =>
        execFileSync(
          "chroot",
          [
            r.dir,
            "/usr/bin/env",
            "-i",
            ...Object.entries(chrootEnv).map(([k, v]) => `${k}=${v}`),
            "systemctl",
            ...args,
          ],
          {
            encoding: "utf8",
            timeout: 120_000,
          },
        );
      const enabled = systemctl(
        "is-enabled",
        "locus-hub",
        "locus-mosquitto",
        "locus-tls-renew.timer",
        "postgresql",
      );
      expect(enabled.trim().split("\n")).toEqual(["enabled", "enabled", "enabled", "enabled"]);
      expect(() => systemctl("is-enabled", "mosquitto")).toThrow(); // "masked" exits non-zero

      // Secrets went to root-only files; the CA went to the parameter agents fetch it from.
      expect(fs.statSync(r.at("etc/locus/hub.env")).mode & 0o777).toBe(0o640);
      expect(fs.statSync(r.at("etc/locus/mosquitto.env")).mode & 0o777).toBe(0o600);
      const ca = fs.readFileSync(
        r.at("opt/locus-test/aws/parameters/_locus_Locus_ca_certificate"),
        "utf8",
      );
      expect(ca).toBe(fs.readFileSync(r.at("etc/locus/tls/ca.pem"), "utf8"));
      expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);

      const call = (method: string, route: string, body?: unknown) =>
        request(ports.https, ca, token, method, route, body);
      expect((await call("GET", "/api/v1/health")).status).toBe(200);
      expect(
        (await request(ports.https, ca, "wrong-token", "GET", "/api/v1/vehicles")).status,
      ).toBe(401);
      const fence = await call("POST", "/api/v1/geofences", YARD);
      expect(fence.status).toBe(201);
      const vehicle = await call("POST", "/api/v1/vehicles", { id: "boot-truck" });
      expect(vehicle.status).toBe(201);
      const consumer = await call("POST", "/api/v1/clients", {
        name: "boot-dashboard",
        role: "events",
      });
      expect(consumer.status).toBe(201);

      const connect = async (options: mqtt.IClientOptions) => {
        const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${ports.mqtts}`, {
          reconnectPeriod: 0,
          connectTimeout: 10_000,
          ...options,
        });
        clients.push(c);
        return c;
      };
      // The server is trusted only through the published CA.
      await expect(
        connect({ username: "boot-truck", password: vehicle.body.mqtt.password }),
      ).rejects.toThrow(/certificate/i);
      const events = await connect({ ca, ...consumer.body.mqtt });
      const received: any[] = [];
      events.on("message", (_t, payload) => received.push(JSON.parse(payload.toString())));
      await events.subscribeAsync("locus/geofence/events", { qos: 1 });
      const truck = await connect({
        ca,
        username: "boot-truck",
        password: vehicle.body.mqtt.password,
      });
      for (let i = 0; i < 4; i++) {
        await truck.publishAsync("locus/vehicles/boot-truck/location", JSON.stringify(yardFix(i)), {
          qos: 1,
        });
      }
      const enter = await waitFor(
        () => received.find((e) => e.type === "enter"),
        30_000,
        "the enter event",
      );
      expect(enter).toMatchObject({ vehicle_id: "boot-truck", geofence_id: fence.body.id });
      await truck.endAsync();
      await events.endAsync();

      // The reboot-equivalent: every service stops, then starts again in boot order.
      log("stopping and starting the services");
      systemctl("stop", "locus-hub", "locus-mosquitto", "postgresql");
      await expect(call("GET", "/api/v1/health")).rejects.toThrow();
      systemctl("start", "postgresql", "locus-mosquitto", "locus-hub");
      await waitFor(
        async () =>
          (await call("GET", "/api/v1/health").catch(() => null))?.status === 200
            ? true
            : undefined,
        120_000,
        () =>
          `the hub after the restart: ${fs.readFileSync(r.at("var/log/locus/hub.log"), "utf8").slice(-2000)}`,
      );
      const locations = await call("GET", "/api/v1/vehicles/boot-truck/locations?limit=100");
      expect(locations.body.locations).toHaveLength(4);
      const stored = await call(
        "GET",
        `/api/v1/events?vehicle_id=boot-truck&geofence_id=${fence.body.id}`,
      );
      expect(stored.body.events.map((e: any) => e.type)).toEqual(["enter"]);
      // The vehicle's broker account survived too.
      const again = await connect({
        ca,
        username: "boot-truck",
        password: vehicle.body.mqtt.password,
      });
      await again.publishAsync("locus/vehicles/boot-truck/location", JSON.stringify(yardFix(4)), {
        qos: 1,
      });
      await waitFor(
        async () => {
          const res = await call("GET", "/api/v1/vehicles/boot-truck/locations?limit=100");
          return res.body.locations.length === 5 ? true : undefined;
        },
        30_000,
        "the fix after the restart",
      );
      log(`passed in ${Math.round((Date.now() - started) / 1000)} s`);
      for (const part of NOT_RUN) log(`not run here: ${part}`);
    },
    20 * 60_000,
  );
});

// Runs a real Mosquitto for black-box tests: a config written to a temp dir, a free loopback
// port, stopped and restarted by PID (never the system's own Mosquitto on 1883). Either a
// permissive test config, or the production config committed in infra/mosquitto/ with its
// dynamic security plugin and TLS listener.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { IClientOptions } from "mqtt";
import { DynamicSecurity } from "../../hub/src/broker/dynsec.ts";
import { hasBinary, requireBinary } from "./binaries.ts";
import {
  freePort,
  type HubProcess,
  type StartHubOptions,
  startHubProcess,
  tempDir,
  waitFor,
} from "./hub-process.ts";
import { NatsCluster } from "./nats-cluster.ts";
import { startPostgres } from "./postgres.ts";

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) =>
  fs.existsSync(p),
);

/** The Mosquitto binary, or null (with one loud line; under CI=true, an error) when missing. */
export function mosquittoBinary(): string | null {
  if (MOSQUITTO !== undefined) return MOSQUITTO;
  if (hasBinary("mosquitto")) return "mosquitto";
  const line = "mosquitto not found: install the Debian package mosquitto to run these tests";
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
  return null;
}

export interface MosquittoOptions {
  /** Keep sessions and queued messages across a restart (persistence file in the temp dir). */
  persistence?: boolean;
  port?: number;
  /**
   * The configuration after the `listener` line, instead of the tests' (benchmarks tune their
   * own); `persistence` is then up to these lines.
   */
  settings?: string[];
}

export interface Mosquitto {
  port: number;
  url: string;
  dir: string;
  /** Everything Mosquitto logged. */
  output(): string;
  /** Stops it (SIGTERM: Mosquitto saves its persistence file) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and waits until it accepts connections. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Sends a signal to the running broker. */
  signal(signal: NodeJS.Signals): void;
  /** The running broker's process id (for its CPU time), or null when it is stopped. */
  pid(): number | null;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts Mosquitto with a test config; resolves once it accepts connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const binary = mosquittoBinary();
  if (binary === null) throw new Error("mosquitto is not installed");
  const dir = tempDir("locus-mosquitto-");
  // Started as root, Mosquitto drops to its own user before it writes the persistence file.
  fs.chmodSync(dir, 0o777);
  const port = options.port ?? (await freePort());
  const conf = path.join(dir, "mosquitto.conf");
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...(options.settings ?? [
        "allow_anonymous true",
        `persistence ${options.persistence ? "true" : "false"}`,
        `persistence_location ${dir}/`,
        "autosave_interval 1",
        "max_queued_messages 1000000",
        "max_queued_bytes 0",
        "max_inflight_messages 0",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
      ]),
      "",
    ].join("\n"),
  );
  return launch(binary, conf, dir, port);
}

/** Runs `binary -c conf`; the returned handle stops and restarts it by PID. */
async function launch(binary: string, conf: string, dir: string, port: number): Promise<Mosquitto> {
  let out = "";
  let child: ChildProcess | null = null;

  const broker: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    output: () => out,
    async start() {
      if (child !== null) throw new Error("mosquitto is already running");
      const proc = spawn(binary, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
      child = proc;
      proc.stdout?.on("data", (d) => {
        out += d;
      });
      proc.stderr?.on("data", (d) => {
        out += d;
      });
      proc.once("exit", () => {
        if (child === proc) child = null;
      });
      await waitFor(
        async () => {
          if (proc.exitCode !== null) throw new Error(`mosquitto exited:\n${out}`);
          return (await accepts(port)) ? true : undefined;
        },
        10_000,
        `mosquitto on port ${port}`,
      );
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      const proc = child;
      if (proc === null) return;
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill(signal);
      await exited;
      child = null;
    },
    async restart() {
      await broker.stop();
      await broker.start();
    },
    signal(signal: NodeJS.Signals) {
      if (child === null) throw new Error("mosquitto is not running");
      child.kill(signal);
    },
    pid: () => child?.pid ?? null,
  };
  await broker.start();
  return broker;
}

const ROOT = path.resolve(import.meta.dirname, "../..");
/** The production broker's directory: mosquitto.conf, start.sh, the accounts file's template. */
export const INFRA_MOSQUITTO = path.join(ROOT, "infra/mosquitto");
/** Where docker-compose.yml mounts INFRA_MOSQUITTO, the data volume and the certificates. */
export const CONTAINER_CONFIG_DIR = "/mosquitto/config/";
export const CONTAINER_DATA_DIR = "/mosquitto/data/";
export const CONTAINER_CERTS_DIR = "/mosquitto/certs/";
/** The dynamic security plugin: where the eclipse-mosquitto image has it, and where Debian does. */
export const IMAGE_DYNSEC_PLUGIN = "/usr/lib/mosquitto_dynamic_security.so";
const DYNSEC_PLUGIN = [
  "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
  "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
  IMAGE_DYNSEC_PLUGIN,
].find((p) => fs.existsSync(p));

/**
 * Mosquitto with its dynamic security plugin, and openssl for a test certificate: true, or false
 * with one loud line (under CI=true, an error) saying what to install.
 */
export function hasProductionMosquitto(): boolean {
  if (mosquittoBinary() === null) return false;
  const missing = [
    DYNSEC_PLUGIN === undefined ? "mosquitto_dynamic_security.so (Debian package mosquitto)" : null,
    hasBinary("mosquitto_ctrl") ? null : "mosquitto_ctrl (Debian package mosquitto-clients)",
    hasBinary("openssl") ? null : "openssl",
  ].filter((m) => m !== null);
  if (missing.length === 0) return true;
  const line = `production Mosquitto tests need ${missing.join(", ")}`;
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
  return false;
}

export interface RepoDirs {
  config: string;
  data: string;
  certs: string;
}

/**
 * infra/mosquitto/mosquitto.conf for a test: `listener 1883` and `listener 8883` become loopback
 * listeners on `port` and `tlsPort`, the image's plugin path the local one, and the container's
 * directories local ones. Nothing else changes (tests/mosquitto-auth.test.ts checks that).
 */
export function renderRepoMosquittoConf(port: number, tlsPort: number, dirs: RepoDirs): string {
  const committed = fs.readFileSync(path.join(INFRA_MOSQUITTO, "mosquitto.conf"), "utf8");
  const withSlash = (d: string) => (d.endsWith("/") ? d : `${d}/`);
  return committed
    .split("\n")
    .map((line) => {
      if (line.startsWith("#")) return line;
      if (line.trim() === "listener 1883") return `listener ${port} 127.0.0.1`;
      if (line.trim() === "listener 8883") return `listener ${tlsPort} 127.0.0.1`;
      return line
        .replace(IMAGE_DYNSEC_PLUGIN, DYNSEC_PLUGIN ?? IMAGE_DYNSEC_PLUGIN)
        .replaceAll(CONTAINER_CONFIG_DIR, withSlash(dirs.config))
        .replaceAll(CONTAINER_DATA_DIR, withSlash(dirs.data))
        .replaceAll(CONTAINER_CERTS_DIR, withSlash(dirs.certs));
    })
    .join("\n");
}

/** A self-signed certificate for 127.0.0.1 and localhost, as fullchain.pem and privkey.pem. */
export function writeTestCertificate(dir: string): void {
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "2", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ...["-keyout", path.join(dir, "privkey.pem"), "-out", path.join(dir, "fullchain.pem")],
    ],
    { stdio: "ignore" },
  );
  // Mosquitto reads them after dropping to its own user.
  for (const f of ["privkey.pem", "fullchain.pem"]) fs.chmodSync(path.join(dir, f), 0o644);
}

export interface RepoMosquittoOptions {
  /**
   * Accounts and passwords: HUB_USER is the hub's (made by start.sh), EVENTS_USER an event
   * consumer, every other name a vehicle (made through the dynamic security plugin).
   */
  users: Record<string, string>;
  port?: number;
}

export interface RepoMosquitto extends Mosquitto {
  /** The config as run: the committed file with the ports, plugin and directories substituted. */
  conf: string;
  dirs: RepoDirs;
  /** The MQTT over TLS listener, and the certificate it presents (self-signed: also its CA). */
  tlsPort: number;
  tlsUrl: string;
  ca: string;
  /** The dynamic security plugin's file (made by start.sh). */
  accountsFile: string;
  /** Where Mosquitto saves sessions and queued messages (rewritten and renamed at each save). */
  persistenceFile: string;
}

/** Temp directories for a repo Mosquitto, open to the user Mosquitto drops to. */
export function repoDirs(): { dir: string; dirs: RepoDirs } {
  const dir = tempDir("locus-mosquitto-repo-");
  const dirs = {
    config: path.join(dir, "config"),
    data: path.join(dir, "data"),
    certs: path.join(dir, "certs"),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d);
  // Started as root, Mosquitto drops to its own user before it reads these and writes data.
  for (const d of [dir, ...Object.values(dirs)]) fs.chmodSync(d, 0o777);
  return { dir, dirs };
}

/** Runs infra/mosquitto/start.sh --check on a rendered config: the output, or it throws. */
export function runStartCheck(conf: string, env: Record<string, string>): string {
  return execFileSync(path.join(INFRA_MOSQUITTO, "start.sh"), ["--check"], {
    env: { ...process.env, MOSQUITTO_CONF: conf, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * Starts Mosquitto with the committed production config (infra/mosquitto/mosquitto.conf), its
 * accounts file made by infra/mosquitto/start.sh with the hub's account, a test certificate,
 * and the other users made through the dynamic security plugin as the hub makes them.
 */
export async function startRepoMosquitto(options: RepoMosquittoOptions): Promise<RepoMosquitto> {
  const binary = mosquittoBinary();
  if (binary === null || !hasProductionMosquitto()) {
    throw new Error("mosquitto with its dynamic security plugin is not installed");
  }
  const { dir, dirs } = repoDirs();
  writeTestCertificate(dirs.certs);
  const port = options.port ?? (await freePort());
  const tlsPort = await freePort();
  const conf = path.join(dirs.config, "mosquitto.conf");
  fs.writeFileSync(conf, renderRepoMosquittoConf(port, tlsPort, dirs));
  const hubPassword = options.users[HUB_USER] ?? passwordOf(HUB_USER);
  runStartCheck(conf, { LOCUS_MQTT_USERNAME: HUB_USER, LOCUS_MQTT_PASSWORD: hubPassword });
  const broker = await launch(binary, conf, dir, port);
  const repo: RepoMosquitto = {
    ...broker,
    conf,
    dirs,
    tlsPort,
    tlsUrl: `mqtts://127.0.0.1:${tlsPort}`,
    ca: path.join(dirs.certs, "fullchain.pem"),
    accountsFile: path.join(dirs.data, "dynamic-security.json"),
    persistenceFile: path.join(dirs.data, "mosquitto.db"),
  };
  const others = Object.entries(options.users).filter(([user]) => user !== HUB_USER);
  if (others.length > 0) {
    const accounts = await DynamicSecurity.connect({
      url: broker.url,
      username: HUB_USER,
      password: hubPassword,
      clientId: `test-accounts-${process.pid}`,
      allowAnonymous: false,
    });
    try {
      await accounts.ensureRoles();
      for (const [user, password] of others) {
        await accounts.upsert(
          user,
          password,
          user === EVENTS_USER
            ? { kind: "client", name: user, role: "events" }
            : { kind: "vehicle", id: user },
        );
      }
    } finally {
      await accounts.close();
    }
  }
  return repo;
}

/** How the hub under test is deployed. */
export type HubMode = "embedded" | "production" | "cluster";

export interface HubEnvironmentOptions {
  /** Vehicle ids that get an account on the production broker (password `pw-{id}`). */
  vehicles: readonly string[];
  /** LOCUS_GEOFENCE_EVAL for the production hub. */
  geofenceEval?: "memory" | "postgis";
}

/**
 * Everything a black-box test needs to run the hub one way or the other: embedded (aedes and
 * SQLite, nothing else), or production (the repo's Mosquitto config with its accounts, and a
 * throwaway PostgreSQL with PostGIS), and how clients connect in each.
 */
export interface HubEnvironment {
  mode: HubMode;
  /** Starts a hub; in production mode against this environment's Mosquitto and database. */
  startHub(options?: StartHubOptions): Promise<HubProcess>;
  /** MQTT options for a device publishing as `vehicleId` (add `clientId` as needed). */
  device(vehicleId: string): IClientOptions;
  /** MQTT options for an event consumer. */
  consumer(): IClientOptions;
  /** mosquitto_pub/mosquitto_sub flags for host, port and credentials of `user`. */
  cliArgs(hub: HubProcess, user: string): string[];
  /** The production broker, null when embedded. */
  mosquitto: RepoMosquitto | null;
  /** LOCUS_* settings of the production hub ({} when embedded). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export const HUB_USER = "locus-hub";
export const EVENTS_USER = "locus-events";
function passwordOf(user: string): string {
  return `pw-${user}`;
}

/**
 * Opens an environment. Production mode needs mosquitto and PostgreSQL with PostGIS: without
 * them it returns null after one SKIPPING line (under CI=true it throws instead).
 */
export async function openHubEnvironment(
  mode: HubMode,
  options: HubEnvironmentOptions,
): Promise<HubEnvironment | null> {
  if (mode === "embedded") {
    return {
      mode,
      startHub: (o) => startHubProcess(o),
      device: () => ({}),
      consumer: () => ({}),
      cliArgs: (hub) => ["-h", "127.0.0.1", "-p", new URL(hub.mqttUrl).port],
      mosquitto: null,
      env: {},
      close: async () => {},
    };
  }
  if (mode === "cluster") return openCluster(options);
  if (mosquittoBinary() === null || !hasProductionMosquitto()) return null;
  const postgres = await startPostgres();
  if (postgres === null) return null;
  const users: Record<string, string> = {};
  for (const user of [HUB_USER, EVENTS_USER, ...options.vehicles]) users[user] = passwordOf(user);
  let mosquitto: RepoMosquitto;
  try {
    mosquitto = await startRepoMosquitto({ users });
  } catch (err) {
    await postgres.stop();
    throw err;
  }
  const env: Record<string, string> = {
    LOCUS_MQTT_URL: mosquitto.url,
    LOCUS_MQTT_USERNAME: HUB_USER,
    LOCUS_MQTT_PASSWORD: passwordOf(HUB_USER),
    LOCUS_DATABASE_URL: postgres.url,
    LOCUS_GEOFENCE_EVAL: options.geofenceEval ?? "memory",
  };
  const credentials = (user: string) => ({ username: user, password: passwordOf(user) });
  return {
    mode,
    startHub: (o = {}) => startHubProcess({ ...o, env: { ...env, ...o.env } }),
    device: (vehicleId) => credentials(vehicleId),
    consumer: () => credentials(EVENTS_USER),
    cliArgs: (_hub, user) => [
      ...["-h", "127.0.0.1", "-p", String(mosquitto.port)],
      ...["-u", user, "-P", passwordOf(user)],
    ],
    mosquitto,
    env,
    async close() {
      await mosquitto.stop();
      await postgres.stop();
    },
  };
}

/**
 * Two hubs sharing the fleet through a throwaway three-node NATS JetStream cluster and a
 * throwaway PostgreSQL (docs/scaling.md), seen as one hub: devices and event consumers connect to
 * the first hub's embedded broker, API calls go to the second. Whichever hub owns a vehicle's
 * partition judges it, so fixes and events cross between them.
 */
async function openCluster(options: HubEnvironmentOptions): Promise<HubEnvironment | null> {
  if (!requireBinary("nats-server", "nats-server")) return null;
  const postgres = await startPostgres();
  if (postgres === null) return null;
  let nats: NatsCluster;
  try {
    nats = await NatsCluster.start();
  } catch (err) {
    await postgres.stop();
    throw err;
  }
  const env: Record<string, string> = {
    LOCUS_DATABASE_URL: postgres.url,
    LOCUS_GEOFENCE_EVAL: options.geofenceEval ?? "memory",
    LOCUS_ENGINE_URL: nats.urls.join(","),
    LOCUS_ENGINE_PARTITIONS: "8",
    LOCUS_ENGINE_LEASE_MS: "2000",
  };
  return {
    mode: "cluster",
    async startHub(o = {}) {
      const devicesHub = await startHubProcess({
        ...o,
        env: { ...env, ...o.env, LOCUS_MQTT_CLIENT_ID: "hub-a" },
      });
      let apiHub: HubProcess;
      try {
        const { dataDir: _shared, ...rest } = o;
        apiHub = await startHubProcess({
          ...rest,
          env: { ...env, ...o.env, LOCUS_MQTT_CLIENT_ID: "hub-b" },
        });
      } catch (err) {
        await devicesHub.stop("SIGKILL");
        throw err;
      }
      return pairedHub(devicesHub, apiHub);
    },
    device: () => ({}),
    consumer: () => ({}),
    cliArgs: (hub) => ["-h", "127.0.0.1", "-p", new URL(hub.mqttUrl).port],
    mosquitto: null,
    env,
    async close() {
      await nats.stop();
      await postgres.stop();
    },
  };
}

/** Two hub processes as one: MQTT of the first, HTTP of the second; stopping stops both. */
function pairedHub(devices: HubProcess, api: HubProcess): HubProcess {
  const stop = async (signal?: NodeJS.Signals) => {
    const [a, b] = [await devices.stop(signal), await api.stop(signal)];
    return a !== 0 ? a : b;
  };
  return {
    ...api,
    members: [devices, api],
    mqttUrl: devices.mqttUrl,
    output: () => `--- hub-a\n${devices.output()}\n--- hub-b\n${api.output()}`,
    stop,
    exited: Promise.all([devices.exited, api.exited]).then(([a, b]) => (a !== 0 ? a : b)),
  };
}

// Runs a real Mosquitto for black-box tests: a config written to a temp dir, a free loopback
// port, stopped and restarted by PID (never the system's own Mosquitto on 1883).

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { hasBinary } from "./binaries.ts";
import { freePort, tempDir, waitFor } from "./hub-process.ts";

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
      "",
    ].join("\n"),
  );
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
  };
  await broker.start();
  return broker;
}

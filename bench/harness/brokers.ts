// Brokers for the baselines: a bare aedes in a child process (with the hub's device
// authentication and TLS when asked), or a throwaway Mosquitto on a free loopback port (never a
// Mosquitto already running on this machine).

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startMosquitto } from "../../tests/support/broker.ts";
import { tempDir } from "../../tests/support/hub-process.ts";
import type { BareAedesConfig } from "./bare-auth.ts";
import { mosquittoBinary } from "./versions.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface BenchBroker {
  url: string;
  /** mqtts://… when the broker also listens for MQTT over TLS. */
  tlsUrl?: string;
  /** The broker's process, when the harness knows it (for its CPU time). */
  pid: number | null;
  stop(): Promise<void>;
}

/**
 * A bare aedes in a child process; with `config`, with the hub's device authentication and
 * optionally TLS (bare-auth.ts).
 */
export async function startAedes(config?: BareAedesConfig): Promise<BenchBroker> {
  const args = [path.join("bench", "harness", "aedes-process.ts"), "0"];
  let configDir: string | null = null;
  if (config !== undefined) {
    configDir = tempDir("locus-bench-aedes-");
    const file = path.join(configDir, "config.json");
    fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    args.push(file);
  }
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const [port, tlsPort] = await new Promise<[number, number | null]>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("aedes did not start in 20 s")), 20_000);
    child.stdout?.on("data", (d) => {
      out += d;
      const match = /aedes ready (\d+)(?: tls (\d+))?\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve([Number(match[1]), match[2] === undefined ? null : Number(match[2])]);
      }
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`aedes exited before it was ready: ${out}`));
    });
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    ...(tlsPort === null ? {} : { tlsUrl: `mqtts://127.0.0.1:${tlsPort}` }),
    pid: child.pid as number,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      if (configDir !== null) fs.rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/**
 * A Mosquitto of its own on a free loopback port, or the reason it cannot run. Tuned as a
 * production broker would be: no queue or in-flight limits in the way, and TCP_NODELAY, without
 * which each PUBACK can wait for the peer's delayed ACK (Nagle) and throughput is capped by it.
 */
export async function startBenchMosquitto(): Promise<BenchBroker | { unavailable: string }> {
  if (mosquittoBinary() === null) {
    return { unavailable: "mosquitto is not installed (Debian package mosquitto)" };
  }
  const mosquitto = await startMosquitto({
    settings: [
      "allow_anonymous true",
      "persistence false",
      "set_tcp_nodelay true",
      "max_queued_messages 1000000",
      "max_queued_bytes 0",
      "max_inflight_messages 0",
      "log_dest stderr",
      "log_type error",
    ],
  });
  return {
    url: mosquitto.url,
    pid: mosquitto.pid(),
    async stop() {
      await mosquitto.stop();
      fs.rmSync(mosquitto.dir, { recursive: true, force: true });
    },
  };
}

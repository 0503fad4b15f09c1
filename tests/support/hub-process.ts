// Starts the real hub (`hub/src/main.ts`) as a child process on free loopback ports, for
// black-box tests. Stops only the process it started, by PID.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = "locus-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface HubProcess {
  child: ChildProcess;
  /** Where the API answers (with several hubs seen as one, the one API calls go to). */
  httpUrl: string;
  /** Several hubs seen as one (tests/support/broker.ts): each, for per-process readings. */
  members?: readonly HubProcess[];
  /** Where devices connect: the embedded broker, or the external one the hub uses. */
  mqttUrl: string;
  token: string;
  dataDir: string;
  output: () => string;
  /** Sends a signal and waits for the exit; resolves to the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  exited: Promise<number | string>;
}

export interface StartHubOptions {
  dataDir?: string;
  token?: string;
  env?: Record<string, string>;
  httpPort?: number;
  mqttPort?: number;
  /** How long to wait for the ready line, ms. */
  timeoutMs?: number;
  /** A built bundle to run with plain node (as the container does) instead of the sources. */
  bundle?: string;
  /** Node flags before the script, e.g. ["--cpu-prof"]. */
  nodeArgs?: string[];
  /** Keep only about this much of the hub's output (for long runs); default: all of it. */
  maxOutputChars?: number;
}

export const TEST_TOKEN = "test-token-0123456789abcdef";

/** Runs the hub and resolves once it printed its ready line. */
export async function startHubProcess(options: StartHubOptions = {}): Promise<HubProcess> {
  const dataDir = options.dataDir ?? tempDir();
  const httpPort = options.httpPort ?? (await freePort());
  const mqttPort = options.mqttPort ?? (await freePort());
  const token = options.token ?? TEST_TOKEN;
  const script = options.bundle ? [options.bundle] : ["--import", "tsx", "hub/src/main.ts"];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      LOCUS_HTTP_PORT: String(httpPort),
      LOCUS_MQTT_PORT: String(mqttPort),
      LOCUS_DATA_DIR: dataDir,
      LOCUS_API_TOKEN: token,
      LOCUS_OUTBOX_GRACE_MS: "0",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const max = options.maxOutputChars ?? Number.POSITIVE_INFINITY;
  const collect = (d: Buffer) => {
    out += d;
    if (out.length > max) out = out.slice(-Math.floor(max / 2));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`hub did not start in time; output:\n${out}`));
    }, options.timeoutMs ?? 20_000);
    const check = () => {
      if (out.includes("locus hub ready")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${code}) before it was ready; output:\n${out}`));
    });
  });
  // The ready line names the broker: the embedded one, or LOCUS_MQTT_URL (without a password).
  const announced = /mqtt: (\S+)/.exec(out)?.[1];
  // https when the hub was given a certificate (LOCUS_TLS_CERT).
  const scheme = /http: (https?):\/\//.exec(out)?.[1] ?? "http";
  return {
    child,
    httpUrl: `${scheme}://127.0.0.1:${httpPort}`,
    mqttUrl: announced ?? `mqtt://127.0.0.1:${mqttPort}`,
    token,
    dataDir,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** fetch() against the hub's REST API with its token. */
export async function api(
  hub: Pick<HubProcess, "httpUrl" | "token">,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.httpUrl}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${hub.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: parsed };
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails after timeoutMs. The
 * deadline only catches a stuck test, so it is generous: a busy machine must not trip it. `what`
 * may be a function, read when the wait fails, so the message tells how far things got.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  what: string | (() => string) = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === "function" ? what() : what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs the hub expecting it to refuse to start; resolves to its exit code, its output and how
 * long it took. The data dir is a fresh temp dir unless `env` names one.
 */
export function failedHubStart(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; out: string; ms: number }> {
  const began = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "hub/src/main.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", LOCUS_DATA_DIR: tempDir(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
    });
    child.stderr?.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the hub did not exit; output:\n${out}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - began });
    });
  });
}

// The real hub (`hub/src/main.ts`) as a child process on free loopback ports, with extra Node
// flags when asked (`--cpu-prof` for profiling), and readings of its metrics and CPU time.

import { spawn } from "node:child_process";
import path from "node:path";
import { freePort, type HubProcess, TEST_TOKEN, tempDir } from "../../tests/support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface BenchHubOptions {
  dataDir?: string;
  env?: Record<string, string>;
  /** Node flags before the script, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]. */
  nodeArgs?: string[];
  timeoutMs?: number;
}

/** Starts the hub and resolves once it printed its ready line. */
export async function startBenchHub(options: BenchHubOptions = {}): Promise<HubProcess> {
  const dataDir = options.dataDir ?? tempDir("locus-bench-");
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const child = spawn(
    process.execPath,
    // The heap setting npm start and the Docker image run the hub with (docs/hub.md).
    [...(options.nodeArgs ?? []), "--max-semi-space-size=64", "--import", "tsx", "hub/src/main.ts"],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        LOCUS_HTTP_PORT: String(httpPort),
        LOCUS_MQTT_PORT: String(mqttPort),
        LOCUS_DATA_DIR: dataDir,
        LOCUS_API_TOKEN: TEST_TOKEN,
        LOCUS_OUTBOX_GRACE_MS: "0",
        LOCUS_LOG_LEVEL: "error",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  const collect = (d: Buffer) => {
    out += d;
    if (out.length > 100_000) out = out.slice(-50_000);
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
    }, options.timeoutMs ?? 60_000);
    const check = () => {
      if (out.includes("locus hub ready")) {
        clearTimeout(timer);
        child.stdout?.off("data", check);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${code}) before it was ready; output:\n${out}`));
    });
  });
  return {
    child,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    token: TEST_TOKEN,
    dataDir,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The hub's Prometheus metrics, as name{labels} → value. */
export async function hubMetrics(hub: Pick<HubProcess, "httpUrl" | "token">) {
  const res = await fetch(`${hub.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${hub.token}` },
  });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const values = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Fixes the hub has committed so far (locus_fixes_accepted_total plus duplicates). */
export async function committedFixes(hub: Pick<HubProcess, "httpUrl" | "token">) {
  const m = await hubMetrics(hub);
  return (m.get("locus_fixes_accepted_total") ?? 0) + (m.get("locus_fixes_duplicate_total") ?? 0);
}

// The machine and software a report was measured on: CPU, cores, memory, load, and the versions
// of Node, aedes, MQTT.js, SQLite, Mosquitto and PostgreSQL.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";

const ROOT = path.resolve(import.meta.dirname, "../..");
const require = createRequire(path.join(ROOT, "hub", "package.json"));

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) =>
  fs.existsSync(p),
);

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  /** 1, 5 and 15 minute load averages when the run started and ended. */
  loadAtStart: number[];
  loadAtEnd?: number[];
  versions: Record<string, string>;
}

/** The installed version of a package the hub depends on (its package.json, found on disk). */
function packageVersion(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    const file = path.join(dir, name, "package.json");
    if (fs.existsSync(file)) {
      return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
    }
  }
  return "not installed";
}

function commandVersion(file: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(file, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 5000,
    });
    return pattern.exec(out)?.[1] ?? out.trim().split("\n")[0] ?? "unknown";
  } catch (err) {
    // mosquitto -h exits 3 after printing its version.
    const out = `${(err as { stdout?: string }).stdout ?? ""}`;
    const found = pattern.exec(out)?.[1];
    return found ?? "not installed";
  }
}

/** The Mosquitto binary, or null when it is not installed. */
export function mosquittoBinary(): string | null {
  return MOSQUITTO ?? null;
}

function sqliteVersion(): string {
  const db = new Database(":memory:");
  try {
    return (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  } finally {
    db.close();
  }
}

function postgresVersion(): string {
  for (const dir of ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"]) {
    const file = path.join(dir, "postgres");
    if (fs.existsSync(file)) return commandVersion(file, ["--version"], /(\d+\.\d+)/);
  }
  return "not installed";
}

function postgisVersion(): string {
  for (const dir of fs.existsSync("/usr/share/postgresql")
    ? fs.readdirSync("/usr/share/postgresql")
    : []) {
    const control = path.join("/usr/share/postgresql", dir, "extension", "postgis.control");
    if (fs.existsSync(control)) {
      const match = /default_version\s*=\s*'([^']+)'/.exec(fs.readFileSync(control, "utf8"));
      if (match?.[1]) return match[1];
    }
  }
  return "not installed";
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    versions: {
      aedes: packageVersion("aedes"),
      mqtt: packageVersion("mqtt"),
      "better-sqlite3": packageVersion("better-sqlite3"),
      sqlite: sqliteVersion(),
      mosquitto:
        MOSQUITTO === undefined
          ? "not installed"
          : commandVersion(MOSQUITTO, ["-h"], /mosquitto version (\S+)/),
      postgres: postgresVersion(),
      postgis: postgisVersion(),
      pg: packageVersion("pg"),
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where unreadable. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return null;
  }
}

/**
 * CPU seconds of a process and its children: its own, its waited-for children's, and its live
 * children's (PostgreSQL: the server and its backends). Null where unreadable.
 */
export function processTreeCpuSeconds(pid: number): number | null {
  const fields = (p: number) => {
    const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  };
  try {
    const own = fields(pid);
    let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const f = fields(Number(entry));
        if (Number(f[1]) === pid) ticks += Number(f[11]) + Number(f[12]);
      } catch {
        // gone meanwhile
      }
    }
    return ticks / 100;
  } catch {
    return null;
  }
}

/** Resident memory of a process, MiB, from /proc; null where unreadable. */
export function processRssMiB(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// What both cluster launchers share: free loopback ports, a spawned server process that can be
// killed with SIGKILL by its own PID and restarted, its CPU time and memory from /proc, and
// waiting for a condition without fixed sleeps.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/** A port in [low, high) that accepted a listener on 127.0.0.1 a moment ago. */
export async function freePort(low = 20_000, high = 30_000): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${low}..${high} on 127.0.0.1`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Distinct free ports (so two nodes never draw the same one). */
export async function freePorts(count: number, low = 20_000, high = 30_000): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(low, high));
  return [...ports];
}

/** Resolves once `check` returns a truthy value; polls every `everyMs`, fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await Promise.race([
        check(),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error("check took too long")),
            Math.max(100, deadline - Date.now()),
          ).unref(),
        ),
      ]);
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** CPU time (user + system) of one process so far, in microseconds; 0 once it is gone. */
export function cpuMicros(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Resident memory of one process, bytes; 0 once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ: 100 on every architecture Node runs on. */
const CLOCK_TICKS = 100;

/** One server process of a cluster: started, killed by PID, restarted with the same settings. */
export class ServerProcess {
  child: ChildProcess | null = null;
  private log: fs.WriteStream | null = null;
  private exitedPromise: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    /** Keep stdin open (a pipe never written to), for servers that stop at end of input. */
    private readonly keepStdinOpen = false,
  ) {}

  start(): void {
    if (this.child) throw new Error(`${this.name} is already running`);
    this.log = fs.createWriteStream(this.logFile, { flags: "a" });
    const child = spawn(this.command, this.args, {
      // Crash dumps and core files land beside the log, not in the caller's directory.
      cwd: path.dirname(this.logFile),
      env: this.env,
      stdio: [this.keepStdinOpen ? "pipe" : "ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exitedPromise = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", () => {
      if (this.child === child) this.child = null;
    });
    this.child = child;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (!pid) throw new Error(`${this.name} is not running`);
    return pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Sends `signal` to this process only and waits for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    process.kill(child.pid, signal);
    await this.exitedPromise;
    this.child = null;
  }

  /** The last `chars` characters the process wrote, for error messages. */
  tail(chars = 2000): string {
    try {
      const text = fs.readFileSync(this.logFile, "utf8");
      return text.slice(-chars);
    } catch {
      return "";
    }
  }
}

/** `items[index]`, or an error naming what was missing (indexes here are always in range). */
export function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`index ${index} out of range (${items.length} items)`);
  return item;
}

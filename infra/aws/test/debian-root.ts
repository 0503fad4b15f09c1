// A throwaway Debian root for running the instance's first boot on this machine: built with
// debootstrap (minbase) from the mirror apt uses here, cached as a tarball under /var/tmp so that
// only the first run on a machine pays for it, unpacked into a temp folder, entered with chroot
// with /proc, /sys and /dev mounted, and removed again with everything started inside it. Needs
// root (debootstrap, mount, chroot).

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const CACHE_DIR = process.env.LOCUS_ROOT_CACHE ?? "/var/tmp/locus-bootstrap-cache";

/** Why this machine cannot build and enter a root, or null when it can. */
export function cannotBuildRoot(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (debootstrap, mount and chroot need root)";
  for (const tool of ["debootstrap", "chroot", "mount", "umount", "tar"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

/** The Debian mirror apt uses on this machine (deb822 or one-line sources), else Debian's CDN. */
export function debianMirror(): string {
  if (process.env.LOCUS_DEBIAN_MIRROR) return process.env.LOCUS_DEBIAN_MIRROR;
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith(".list") || f.endsWith(".sources")) files.push(path.join(dir, f));
    }
  }
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    const m =
      /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text) ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text);
    if (m?.[1]) return m[1];
  }
  return "http://deb.debian.org/debian";
}

/**
 * The cached minbase tarball for `release`, built first when missing. Built into a temp folder
 * and renamed into place, so a run that dies half-way leaves no half tarball behind.
 */
export function baseTarball(release: string, log: (line: string) => void): string {
  const arch = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const tarball = path.join(CACHE_DIR, `debian-${release}-minbase-${arch}.tar.gz`);
  if (fs.existsSync(tarball)) {
    log(`base root: cached ${tarball}`);
    return tarball;
  }
  const mirror = debianMirror();
  const work = fs.mkdtempSync(path.join("/var/tmp", "locus-debootstrap-"));
  const started = Date.now();
  try {
    log(`base root: debootstrap --variant=minbase ${release} from ${mirror} (once per machine)`);
    execFileSync("debootstrap", ["--variant=minbase", release, path.join(work, "root"), mirror], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 600_000,
    });
    execFileSync(
      "tar",
      ["-C", path.join(work, "root"), "--numeric-owner", "-czf", `${work}/base.tar.gz`, "."],
      {
        timeout: 300_000,
      },
    );
    fs.renameSync(`${work}/base.tar.gz`, tarball);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`base root: built in ${Math.round((Date.now() - started) / 1000)} s, cached as ${tarball}`);
  return tarball;
}

export interface DebianRoot {
  /** The root folder (under a temp folder of /var/tmp). */
  dir: string;
  /** A path inside the root, as seen from the host. */
  at(p: string): string;
  /** Runs `command` inside the root with exactly `env`; resolves to its exit code. */
  run(
    command: string[],
    env: Record<string, string>,
    logFile: string,
    timeoutMs: number,
  ): Promise<number>;
  /** Ends every process whose root is this one, unmounts, removes the folder. */
  destroy(): Promise<string[]>;
}

/** Unpacks `tarball` into a fresh folder and mounts what chroot needs plus the `binds` given. */
export function makeRoot(tarball: string, binds: Record<string, string>): DebianRoot {
  const top = fs.mkdtempSync(path.join("/var/tmp", "locus-root-"));
  const dir = path.join(top, "root");
  fs.mkdirSync(dir);
  const at = (p: string) => path.join(dir, p);
  const mounted: string[] = [];
  const root: DebianRoot = { dir, at, run, destroy };
  try {
    execFileSync("tar", ["-C", dir, "--numeric-owner", "-xpzf", tarball], { timeout: 300_000 });
    fs.copyFileSync("/etc/resolv.conf", at("etc/resolv.conf"));
    const mount = (args: string[], target: string) => {
      fs.mkdirSync(target, { recursive: true });
      execFileSync("mount", [...args, target]);
      mounted.push(target);
    };
    mount(["-t", "proc", "proc"], at("proc"));
    mount(["--rbind", "/sys"], at("sys"));
    execFileSync("mount", ["--make-rslave", at("sys")]);
    mount(["--rbind", "/dev"], at("dev"));
    execFileSync("mount", ["--make-rslave", at("dev")]);
    for (const [host, inside] of Object.entries(binds)) {
      fs.mkdirSync(host, { recursive: true });
      mount(["--bind", host], at(inside));
    }
  } catch (e) {
    void destroy();
    throw e;
  }
  return root;

  function run(command: string[], env: Record<string, string>, logFile: string, timeoutMs: number) {
    return new Promise<number>((resolve, reject) => {
      const out = fs.openSync(logFile, "a");
      const child = spawn(
        "chroot",
        [
          dir,
          "/usr/bin/env",
          "-i",
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          ...command,
        ],
        {
          stdio: ["ignore", out, out],
          env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
        },
      );
      fs.closeSync(out);
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new Error(
            `${command.join(" ")} in the root took over ${timeoutMs / 1000} s: see ${logFile}`,
          ),
        );
      }, timeoutMs);
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        resolve(code ?? (signal ? 128 : 1));
      });
    });
  }

  /** PIDs of the processes whose root directory is this root. */
  function inside(): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.readlinkSync(`/proc/${entry}/root`) === dir) pids.push(Number(entry));
      } catch {
        // gone already, or not ours to read
      }
    }
    return pids;
  }

  async function destroy(): Promise<string[]> {
    const problems: string[] = [];
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      for (const pid of inside()) {
        try {
          process.kill(pid, signal);
        } catch {
          // exited meanwhile
        }
      }
      const deadline = Date.now() + 15_000;
      while (inside().length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
    }
    if (inside().length > 0)
      problems.push(`processes still running in ${dir}: ${inside().join(" ")}`);
    for (const target of mounted.reverse()) {
      try {
        execFileSync("umount", ["-R", target], { stdio: "pipe" });
      } catch {
        try {
          execFileSync("umount", ["-R", "-l", target], { stdio: "pipe" });
        } catch (e) {
          problems.push(`cannot unmount ${target}: ${(e as Error).message}`);
        }
      }
    }
    // Never delete through a mount that is still there: /dev or the caches would go with it.
    const left = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((m) => m === dir || m.startsWith(`${dir}/`));
    if (left.length > 0) {
      problems.push(`still mounted, so ${top} is kept: ${left.join(" ")}`);
    } else {
      fs.rmSync(top, { recursive: true, force: true });
    }
    return problems;
  }
}

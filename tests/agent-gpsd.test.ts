// The agent's gpsd source against a real gpsd: gpsfake runs a private gpsd on a free loopback port
// and replays the drive log into it; every fix of the drive must come out with its position and time.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSource, type SourceFix } from "../agent/src/sources/index.ts";
import { DRIVE_FILE, DRIVE_SECONDS, driveEpochs } from "./fixtures/nmea-drive.ts";
import { requireBinary } from "./support/binaries.ts";
import { freePort, tempDir, waitFor } from "./support/hub-process.ts";

const available = requireBinary("gpsfake", "gpsd-clients") && requireBinary("gpsd", "gpsd");

/** Seconds between sentences gpsfake writes: 510 lines take about 10 s. */
const CYCLE = "0.02";

function canConnect(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(undefined));
  });
}

/** Signals the process group led by `pid` (gpsfake and the gpsd it started). */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

describe.skipIf(!available)("gpsd source with a real gpsd (gpsfake)", () => {
  let gpsfake: ChildProcess | undefined;
  let output = "";
  let port = 0;
  let dir = "";

  beforeAll(async () => {
    port = await freePort();
    dir = tempDir("locus-gpsd-");
    // -1: play the log once; -t: feed gpsd over TCP (no pty needed); -q: no chatter.
    // gpsfake starts its own gpsd with -N -S PORT and a control socket in $TMPDIR; gpsd listens
    // on loopback only. Its own process group, so stopping it takes its gpsd along.
    gpsfake = spawn("gpsfake", ["-1", "-q", "-t", "-c", CYCLE, "-P", String(port), DRIVE_FILE], {
      env: { ...process.env, TMPDIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    gpsfake.stdout?.on("data", (d) => {
      output += d;
    });
    gpsfake.stderr?.on("data", (d) => {
      output += d;
    });
    // The log begins with a 10-second cold start (60 lines, ~1.2 s to play): time enough to
    // connect before the first fix.
    await waitFor(() => canConnect(port), 30_000, `gpsd on port ${port}; gpsfake said: ${output}`);
  });

  afterAll(async () => {
    const child = gpsfake;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      // gpsfake's own TERM handler stops its gpsd but does not always exit: the group gets TERM,
      // and KILL if it is still there after two seconds.
      signalGroup(child.pid, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child.pid ?? 0, "SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("yields every fix of the replayed drive, in order, with its position and time", async () => {
    const epochs = driveEpochs();
    const last = epochs[epochs.length - 1]?.ts;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 40_000);
    const fixes: SourceFix[] = [];
    const invalid = new Set<string>();
    for await (const fix of openSource(`gpsd://127.0.0.1:${port}`, {
      signal: controller.signal,
      onInvalid: (r) => invalid.add(r),
    })) {
      fixes.push(fix);
      if (fix.ts === last) controller.abort();
    }
    clearTimeout(timer);

    expect(fixes.map((f) => f.ts)).toEqual(epochs.map((e) => e.ts));
    expect(fixes).toHaveLength(DRIVE_SECONDS);
    fixes.forEach((fix, i) => {
      const e = epochs[i];
      if (!e) throw new Error(`no epoch ${i}`);
      expect(fix.latitude).toBeCloseTo(e.latitude, 8);
      expect(fix.longitude).toBeCloseTo(e.longitude, 8);
      expect(fix.speed).toBeCloseTo(e.speed, 2);
      if (e.heading !== undefined && e.speed > 0) expect(fix.heading).toBeCloseTo(e.heading, 3);
      if (fix.altitude !== undefined) expect(fix.altitude).toBeCloseTo(e.altitude, 3);
      expect(fix.accuracy).toBeGreaterThan(0);
    });
    // gpsd reports the cold start as TPVs without a fix; nothing else was skipped.
    expect([...invalid]).toEqual(["gpsd TPV without a fix (mode < 2)"]);
  }, 120_000);
});

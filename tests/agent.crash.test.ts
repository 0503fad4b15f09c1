// Crash safety of the real agent process: kill -9 it at random points while it publishes a
// numbered stream from stdin, restart it each time on the same buffer, continuing the stream.
// Every fix it ever committed must reach the subscriber (maybe twice, never changed), the seqs
// must carry on without reuse, and the buffer must end empty.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "./support/broker.ts";
import { type Recorder, recordFixes } from "./support/broker-recorder.ts";
import { tempDir, waitFor } from "./support/hub-process.ts";
import { mulberry32 } from "./support/random.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const ROUNDS = 20;
const T0 = Date.parse("2026-11-24T08:00:00.000Z");
const VEHICLE = "crash-01";

/** Line i of the stream: its ts says which line it was. */
const line = (i: number) =>
  `${JSON.stringify({ ts: T0 + i * 1000, latitude: 40 + i / 1e6, longitude: -3 })}\n`;

const unexpected: string[] = [];

function startAgent(
  url: string,
  buffer: string,
): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "agent/src/main.ts",
      "--vehicle-id",
      VEHICLE,
      "--broker",
      url,
      "--buffer",
      buffer,
    ],
    { cwd: ROOT, stdio: ["pipe", "ignore", "pipe"] },
  );
  // Only the start line is expected; anything else shows up in a failure's message.
  child.stderr?.on("data", (d: Buffer) => {
    for (const l of d.toString().split("\n")) {
      if (l !== "" && !l.startsWith(`locus-agent: ${VEHICLE} -> `)) unexpected.push(l);
    }
  });
  // Writes into a killed agent's pipe fail; those lines were never read, as a GPS fix that
  // arrives while the agent is down.
  child.stdin?.on("error", () => {});
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal)),
  );
  return { child, exited };
}

describe.skipIf(mosquittoBinary() === null)("agent crash safety", () => {
  let broker: Mosquitto;
  let rec: Recorder;
  beforeAll(async () => {
    broker = await startMosquitto();
    rec = await recordFixes(broker.url, VEHICLE);
  });
  afterAll(async () => {
    await rec?.close();
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  it(`delivers every committed fix across ${ROUNDS} kill -9 restarts`, {
    timeout: 120_000,
  }, async () => {
    const seed = Date.now();
    const random = mulberry32(seed);
    const buffer = path.join(tempDir(), "agent.db");
    const started = Date.now();
    let next = 0; // the next line of the stream to write

    for (let round = 0; round <= ROUNDS; round++) {
      const agent = startAgent(broker.url, buffer);
      const feeder = setInterval(() => {
        agent.child.stdin?.write(line(next++));
      }, 5);
      if (round === ROUNDS) {
        // The last run: the rest of the stream, its end, and the agent drains and exits by itself.
        await new Promise((r) => setTimeout(r, 1000));
        clearInterval(feeder);
        agent.child.stdin?.end();
        expect(await agent.exited, `seed ${seed}`).toBe(0);
        break;
      }
      // Kill at a random moment once this run is publishing.
      const before = new Set(rec.seqs()).size;
      await waitFor(
        () => (new Set(rec.seqs()).size > before ? true : undefined),
        30_000,
        `round ${round} to publish (seed ${seed})`,
      );
      await new Promise((r) => setTimeout(r, random() * 400));
      agent.child.kill("SIGKILL");
      clearInterval(feeder);
      expect(await agent.exited).toBe("SIGKILL");
    }

    expect(unexpected, `agent output (seed ${seed})`).toEqual([]);
    const st = spawnSync(
      process.execPath,
      ["--import", "tsx", "agent/src/main.ts", "status", "--buffer", buffer, "--json"],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(st.status, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status).toMatchObject({ depth: 0, oldest: null, dropped: 0 });
    const committed: number = status.next_seq;
    await rec.waitForAll(committed);

    // Every committed seq arrived; none beyond; the first arrivals in seq order.
    const first = rec.firstSeqs();
    expect(first, `seed ${seed}`).toEqual(Array.from({ length: committed }, (_, i) => i));
    // A seq always stands for the same fix (no reuse after a crash), and the stream's order holds.
    const tsOf = new Map<number, string>();
    for (const m of rec.messages) {
      m.seqs.forEach((s, i) => {
        const ts = m.ts[i] as string;
        if (tsOf.has(s)) expect(tsOf.get(s), `seq ${s} (seed ${seed})`).toBe(ts);
        else tsOf.set(s, ts);
      });
    }
    const times = first.map((s) => Date.parse(tsOf.get(s) as string));
    expect(times.every((t, i) => i === 0 || t > (times[i - 1] as number))).toBe(true);
    expect(status.last_ack.seq).toBe(committed - 1);
    // Each run said online; the last, stopping cleanly, left a retained offline.
    await waitFor(() => (rec.statuses.at(-1) === "offline" ? true : undefined), 20_000, "offline");
    expect(rec.statuses.filter((s) => s === "online").length).toBeGreaterThanOrEqual(ROUNDS + 1);

    console.info(
      `agent crash test: ${ROUNDS} kill -9 rounds, ${next} lines written, ${committed} fixes ` +
        `committed and delivered, ${rec.duplicates()} duplicates, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s (seed ${seed})`,
    );
  });
});

// The agent's `nmea:` source end to end: a real receiver's capture (the SiRF-TriG log in
// agent/src/sources/fixtures) with binary frames before every sentence, as a u-blox receiver
// mixing UBX into the port sends it, and its first fix's RMC lost, read by the agent process and
// delivered to a real Mosquitto. Every fix must arrive dated by the receiver, none by the clock.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "./support/agent-process.ts";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "./support/broker.ts";
import { recordFixes } from "./support/broker-recorder.ts";
import { tempDir } from "./support/hub-process.ts";

const CAPTURE = path.resolve(import.meta.dirname, "../agent/src/sources/fixtures/beidou-bd.log");

/** A UBX-shaped frame whose payload holds bytes a text reader trips on ('$', CR, LF, 0xE2, NUL). */
function ubxFrame(n: number): Buffer {
  const payload = Buffer.alloc(40, n & 0xff);
  payload.set([0x24, 0x47, 0x0d, 0x0a, 0xe2, 0x82, 0x00, 0x2a], n % 30);
  return Buffer.concat([
    Buffer.from([0xb5, 0x62, 0x01, 0x07, 40, 0]),
    payload,
    Buffer.from([1, 2]),
  ]);
}

function mixedCapture(): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (const line of fs.readFileSync(CAPTURE, "latin1").split("\n")) {
    // The first fix's RMC is lost: its GGA must wait for the next RMC's date.
    if (line.startsWith("$GNRMC,074155.799")) continue;
    if (line.trimStart().startsWith("$")) parts.push(ubxFrame(n++));
    parts.push(Buffer.from(`${line}\n`, "latin1"));
  }
  return Buffer.concat(parts);
}

describe.skipIf(mosquittoBinary() === null)("agent reading a real receiver's NMEA", () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  it("delivers every fix, dated by the receiver, from a port mixing binary and NMEA", async () => {
    const dir = tempDir();
    const file = path.join(dir, "receiver.log");
    fs.writeFileSync(file, mixedCapture());
    const rec = await recordFixes(broker.url, "nmea-1");
    const agent = startAgent([
      "--vehicle-id",
      "nmea-1",
      "--broker",
      broker.url,
      "--buffer",
      path.join(dir, "agent.db"),
      "--source",
      `nmea:${file}`,
    ]);
    expect(await agent.exited, agent.stderr()).toBe(0);
    await rec.waitForAll(5);
    expect(rec.messages.flatMap((m) => m.ts).map((ts) => new Date(ts).toISOString())).toEqual([
      "2015-02-25T07:41:55.799Z",
      "2015-02-25T07:41:56.799Z",
      "2015-02-25T07:41:57.799Z",
      "2015-02-25T07:41:58.799Z",
      "2015-02-25T07:41:59.799Z",
    ]);
    expect(agent.stderr()).toContain("skipped invalid input from nmea:");
    expect(agent.stderr()).not.toContain("checksum");
    await rec.close();
  });
});

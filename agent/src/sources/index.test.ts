import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { DRIVE_FILE, DRIVE_SECONDS, driveEpochs } from "../../../tests/fixtures/nmea-drive.ts";
import { openSource, type SourceFix } from "./index.ts";

async function take(source: AsyncIterable<SourceFix>, max = Number.POSITIVE_INFINITY) {
  const fixes: SourceFix[] = [];
  for await (const fix of source) {
    fixes.push(fix);
    if (fixes.length >= max) break;
  }
  return fixes;
}

describe("openSource", () => {
  const signal = new AbortController().signal;

  it.each([
    ["", /unknown source "": expected stdin, nmea:PATH or gpsd:\/\/HOST:PORT/],
    ["serial", /unknown source "serial"/],
    ["nmea:", /no path after nmea:/],
    ["nmea:/nonexistent/gps.log", /cannot read NMEA from \/nonexistent\/gps\.log: ENOENT/],
    ["nmea:/", /cannot read NMEA from \/: \/ is a directory/],
    ["gpsd://host:port", /bad gpsd source/],
  ])("refuses %j with a clear error", (spec, message) => {
    expect(() => openSource(spec, { signal })).toThrow(message);
  });

  it("stdin: reads JSON lines, reports and skips bad ones", async () => {
    const input = new PassThrough();
    input.end(
      [
        '{"latitude":34.05,"longitude":-118.24,"ts":"2026-11-24T20:00:01Z","seq":9}',
        "",
        "not json",
        '{"latitude":95,"longitude":0}',
        `{"latitude":1,"longitude":2,"pad":"${"x".repeat(70_000)}"}`,
        '{"latitude":34.06,"longitude":-118.25}',
      ].join("\n"),
    );
    const invalid: string[] = [];
    const fixes = await take(
      openSource("stdin", { signal, input, onInvalid: (r) => invalid.push(r) }),
    );
    expect(fixes).toEqual([
      { latitude: 34.05, longitude: -118.24, ts: Date.parse("2026-11-24T20:00:01Z") },
      { latitude: 34.06, longitude: -118.25 },
    ]);
    expect(invalid).toEqual([
      "invalid_json",
      "invalid_latitude",
      "line longer than 65536 characters",
    ]);
  });

  it("stdin: the abort signal ends a source still waiting for input", async () => {
    const input = new PassThrough();
    const controller = new AbortController();
    input.write('{"latitude":1,"longitude":2}\n');
    const source = openSource("stdin", { signal: controller.signal, input });
    const fixes: SourceFix[] = [];
    for await (const fix of source) {
      fixes.push(fix);
      // Aborted once the source is back to waiting for the next line, which never comes.
      setImmediate(() => controller.abort());
    }
    expect(fixes).toHaveLength(1);
  });

  it("nmea: reads a log file to its end", async () => {
    const invalid: string[] = [];
    const fixes = await take(
      openSource(`nmea:${DRIVE_FILE}`, { signal, onInvalid: (r) => invalid.push(r) }),
    );
    expect(fixes).toHaveLength(DRIVE_SECONDS);
    expect(fixes.map((f) => f.ts)).toEqual(driveEpochs().map((e) => e.ts));
    expect(invalid).toHaveLength(20); // the cold start's RMC status V and GGA quality 0
  });

  it("nmea: stopping early closes the file", async () => {
    const fixes = await take(openSource(`nmea:${DRIVE_FILE}`, { signal }), 3);
    expect(fixes).toHaveLength(3);
  });

  it("nmea: reads a FIFO until its writer closes it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-nmea-"));
    const fifo = path.join(dir, "gps");
    execFileSync("mkfifo", [fifo]);
    try {
      const source = openSource(`nmea:${fifo}`, { signal });
      const reading = take(source);
      const lines = fs.readFileSync(DRIVE_FILE, "utf8").split("\n").slice(0, 90).join("\n");
      await fs.promises.writeFile(fifo, lines);
      const fixes = await reading;
      expect(fixes.length).toBe(10); // 60 lines of cold start, then 10 epochs of 3 lines
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

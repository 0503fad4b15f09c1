// The `nmea:` source against real receivers' captures (fixtures/, origins and licence in its
// README), read from files through the same path as the agent, clean and with the damage real
// ports add: binary frames before sentences, glued and cut sentences, flipped bytes. The expected
// fixes come from a second, deliberately simple decoding written here (a regex per sentence, the
// checksum, and dates assembled with the whole capture in view), not from the reader's own output.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SourceFix } from "./fix.ts";
import { openSource } from "./index.ts";
import { NmeaDecoder } from "./nmea.ts";

const FIXTURES = path.join(import.meta.dirname, "fixtures");
const DAY = 86_400_000;

interface Expected {
  ts: number;
  latitude: number;
  longitude: number;
  speed?: number;
  heading?: number;
  accuracy?: number;
  altitude?: number;
}

// ---- The oracle -------------------------------------------------------------------------------

const SENTENCE = /\$([A-Z]{2})(RMC|GGA),([^*$!\r\n]*)\*([0-9A-Fa-f]{2})/g;

function degrees(value: string, hemisphere: string): number {
  const v = Number.parseFloat(value);
  const whole = Math.trunc(v / 100);
  const d = whole + (v - whole * 100) / 60;
  return hemisphere === "S" || hemisphere === "W" ? -d : d;
}

function timeOfDay(t: string): number {
  return (
    Number(t.slice(0, 2)) * 3_600_000 +
    Number(t.slice(2, 4)) * 60_000 +
    Math.round(Number(t.slice(4)) * 1000)
  );
}

/** Every valid RMC/GGA in `text`, grouped into epochs by time, dated, merged. */
function oracle(text: string): Expected[] {
  const epochs: { time: string; rmc?: string[]; gga?: string[] }[] = [];
  for (const m of text.matchAll(SENTENCE)) {
    const [, talker, type, rest, sum] = m as unknown as string[];
    let x = 0;
    for (const c of `${talker}${type},${rest}`) x ^= c.charCodeAt(0);
    if (x !== Number.parseInt(sum ?? "", 16)) continue;
    const f = (rest ?? "").split(",");
    const time = f[0] ?? "";
    if (!/^\d{6}/.test(time)) continue;
    let epoch = epochs.at(-1);
    if (epoch?.time !== time) {
      epoch = { time };
      epochs.push(epoch);
    }
    if (type === "RMC" && f[1] === "A" && f[11] !== "N" && /^\d{6}$/.test(f[8] ?? "")) {
      epoch.rmc = f;
    }
    if (type === "GGA" && /^[1-9]$/.test(f[5] ?? "") && f[1] !== "") epoch.gga = f;
  }
  // Dates: an epoch's own RMC; otherwise the nearest dated epoch before it, or else after it,
  // across midnight when the time of day moved by more than half a day.
  const day = (f: string[]) => {
    const d = f[8] ?? "";
    const yy = Number(d.slice(4));
    return Date.UTC(
      yy < 80 ? 2000 + yy : 1900 + yy,
      Number(d.slice(2, 4)) - 1,
      Number(d.slice(0, 2)),
    );
  };
  const dated = epochs.map((e) => (e.rmc ? day(e.rmc) + timeOfDay(e.time) : undefined));
  const out: Expected[] = [];
  epochs.forEach((e, i) => {
    if (!e.rmc && !e.gga) return;
    let ts = dated[i];
    if (ts === undefined) {
      const before = dated.slice(0, i).findLast((t) => t !== undefined);
      const ref = before ?? dated.slice(i + 1).find((t) => t !== undefined);
      if (ref === undefined) return;
      ts = ref - (ref % DAY) + timeOfDay(e.time);
      if (ts - ref > DAY / 2) ts -= DAY;
      if (ref - ts > DAY / 2) ts += DAY;
    }
    const p = e.rmc ? [e.rmc[2], e.rmc[3], e.rmc[4], e.rmc[5]] : e.gga?.slice(1, 5);
    const fix: Expected = {
      ts,
      latitude: degrees(p?.[0] ?? "", p?.[1] ?? ""),
      longitude: degrees(p?.[2] ?? "", p?.[3] ?? ""),
    };
    if (e.rmc?.[6]) fix.speed = (Number(e.rmc[6]) * 1852) / 3600;
    if (e.rmc?.[7]) fix.heading = Number(e.rmc[7]);
    if (e.gga?.[7]) fix.accuracy = Number(e.gga[7]) * 5;
    if (e.gga?.[8]) fix.altitude = Number(e.gga[8]);
    out.push(fix);
  });
  return out;
}

function expectSameFixes(got: SourceFix[], want: Expected[]): void {
  expect(got.map((f) => new Date(f.ts ?? 0).toISOString())).toEqual(
    want.map((f) => new Date(f.ts).toISOString()),
  );
  got.forEach((fix, i) => {
    const w = want[i];
    if (!w) return;
    expect(fix.latitude).toBeCloseTo(w.latitude, 8);
    expect(fix.longitude).toBeCloseTo(w.longitude, 8);
    expect(Object.keys(fix).sort()).toEqual(Object.keys(w).sort());
    for (const key of ["speed", "heading", "accuracy", "altitude"] as const) {
      if (w[key] !== undefined) expect(fix[key]).toBeCloseTo(w[key], 9);
    }
  });
}

// ---- Reading files as the agent does ---------------------------------------------------------

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-nmea-captures-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let written = 0;

async function readThroughSource(
  bytes: Buffer,
): Promise<{ fixes: SourceFix[]; invalid: string[] }> {
  const file = path.join(dir, `capture-${written++}.log`);
  fs.writeFileSync(file, bytes);
  const invalid: string[] = [];
  const fixes: SourceFix[] = [];
  const signal = AbortSignal.timeout(10_000);
  for await (const fix of openSource(`nmea:${file}`, {
    signal,
    onInvalid: (r) => invalid.push(r),
  })) {
    fixes.push(fix);
  }
  return { fixes, invalid };
}

const CAPTURES = [
  { file: "beidou-bd.log", fixes: 5, first: "2015-02-25T07:41:55.799Z" },
  { file: "beidou-gb.log", fixes: 2, first: "2015-03-02T05:32:32.438Z" },
  { file: "furuno_gl_ga.log", fixes: 4, first: "2022-07-31T12:02:13.000Z" },
  { file: "gp-320fw-2019-04-06-overflow.log", fixes: 10, first: "2019-04-06T23:57:24.020Z" },
];

function capture(file: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, file));
}

// ---- Damage as real ports add it --------------------------------------------------------------

/** A UBX-shaped binary frame: sync bytes, class, id, length, a payload of awkward bytes. */
function ubxFrame(n: number, size = 60): Buffer {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (n * 37 + i * 101) & 0xff;
  // Bytes that matter to a text reader: '$' and '!' (a false sentence start), CR, LF, '*',
  // invalid UTF-8 lead bytes and a NUL.
  payload.set(
    [0x24, 0x47, 0x50, 0x52, 0x4d, 0x43, 0x2c, 0x00, 0x21, 0x0d, 0xe2, 0x82, 0x2a, 0xff],
    n % 20,
  );
  const header = Buffer.from([0xb5, 0x62, 0x01, 0x07, size & 0xff, size >> 8]);
  return Buffer.concat([header, payload, Buffer.from([0x5a, 0xa5])]);
}

/** Puts a binary frame before every sentence, on the same line. */
function withBinaryBefore(text: Buffer, frameSize = 60): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (const line of text.toString("latin1").split("\n")) {
    if (line.trimStart().startsWith("$")) parts.push(ubxFrame(n++, frameSize));
    parts.push(Buffer.from(`${line}\n`, "latin1"));
  }
  return Buffer.concat(parts);
}

describe("real receivers' captures against an independent decoding", () => {
  it.each(CAPTURES)("$file: every fix as the oracle decodes it", async ({ file, fixes, first }) => {
    const text = capture(file);
    const want = oracle(text.toString("latin1"));
    // The oracle itself is checked against what the capture's header and a reading by eye say.
    expect(want).toHaveLength(fixes);
    expect(new Date(want[0]?.ts ?? 0).toISOString()).toBe(first);
    const { fixes: got } = await readThroughSource(text);
    expectSameFixes(got, want);
  });

  it.each(CAPTURES)(
    "$file: a binary frame before every sentence loses nothing",
    async ({ file }) => {
      const text = capture(file);
      const { fixes } = await readThroughSource(withBinaryBefore(text));
      expectSameFixes(fixes, oracle(text.toString("latin1")));
    },
  );

  it("binary runs longer than a line's limit before a sentence still leave the sentence", async () => {
    const text = capture("beidou-bd.log");
    const { fixes } = await readThroughSource(withBinaryBefore(text, 3000));
    expectSameFixes(fixes, oracle(text.toString("latin1")));
  });

  it.each(CAPTURES)(
    "$file: sentences glued on one line, CRLF kept only after the last",
    async ({ file }) => {
      const text = capture(file).toString("latin1");
      const glued = text.replace(/\r\n *(?=\$)/g, "");
      expect(glued.split("\n").filter((line) => line.trimStart().startsWith("$"))).toHaveLength(1);
      const { fixes } = await readThroughSource(Buffer.from(glued, "latin1"));
      expectSameFixes(fixes, oracle(text));
    },
  );

  it.each(CAPTURES)(
    "$file: cut sentences and flipped bytes drop only what they hit",
    async ({ file }) => {
      const lines = capture(file).toString("latin1").split("\n");
      let sentences = 0;
      const damaged = lines.map((line) => {
        if (!line.includes("$")) return line;
        sentences++;
        // Every 3rd sentence cut in half (the rest of its line lost), every 5th a byte flipped.
        if (sentences % 3 === 0) return line.slice(0, Math.floor(line.length / 2));
        if (sentences % 5 === 0) return line.replace(/,(\d)/, (_, d) => `,${(Number(d) + 1) % 10}`);
        return line;
      });
      const text = damaged.join("\n");
      const want = oracle(text);
      const { fixes, invalid } = await readThroughSource(Buffer.from(text, "latin1"));
      expectSameFixes(fixes, want);
      expect(invalid.some((r) => / (bad|without) checksum$/.test(r))).toBe(true);
    },
  );
});

describe("a receiver reporting a date 1024 weeks behind (GPS week rollover)", () => {
  const lines = capture("april6_2019.log").toString("latin1").split("\n");

  function decode(now: number) {
    const invalid: string[] = [];
    const decoder = new NmeaDecoder({ onInvalid: (r) => invalid.push(r), now: () => now });
    const fixes = lines.flatMap((l) => decoder.push(l)).concat(decoder.end());
    return { fixes, invalid };
  }

  it("is moved on by 1024 weeks when that lands on the agent's clock", () => {
    const { fixes, invalid } = decode(Date.parse("2019-04-07T00:02:33Z"));
    expect(fixes.map((f) => new Date(f.ts ?? 0).toISOString())).toEqual([
      "2019-04-07T00:02:31.420Z",
    ]);
    expect(invalid).toEqual(["RMC bad time", "RMC bad date"]);
  });

  it("is kept as sent when replayed years later: the clock never dates a fix", () => {
    const { fixes } = decode(Date.parse("2026-12-06T12:00:00Z"));
    expect(fixes.map((f) => new Date(f.ts ?? 0).toISOString())).toEqual([
      "1999-08-22T00:02:31.420Z",
    ]);
  });
});

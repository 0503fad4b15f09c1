// Finding sentences in what a receiver's port delivers: wherever they start, between binary
// frames, glued, cut, split across reads.

import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SourceFix } from "./fix.ts";
import { NmeaDecoder } from "./nmea.ts";
import { findSentences, MAX_SENTENCE, SentenceScanner } from "./nmea-sentence.ts";

const GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47";
const RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A";
const binary = (...bytes: number[]) => String.fromCharCode(...bytes);

describe("findSentences", () => {
  it.each([
    ["a sentence alone", GGA, [GGA]],
    [
      "after binary bytes (UBX sync, invalid UTF-8)",
      `${binary(0xb5, 0x62, 0x01, 0x07, 0xe2)}${RMC}`,
      [RMC],
    ],
    ["after text that is not a sentence", `junk ${GGA}`, [GGA]],
    ["glued to the next one", `${GGA}${RMC}`, [GGA, RMC]],
    ["followed by binary after its checksum", `${GGA}${binary(0xb5, 0x62)}`, [GGA]],
    ["cut by the next sentence", `$GPRMC,1235${GGA}`, ["$GPRMC,1235", GGA]],
    ["cut by a binary byte", `$GPRMC,12${binary(0x00)}35,A`, ["$GPRMC,12"]],
    [
      "cut by an encapsulated sentence",
      `$GPGGA,1!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26`,
      ["$GPGGA,1", "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26"],
    ],
    ["with CR-only line ends", `${GGA}\r${RMC}\r`, [GGA, RMC]],
    ["without any sentence", binary(0xb5, 0x62, 0x0d, 0x0a, 0x41), []],
  ])("finds a sentence %s", (_name, line, want) => {
    expect(findSentences(line)).toEqual(want);
  });

  it(`cuts a sentence at ${MAX_SENTENCE} characters`, () => {
    const long = `$GPGGA,${"1".repeat(2 * MAX_SENTENCE)}`;
    expect(findSentences(long)).toEqual([long.slice(0, MAX_SENTENCE)]);
  });
});

describe("reading a port in pieces", () => {
  const capture = fs.readFileSync(path.join(import.meta.dirname, "fixtures", "beidou-bd.log"));
  const text = capture.toString("latin1");

  function whole(): SourceFix[] {
    const decoder = new NmeaDecoder({ now: () => 0 });
    return [...decoder.write(text), ...decoder.end()];
  }

  it("finds the same sentences and fixes wherever the reads split the stream", () => {
    const want = whole();
    expect(want).toHaveLength(5);
    const sentences = [...new SentenceScanner().write(text)];
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const bounds = [0, ...cuts.sort((a, b) => a - b), text.length];
          const scanner = new SentenceScanner();
          const decoder = new NmeaDecoder({ now: () => 0 });
          const found: string[] = [];
          const fixes: SourceFix[] = [];
          for (let i = 1; i < bounds.length; i++) {
            const piece = text.slice(bounds[i - 1], bounds[i]);
            found.push(...scanner.write(piece));
            fixes.push(...decoder.write(piece));
          }
          found.push(...scanner.end());
          fixes.push(...decoder.end());
          expect(found).toEqual(sentences);
          expect(fixes).toEqual(want);
        },
      ),
      { numRuns: 200 },
    );
  });
});

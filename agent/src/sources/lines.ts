// Splits a byte stream into text lines with a bounded length, so a device or pipe that never sends
// a newline cannot make the agent hold an unbounded string.
//
// Text protocols (JSON) are read as UTF-8. A GPS receiver's serial port may interleave binary
// frames (u-blox UBX and the like) with its NMEA text: read as "latin1", every byte becomes exactly
// one character, so no byte sequence can swallow or alter the ASCII of a sentence next to it.

import { StringDecoder } from "node:string_decoder";

export interface LineOptions {
  signal: AbortSignal;
  /** Longest line kept, in UTF-16 code units (bytes for latin1). */
  maxLength: number;
  onInvalid?: (reason: string) => void;
  /** How bytes become text; default "utf8". "latin1" maps each byte to one character. */
  encoding?: "utf8" | "latin1";
  /**
   * What happens to a line longer than maxLength: "drop" (default) drops it whole and reports it;
   * "keep-end" keeps its last maxLength characters without a report, for streams where binary
   * runs without newlines precede the text that matters at a line's end.
   */
  overflow?: "drop" | "keep-end";
}

/**
 * The lines of `stream` (without `\n` or a trailing `\r`), until it ends or `signal` aborts.
 * On abort the stream is destroyed and the iteration ends quietly; a read error is thrown.
 */
export async function* readLines(
  stream: NodeJS.ReadableStream,
  options: LineOptions,
): AsyncGenerator<string> {
  const { signal, maxLength, onInvalid } = options;
  const keepEnd = options.overflow === "keep-end";
  if (signal.aborted) return;
  const destroy = () => (stream as { destroy?: () => void }).destroy?.();
  signal.addEventListener("abort", destroy, { once: true });
  const decoder = new StringDecoder(options.encoding ?? "utf8");
  let partial = "";
  // Inside an over-long line: its rest is discarded up to the next newline.
  let skipping = false;

  function* split(text: string): Generator<string> {
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl === -1) break;
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        partial = "";
        continue;
      }
      let line = partial + piece;
      partial = "";
      if (line.length > maxLength && keepEnd) line = line.slice(-maxLength);
      if (line.length > maxLength) {
        onInvalid?.(`line longer than ${maxLength} characters`);
        continue;
      }
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    if (skipping) return;
    partial += text.slice(start);
    if (partial.length > maxLength && keepEnd) {
      partial = partial.slice(-maxLength);
    } else if (partial.length > maxLength) {
      onInvalid?.(`line longer than ${maxLength} characters`);
      partial = "";
      skipping = true;
    }
  }

  try {
    for await (const chunk of stream) {
      yield* split(typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer));
    }
    const rest = decoder.end();
    if (rest !== "" || partial !== "") yield* split(`${rest}\n`);
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    signal.removeEventListener("abort", destroy);
  }
}

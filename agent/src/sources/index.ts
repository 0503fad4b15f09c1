// GPS sources for the agent: `stdin` (JSON lines), `nmea:PATH` (NMEA 0183 from a file or serial
// device) and `gpsd://HOST:PORT`. Each is an async iterable of fixes that ends on abort.

import { openDevice } from "./device.ts";
import type { SourceFix, SourceOptions } from "./fix.ts";
import { gpsdFixes, parseGpsdSpec } from "./gpsd.ts";
import { parseJsonFix } from "./json-lines.ts";
import { readLines } from "./lines.ts";
import { NmeaDecoder } from "./nmea.ts";

export type { SourceFix, SourceOptions } from "./fix.ts";

/** Longest JSON line read from stdin. */
const MAX_JSON_LINE = 65_536;
/**
 * Longest NMEA line kept, in bytes. Sentences are at most 82 characters (some receivers exceed
 * that); a longer line is binary data from a receiver mixing protocols, and only its end, where
 * the sentence after the binary lies, is kept.
 */
const MAX_NMEA_LINE = 1024;

const USAGE = "expected stdin, nmea:PATH or gpsd://HOST:PORT";

/**
 * Opens the GPS source named by `spec` (the agent's `--source`). Throws an Error naming the
 * problem for a malformed spec or an NMEA path that cannot be opened. The fixes are read lazily:
 * nothing is read until the iteration starts, and it ends when `options.signal` aborts (or, for a
 * regular file or stdin, at its end). Invalid input never ends it: it is reported through
 * `options.onInvalid` and skipped.
 */
export function openSource(spec: string, options: SourceOptions): AsyncIterable<SourceFix> {
  if (spec === "stdin") {
    return stdinFixes(options.input ?? process.stdin, options);
  }
  if (spec.startsWith("nmea:")) {
    const file = spec.slice("nmea:".length);
    if (file === "") throw new Error(`bad source ${JSON.stringify(spec)}: no path after nmea:`);
    let stream: NodeJS.ReadableStream;
    try {
      stream = openDevice(file);
    } catch (err) {
      throw new Error(`cannot read NMEA from ${file}: ${(err as Error).message}`, { cause: err });
    }
    return nmeaFixes(stream, options);
  }
  if (spec.startsWith("gpsd:")) return gpsdFixes(parseGpsdSpec(spec), options);
  throw new Error(`unknown source ${JSON.stringify(spec)}: ${USAGE}`);
}

async function* stdinFixes(
  input: NodeJS.ReadableStream,
  options: SourceOptions,
): AsyncGenerator<SourceFix> {
  const { signal, onInvalid } = options;
  for await (const line of readLines(input, { signal, maxLength: MAX_JSON_LINE, onInvalid })) {
    if (line.trim() === "") continue;
    const fix = parseJsonFix(line);
    if (typeof fix === "string") onInvalid?.(fix);
    else yield fix;
  }
}

async function* nmeaFixes(
  stream: NodeJS.ReadableStream,
  options: SourceOptions,
): AsyncGenerator<SourceFix> {
  const { signal, onInvalid } = options;
  const decoder = new NmeaDecoder({ onInvalid });
  try {
    const lines = readLines(stream, {
      signal,
      maxLength: MAX_NMEA_LINE,
      onInvalid,
      // Binary-safe: one character per byte, so binary frames cannot corrupt a sentence.
      encoding: "latin1",
      overflow: "keep-end",
    });
    for await (const line of lines) {
      yield* decoder.push(line);
    }
    if (!signal.aborted) yield* decoder.end();
  } finally {
    (stream as { destroy?: () => void }).destroy?.();
  }
}

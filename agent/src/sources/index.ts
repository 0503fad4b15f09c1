// GPS sources for the agent: `stdin` (JSON lines), `nmea:PATH` (NMEA 0183 from a file or serial
// device) and `gpsd://HOST:PORT`. Each is an async iterable of fixes that ends on abort.

import { openDevice } from "./device.ts";
import type { SourceFix, SourceOptions } from "./fix.ts";
import { gpsdFixes, parseGpsdSpec } from "./gpsd.ts";
import { parseJsonFix } from "./json-lines.ts";
import { readChunks, readLines } from "./lines.ts";
import { NmeaDecoder } from "./nmea.ts";

export type { SourceFix, SourceOptions } from "./fix.ts";

/** Longest JSON line read from stdin. */
const MAX_JSON_LINE = 65_536;

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
    for await (const chunk of readChunks(stream, signal)) {
      // latin1: one character per byte, so binary frames sharing the port (UBX and the like) can
      // neither swallow nor alter the ASCII of a sentence next to them; sentences are found
      // wherever they start, not only at line starts.
      yield* decoder.write(typeof chunk === "string" ? chunk : chunk.toString("latin1"));
    }
    if (!signal.aborted) yield* decoder.end();
  } finally {
    (stream as { destroy?: () => void }).destroy?.();
  }
}

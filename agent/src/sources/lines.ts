// Splits a byte stream into text lines with a bounded length, so a device or pipe that never sends
// a newline cannot make the agent hold an unbounded string; and the raw chunks, for readers that
// find their own boundaries (NMEA sentences).

import { StringDecoder } from "node:string_decoder";

export interface LineOptions {
  signal: AbortSignal;
  /** Longest line kept, in UTF-16 code units; longer ones are dropped whole and reported. */
  maxLength: number;
  onInvalid?: (reason: string) => void;
}

/**
 * The chunks of `stream` as they arrive, until it ends or `signal` aborts. On abort the stream is
 * destroyed and the iteration ends quietly; a read error is thrown.
 */
export async function* readChunks(
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
): AsyncGenerator<Buffer | string> {
  if (signal.aborted) return;
  const destroy = () => (stream as { destroy?: () => void }).destroy?.();
  signal.addEventListener("abort", destroy, { once: true });
  try {
    for await (const chunk of stream) yield chunk as Buffer | string;
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    signal.removeEventListener("abort", destroy);
  }
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
  const decoder = new StringDecoder("utf8");
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
      const line = partial + piece;
      partial = "";
      if (line.length > maxLength) {
        onInvalid?.(`line longer than ${maxLength} characters`);
        continue;
      }
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    if (skipping) return;
    partial += text.slice(start);
    if (partial.length > maxLength) {
      onInvalid?.(`line longer than ${maxLength} characters`);
      partial = "";
      skipping = true;
    }
  }

  for await (const chunk of readChunks(stream, signal)) {
    yield* split(typeof chunk === "string" ? chunk : decoder.write(chunk));
  }
  if (signal.aborted) return;
  const rest = decoder.end();
  if (rest !== "" || partial !== "") yield* split(`${rest}\n`);
}

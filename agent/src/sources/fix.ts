// What every GPS source produces and the options every source takes.

/** One position from a GPS source, in §3 units. */
export interface SourceFix {
  latitude: number;
  longitude: number;
  /** Time of the fix, epoch ms; absent when the source did not say (the agent uses its clock). */
  ts?: number;
  /** m/s */
  speed?: number;
  /** Degrees clockwise from true north, 0..360. */
  heading?: number;
  /** Horizontal accuracy estimate, m. */
  accuracy?: number;
  /** m above mean sea level */
  altitude?: number;
}

export interface SourceOptions {
  /** Stops the source: the iteration ends quietly and every file or socket is closed. */
  signal: AbortSignal;
  /** Called with a short reason for each line, sentence or report that was skipped. */
  onInvalid?: (reason: string) => void;
  /** Replaces process.stdin for the `stdin` source (tests). */
  input?: NodeJS.ReadableStream;
}

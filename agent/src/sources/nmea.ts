// NMEA 0183 decoding for the `nmea:PATH` source: the RMC and GGA sentences found in the byte
// stream (nmea-sentence.ts), one fix per receiver epoch with RMC and GGA merged, dated only by the
// receiver.
//
// Dating, where NMEA leaves room:
// - Only an RMC with a fix carries the date; GGA carries only the time of day. An epoch without a
//   valid RMC takes the date of the latest dated epoch, one day on (or back) when its time of day
//   jumps back (or forward) by more than 12 h: midnight UTC passed between them.
// - Before the receiver's first date, GGA-only epochs are held, never dated by the agent's clock:
//   the clock may be wrong, and a replayed log is not from today. When the first RMC arrives, the
//   held epochs take its date (the day that puts them nearest to it) and leave before it. At most
//   HOLD_MS of receiver time and HOLD_EPOCHS epochs are held; older ones, and those still held
//   when the input ends, are dropped and reported.
// - GPS week rollover: a receiver whose firmware predates a 1024-week rollover reports dates
//   exactly 1024 weeks (19.6 years) in the past. A date that lands within ROLLOVER_WINDOW_MS of the
//   agent's clock once moved on by 1024 (or 2048) weeks is moved on. The clock only chooses between
//   dates the receiver cannot tell apart; it never dates a fix. A replayed old log keeps its dates.

import type { SourceFix } from "./fix.ts";
import { type NmeaPosition, parseNmeaSentence, SentenceScanner } from "./nmea-sentence.ts";

export {
  HDOP_METRES,
  type NmeaPosition,
  type NmeaRejected,
  parseNmeaSentence,
} from "./nmea-sentence.ts";

const DAY_MS = 86_400_000;
const HALF_DAY_MS = DAY_MS / 2;

/** Longest span of receiver time held while waiting for the receiver's first date. */
export const HOLD_MS = 10_000;
/** Most epochs held while waiting for the receiver's first date (HOLD_MS at 10 Hz). */
export const HOLD_EPOCHS = 100;
/** 1024 GPS weeks, in days. */
export const ROLLOVER_DAYS = 1024 * 7;
/** How near the clock a date moved on by 1024 weeks must land to be taken as a rollover date. */
export const ROLLOVER_WINDOW_MS = 2 * DAY_MS;

interface Epoch {
  msOfDay: number;
  /** Sentence types that arrived for this epoch, valid or not. */
  present: Set<string>;
  rmc?: NmeaPosition;
  gga?: NmeaPosition;
}

export interface NmeaDecoderOptions {
  onInvalid?: (reason: string) => void;
  /**
   * The agent's clock, epoch ms; default Date.now. Used only to recognise a date 1024 weeks behind
   * (GPS week rollover), never to date a fix.
   */
  now?: () => number;
}

/**
 * Turns NMEA lines into fixes, one per receiver epoch (a distinct UTC time of day). An epoch is
 * emitted as soon as every sentence type the receiver sends has arrived for it (learnt from the
 * first epoch), or else when the next epoch begins or the input ends; epochs that wait for the
 * receiver's first date come out with it (see the top of this file).
 */
export class NmeaDecoder {
  readonly #onInvalid: ((reason: string) => void) | undefined;
  readonly #now: () => number;
  #pending: Epoch | undefined;
  /** Sentence types this receiver sends; known once the first epoch is complete. */
  readonly #types = new Set<string>();
  #typesKnown = false;
  #lastEmitted: number | undefined;
  /** Date (days since 1970) and time of day of the latest dated fix. */
  #lastDay: number | undefined;
  #lastMsOfDay = 0;
  /** Epochs with a position but no date yet, oldest first (only before the first date). */
  readonly #held: Epoch[] = [];
  readonly #scanner = new SentenceScanner();

  constructor(options: NmeaDecoderOptions = {}) {
    this.#onInvalid = options.onInvalid;
    this.#now = options.now ?? Date.now;
  }

  /** Feeds one line (its end ends any sentence in it); returns the fixes it completes. */
  push(line: string): SourceFix[] {
    return this.write(`${line}\n`);
  }

  /**
   * Feeds text as it arrives from the receiver, one character per byte (latin1); returns the
   * fixes it completes (usually none or one).
   */
  write(text: string): SourceFix[] {
    const out: SourceFix[] = [];
    for (const sentence of this.#scanner.write(text)) this.#sentence(sentence, out);
    return out;
  }

  /** The input ended: returns the last epochs' fixes, if any. */
  end(): SourceFix[] {
    const out: SourceFix[] = [];
    for (const sentence of this.#scanner.end()) this.#sentence(sentence, out);
    this.#flush(out);
    for (const _ of this.#held.splice(0)) {
      this.#onInvalid?.("GGA fix dropped: the input ended before the receiver sent its date (RMC)");
    }
    return out;
  }

  #sentence(sentence: string, out: SourceFix[]): void {
    const parsed = parseNmeaSentence(sentence);
    if (parsed === null) return;
    if (typeof parsed === "string") {
      this.#onInvalid?.(parsed);
      return;
    }
    if ("invalid" in parsed) this.#onInvalid?.(parsed.invalid);
    if (parsed.msOfDay === null) return;

    if (this.#pending && this.#pending.msOfDay !== parsed.msOfDay) {
      this.#typesKnown = true;
      this.#flush(out);
    }
    if (!this.#pending && parsed.msOfDay === this.#lastEmitted) {
      // A sentence for the epoch just judged complete. A repeat of a known type adds nothing. A
      // type not seen before (the capture began mid-epoch, or the first epoch's RMC was lost)
      // joins the set, so later epochs wait for it; the epoch itself, if still held for a date,
      // is reopened, since this may be the RMC that dates it.
      const held = this.#held.at(-1);
      if (this.#types.has(parsed.type) || held?.msOfDay !== parsed.msOfDay) {
        this.#types.add(parsed.type);
        return;
      }
      this.#held.pop();
      this.#pending = held;
    }
    this.#types.add(parsed.type);
    const epoch = this.#pending ?? { msOfDay: parsed.msOfDay, present: new Set<string>() };
    this.#pending = epoch;
    epoch.present.add(parsed.type);
    if (!("invalid" in parsed)) {
      if (parsed.type === "RMC") epoch.rmc = parsed;
      else epoch.gga = parsed;
    }
    if (this.#typesKnown && [...this.#types].every((t) => epoch.present.has(t))) this.#flush(out);
  }

  #flush(out: SourceFix[]): void {
    const epoch = this.#pending;
    this.#pending = undefined;
    if (!epoch) return;
    this.#lastEmitted = epoch.msOfDay;
    if (!epoch.rmc && !epoch.gga) return;
    const rmcDay = epoch.rmc?.day;
    if (rmcDay !== undefined) {
      const day = this.#afterRollover(rmcDay, epoch.msOfDay);
      for (const held of this.#held.splice(0)) {
        this.#emit(held, dayNear(held.msOfDay, day, epoch.msOfDay), out);
      }
      this.#emit(epoch, day, out);
    } else if (this.#lastDay !== undefined) {
      this.#emit(epoch, dayNear(epoch.msOfDay, this.#lastDay, this.#lastMsOfDay), out);
    } else {
      this.#hold(epoch);
    }
  }

  #emit(epoch: Epoch, day: number, out: SourceFix[]): void {
    const { rmc, gga } = epoch;
    const position = rmc ?? gga;
    if (!position) return;
    this.#lastDay = day;
    this.#lastMsOfDay = epoch.msOfDay;
    const fix: SourceFix = {
      latitude: position.latitude,
      longitude: position.longitude,
      ts: day * DAY_MS + epoch.msOfDay,
    };
    if (rmc?.speed !== undefined) fix.speed = rmc.speed;
    if (rmc?.heading !== undefined) fix.heading = rmc.heading;
    if (gga?.accuracy !== undefined) fix.accuracy = gga.accuracy;
    if (gga?.altitude !== undefined) fix.altitude = gga.altitude;
    out.push(fix);
  }

  /** Holds an undated epoch, dropping (and reporting) what falls beyond the bounds. */
  #hold(epoch: Epoch): void {
    this.#held.push(epoch);
    for (;;) {
      const oldest = this.#held[0];
      if (!oldest || oldest === epoch) break;
      // Receiver time from the oldest held epoch to this one, across midnight.
      const span = (((epoch.msOfDay - oldest.msOfDay) % DAY_MS) + DAY_MS) % DAY_MS;
      if (this.#held.length <= HOLD_EPOCHS && span <= HOLD_MS) break;
      this.#held.shift();
      this.#onInvalid?.(
        `GGA fix dropped: no date from the receiver (RMC) within ${HOLD_MS / 1000} s; ` +
          "make sure it sends RMC",
      );
    }
  }

  /** The receiver's date, moved on by 1024 or 2048 weeks when that lands on the agent's clock. */
  #afterRollover(day: number, msOfDay: number): number {
    const now = this.#now();
    for (let k = 1; k <= 2; k++) {
      const moved = day + k * ROLLOVER_DAYS;
      if (Math.abs(moved * DAY_MS + msOfDay - now) <= ROLLOVER_WINDOW_MS) return moved;
    }
    return day;
  }
}

/** The day for `msOfDay` that puts it nearest to (refDay, refMsOfDay): midnight may lie between. */
function dayNear(msOfDay: number, refDay: number, refMsOfDay: number): number {
  const jump = msOfDay - refMsOfDay;
  if (jump < -HALF_DAY_MS) return refDay + 1;
  if (jump > HALF_DAY_MS) return refDay - 1;
  return refDay;
}

// One NMEA 0183 sentence at a time: finding sentences wherever they start in a line, verifying
// their checksums, and reading the fields of RMC and GGA from any talker (GP, GN, GL, GA, BD, GB,
// IN, QZ, ...). Epochs, dates and fixes are the decoder's business (nmea.ts).
//
// Choices where NMEA leaves room:
// - A sentence starts at `$` (or `!`, encapsulated data such as AIS) wherever it is in the byte
//   stream: receivers that mix binary protocols into the port put binary bytes before it, and a
//   sentence cut short runs straight into the next one. It ends at its `*hh` checksum, CR or LF,
//   the next `$`/`!`, or the first byte that is not printable ASCII (which no sentence contains).
// - A sentence must carry its `*hh` checksum: a sentence cut short (by a dropped byte, a buffer
//   overrun, binary data) looks exactly like one sent without it, and would otherwise pass as a
//   position. Real receivers always send it.
// - accuracy = HDOP × 5 m (HDOP_METRES): HDOP is unitless, and ~5 m is a typical user range error
//   of a consumer receiver, so this is a rough horizontal error estimate, not a guarantee.
// - Two-digit RMC years are 1980..2079 (GPS started in 1980).

/** Horizontal accuracy in metres per unit of HDOP. */
export const HDOP_METRES = 5;

const KNOTS_TO_MS = 1852 / 3600;
const DAY_MS = 86_400_000;

/** The fields of one valid RMC or GGA sentence. */
export interface NmeaPosition {
  type: "RMC" | "GGA";
  /** UTC time of day, ms since midnight. */
  msOfDay: number;
  latitude: number;
  longitude: number;
  /** RMC only: UTC date as days since 1970-01-01. */
  day?: number;
  speed?: number;
  heading?: number;
  altitude?: number;
  accuracy?: number;
}

/** A sentence of a type this decoder reads that cannot give a fix, and why. */
export interface NmeaRejected {
  type: "RMC" | "GGA";
  /** Its time of day when readable, so the epoch it belongs to is still known. */
  msOfDay: number | null;
  invalid: string;
}

const DOLLAR = 0x24;
const BANG = 0x21;
const STAR = 0x2a;

/** Longest sentence kept: NMEA allows 82 characters, some receivers send longer ones. */
export const MAX_SENTENCE = 512;

/**
 * Finds sentences in text that arrives in pieces: each runs from its `$` or `!` to its checksum's
 * two characters, or to wherever it is cut (CR or LF, the next `$`/`!`, a byte that is not
 * printable ASCII, MAX_SENTENCE characters). Bytes outside sentences (binary frames, comments) are
 * skipped, so no line length limits what lies around a sentence. The text must hold one character
 * per byte (latin1), so binary bytes can be told from text.
 */
export class SentenceScanner {
  #current = "";
  /** Where the `*` before the checksum is in #current, or -1. */
  #star = -1;

  /** Feeds text; returns the sentences it completes, whole or cut. */
  write(text: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === DOLLAR || c === BANG) {
        this.#finish(out);
        this.#current = text.charAt(i);
      } else if (this.#current === "") {
        // Outside a sentence: skipped.
      } else if (c < 0x20 || c > 0x7e) {
        this.#finish(out);
      } else {
        this.#current += text.charAt(i);
        if (c === STAR && this.#star === -1) this.#star = this.#current.length - 1;
        const done = this.#star !== -1 && this.#current.length === this.#star + 3;
        if (done || this.#current.length >= MAX_SENTENCE) this.#finish(out);
      }
    }
    return out;
  }

  /** The input ended: returns the sentence in progress, cut. */
  end(): string[] {
    const out: string[] = [];
    this.#finish(out);
    return out;
  }

  #finish(out: string[]): void {
    if (this.#current !== "") out.push(this.#current);
    this.#current = "";
    this.#star = -1;
  }
}

/** The sentences in one line of text (see SentenceScanner). */
export function findSentences(line: string): string[] {
  const scanner = new SentenceScanner();
  return [...scanner.write(line), ...scanner.end()];
}

/**
 * Reads one sentence. Null for a blank line or a sentence type other than RMC/GGA (ignored);
 * a string when the text is not an NMEA sentence at all. Never throws.
 */
export function parseNmeaSentence(line: string): NmeaPosition | NmeaRejected | string | null {
  const s = line.trim();
  if (s === "") return null;
  const first = s.charCodeAt(0);
  if (first !== DOLLAR && first !== BANG) return "not an NMEA sentence";
  const comma = s.indexOf(",");
  const address = comma === -1 ? s.slice(1) : s.slice(1, comma);
  // Standard sentences: a two-letter talker then the type. Proprietary ($P...) and others are ignored.
  if (address.length !== 5 || address.charCodeAt(0) === 0x50 /* P */) return null;
  const kind = address.slice(2);
  if (kind !== "RMC" && kind !== "GGA") return null;
  const type: "RMC" | "GGA" = kind;

  const star = s.lastIndexOf("*");
  if (star === -1) return { type, msOfDay: null, invalid: `${type} without checksum` };
  const given = s.slice(star + 1);
  if (!/^[0-9A-Fa-f]{2}$/.test(given)) {
    return { type, msOfDay: null, invalid: `${type} malformed checksum` };
  }
  let sum = 0;
  for (let i = 1; i < star; i++) sum ^= s.charCodeAt(i);
  if ((sum & 0xff) !== Number.parseInt(given, 16) || sum > 0xff) {
    return { type, msOfDay: null, invalid: `${type} bad checksum` };
  }

  const f = s.slice(1, star).split(",");
  const msOfDay = parseTime(f[1] ?? "");
  const reject = (why: string): NmeaRejected => ({ type, msOfDay, invalid: `${type} ${why}` });
  if (msOfDay === null) return reject("bad time");
  return type === "RMC" ? readRmc(f, msOfDay, reject) : readGga(f, msOfDay, reject);
}

// $--RMC,hhmmss.ss,A,llll.ll,a,yyyyy.yy,a,x.x,x.x,ddmmyy,x.x,a[,m[,s]]*hh
function readRmc(
  f: string[],
  msOfDay: number,
  reject: (why: string) => NmeaRejected,
): NmeaPosition | NmeaRejected {
  if (f.length < 10) return reject("too few fields");
  const status = f[2];
  if (status !== "A") return reject(`status ${status === "" ? "empty" : status} (no fix)`);
  // NMEA 2.3 mode indicator: N means the data is not valid even with status A.
  if (f[12] === "N") return reject("mode N (no fix)");
  const latitude = parseLatitude(f[3] ?? "", f[4] ?? "");
  const longitude = parseLongitude(f[5] ?? "", f[6] ?? "");
  if (latitude === null || longitude === null) return reject("bad position");
  const day = parseDate(f[9] ?? "");
  if (day === null) return reject("bad date");
  const out: NmeaPosition = { type: "RMC", msOfDay, latitude, longitude, day };
  const knots = optionalNumber(f[7]);
  if (knots === null || (knots !== undefined && knots < 0)) return reject("bad speed");
  if (knots !== undefined) out.speed = knots * KNOTS_TO_MS;
  const course = optionalNumber(f[8]);
  if (course === null || (course !== undefined && (course < 0 || course > 360))) {
    return reject("bad course");
  }
  if (course !== undefined) out.heading = course;
  return out;
}

// $--GGA,hhmmss.ss,llll.ll,a,yyyyy.yy,a,q,nn,h.h,a.a,M,g.g,M,x.x,xxxx*hh
function readGga(
  f: string[],
  msOfDay: number,
  reject: (why: string) => NmeaRejected,
): NmeaPosition | NmeaRejected {
  if (f.length < 7) return reject("too few fields");
  const quality = f[6] ?? "";
  if (!/^\d$/.test(quality)) return reject("bad fix quality");
  if (quality === "0") return reject("fix quality 0 (no fix)");
  const latitude = parseLatitude(f[2] ?? "", f[3] ?? "");
  const longitude = parseLongitude(f[4] ?? "", f[5] ?? "");
  if (latitude === null || longitude === null) return reject("bad position");
  const out: NmeaPosition = { type: "GGA", msOfDay, latitude, longitude };
  const hdop = optionalNumber(f[8]);
  if (hdop === null || (hdop !== undefined && hdop < 0)) return reject("bad HDOP");
  if (hdop !== undefined) out.accuracy = hdop * HDOP_METRES;
  const altitude = optionalNumber(f[9]);
  if (altitude === null) return reject("bad altitude");
  const unit = f[10] ?? "";
  if (altitude !== undefined && unit !== "M" && unit !== "")
    return reject("altitude not in metres");
  if (altitude !== undefined) out.altitude = altitude;
  return out;
}

const TIME = /^(\d{2})(\d{2})(\d{2})(?:\.(\d+))?$/;

// hhmmss[.sss] as ms since midnight; a leap second (ss = 60) reads as :59.999, as protocol times do.
function parseTime(field: string): number | null {
  const m = TIME.exec(field);
  if (!m) return null;
  const hh = Number(m[1]);
  const mm = Number(m[2]);
  const ss = Number(m[3]);
  if (hh > 23 || mm > 59 || ss > 60) return null;
  if (ss === 60) return (hh * 3600 + mm * 60 + 59) * 1000 + 999;
  const ms = m[4] === undefined ? 0 : Number(m[4].slice(0, 3).padEnd(3, "0"));
  return (hh * 3600 + mm * 60 + ss) * 1000 + ms;
}

// ddmmyy as days since 1970-01-01.
function parseDate(field: string): number | null {
  const m = /^(\d{2})(\d{2})(\d{2})$/.exec(field);
  if (!m) return null;
  const d = Number(m[1]);
  const mo = Number(m[2]);
  const yy = Number(m[3]);
  const year = yy < 80 ? 2000 + yy : 1900 + yy;
  if (mo < 1 || mo > 12 || d < 1) return null;
  const ms = Date.UTC(year, mo - 1, d);
  if (new Date(ms).getUTCDate() !== d) return null; // 31 April and the like
  return ms / DAY_MS;
}

// (d)ddmm.mmmm: degrees, then two digits of whole minutes and their fraction.
const ANGLE = /^(\d{1,3})(\d{2}(?:\.\d+)?)$/;

function parseAngle(field: string, hemisphere: string, max: number, pos: string, neg: string) {
  const m = ANGLE.exec(field);
  if (!m || (hemisphere !== pos && hemisphere !== neg)) return null;
  const minutes = Number(m[2]);
  if (minutes >= 60) return null;
  const degrees = Number(m[1]) + minutes / 60;
  if (degrees > max) return null;
  // Rounded to 1e-9 degrees (~0.1 mm): enough for any receiver, without 0.1 + 0.2 artefacts.
  const value = Math.round(degrees * 1e9) / 1e9;
  return hemisphere === neg ? -value : value;
}

function parseLatitude(field: string, hemisphere: string): number | null {
  return parseAngle(field, hemisphere, 90, "N", "S");
}

function parseLongitude(field: string, hemisphere: string): number | null {
  return parseAngle(field, hemisphere, 180, "E", "W");
}

// An empty field is undefined (absent); a malformed one is null.
function optionalNumber(field: string | undefined): number | undefined | null {
  if (field === undefined || field === "") return undefined;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(field)) return null;
  return Number(field);
}

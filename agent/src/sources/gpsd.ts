// The `gpsd://HOST:PORT` source: a gpsd daemon's JSON watch stream over TCP. Only TPV reports
// with a 2D or 3D fix become fixes; a lost connection is retried with backoff until the abort.

import net from "node:net";
import { Backoff, parseTs } from "@locus/protocol";
import type { SourceFix, SourceOptions } from "./fix.ts";
import { readLines } from "./lines.ts";

/** The command that asks gpsd for JSON reports. */
export const WATCH_COMMAND = '?WATCH={"enable":true,"json":true};\n';

/** Longest gpsd report line read; SKY reports with many satellites stay well below. */
const MAX_REPORT_LENGTH = 65_536;

export interface GpsdAddress {
  host: string;
  port: number;
}

export interface GpsdOptions extends SourceOptions {
  /**
   * Bound of the first retry delay, ms (full jitter); doubles per failed attempt up to
   * maxRetryMs. Default 250.
   */
  minRetryMs?: number;
  /** Default 10 000. */
  maxRetryMs?: number;
}

function isNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * One gpsd JSON report as a fix. Null for reports that carry no position by design (other
 * classes); a string saying why for a TPV without a usable fix. Never throws.
 *
 * altMSL (gpsd ≥ 3.20) is preferred to the older `alt`, and only with a 3D fix (mode 3).
 * accuracy is `eph` when gpsd gives it, else the hypotenuse of `epx` and `epy` (both ~95 %).
 */
export function tpvToFix(report: unknown): SourceFix | string | null {
  if (typeof report !== "object" || report === null) return "gpsd report is not an object";
  const r = report as Record<string, unknown>;
  if (r.class !== "TPV") return null;
  if (!isNumber(r.mode) || r.mode < 2) return "gpsd TPV without a fix (mode < 2)";
  const { lat, lon } = r;
  if (!isNumber(lat) || lat < -90 || lat > 90) return "gpsd TPV with a bad lat";
  if (!isNumber(lon) || lon < -180 || lon > 180) return "gpsd TPV with a bad lon";
  const fix: SourceFix = { latitude: lat, longitude: lon };
  if (r.time !== undefined) {
    const ts = parseTs(r.time);
    if (ts === null) return "gpsd TPV with a bad time";
    fix.ts = ts;
  }
  if (isNumber(r.speed) && r.speed >= 0) fix.speed = r.speed;
  if (isNumber(r.track) && r.track >= 0 && r.track <= 360) fix.heading = r.track;
  const altitude = isNumber(r.altMSL) ? r.altMSL : r.alt;
  if (r.mode >= 3 && isNumber(altitude)) fix.altitude = altitude;
  if (isNumber(r.eph) && r.eph >= 0) fix.accuracy = r.eph;
  else if (isNumber(r.epx) && isNumber(r.epy) && r.epx >= 0 && r.epy >= 0) {
    fix.accuracy = Math.hypot(r.epx, r.epy);
  }
  return fix;
}

/** HOST:PORT of a `gpsd://` spec (port default 2947, IPv6 in brackets); throws on anything else. */
export function parseGpsdSpec(spec: string): GpsdAddress {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new Error(`bad gpsd source ${JSON.stringify(spec)}: expected gpsd://HOST:PORT`);
  }
  if (
    url.protocol !== "gpsd:" ||
    url.hostname === "" ||
    (url.pathname !== "" && url.pathname !== "/") ||
    url.search !== "" ||
    url.hash !== "" ||
    url.username !== ""
  ) {
    throw new Error(`bad gpsd source ${JSON.stringify(spec)}: expected gpsd://HOST:PORT`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port: url.port === "" ? 2947 : Number(url.port) };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function connect(address: GpsdAddress, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    const onAbort = () => socket.destroy(new Error("aborted"));
    const onError = (err: Error) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", () => {
      signal.removeEventListener("abort", onAbort);
      socket.removeListener("error", onError);
      resolve(socket);
    });
  });
}

/**
 * Fixes from gpsd until `signal` aborts. Connection problems never end the iteration: they are
 * reported once through `onInvalid` and the connection is retried with backoff (full jitter).
 * A TPV with the same time as the fix before it (gpsd may report an epoch more than once while
 * its sentences arrive) is skipped.
 */
export async function* gpsdFixes(
  address: GpsdAddress,
  options: GpsdOptions,
): AsyncGenerator<SourceFix> {
  const { signal, onInvalid } = options;
  const backoff = new Backoff({
    initialMs: options.minRetryMs ?? 250,
    maxMs: options.maxRetryMs ?? 10_000,
  });
  const where = `${address.host}:${address.port}`;
  let lastTs: number | undefined;
  let reportedDown = false;

  while (!signal.aborted) {
    let socket: net.Socket;
    try {
      socket = await connect(address, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (!reportedDown) {
        onInvalid?.(`gpsd at ${where} unreachable (${(err as Error).message}); retrying`);
        reportedDown = true;
      }
      await sleep(backoff.next(), signal);
      continue;
    }
    socket.on("error", () => {
      // Reported below when the read ends; without a listener the error would crash the agent.
    });
    socket.write(WATCH_COMMAND);
    try {
      for await (const line of readLines(socket, {
        signal,
        maxLength: MAX_REPORT_LENGTH,
        onInvalid,
      })) {
        if (line === "") continue;
        let report: unknown;
        try {
          report = JSON.parse(line);
        } catch {
          onInvalid?.("gpsd sent a line that is not JSON");
          continue;
        }
        backoff.reset();
        reportedDown = false;
        const fix = tpvToFix(report);
        if (fix === null) continue;
        if (typeof fix === "string") {
          onInvalid?.(fix);
          continue;
        }
        if (fix.ts !== undefined && fix.ts === lastTs) continue;
        lastTs = fix.ts;
        yield fix;
      }
    } catch (err) {
      if (signal.aborted) return;
      onInvalid?.(`gpsd connection to ${where} failed (${(err as Error).message}); reconnecting`);
    } finally {
      socket.destroy();
    }
    if (signal.aborted) return;
    await sleep(backoff.next(), signal);
  }
}

// One HTTP POST of one event to one webhook, and what came of it: the status, or why there was
// none. Redirects are not followed; the answer's body is read up to a cap and thrown away; the
// whole attempt has a deadline; stopping the hub cuts it short.

import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { refusedAddress } from "./url-check.ts";

/** Bytes of an answer's body read (and discarded) at most; past it the connection is closed. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface AttemptResult {
  /** The HTTP status answered; null when there was none. */
  status: number | null;
  /** Why the attempt did not deliver; null when it did (2xx). */
  error: string | null;
}

export interface AttemptRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
  /** The whole attempt, from connecting to the end of the answer, ms. */
  timeoutMs: number;
  /** Keeps the connection for the next attempt; carries the guarded lookup (url-check.ts). */
  agent: http.Agent;
  /** false: a literal address in the URL is checked as the lookup checks names. */
  allowPrivate: boolean;
  signal: AbortSignal;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = e instanceof Error ? e.message : String(err);
  return code !== "" && !message.includes(code) ? `${code}: ${message}` : message;
}

/** POSTs once; never rejects: a failure is a result with `error`. */
export function attempt(req: AttemptRequest): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const host = req.url.hostname.replace(/^\[|\]$/g, "");
    if (!req.allowPrivate && isIP(host) !== 0) {
      const refused = refusedAddress(host);
      if (refused !== null) {
        resolve({ status: null, error: `refused address: ${refused}` });
        return;
      }
    }
    const client = req.url.protocol === "https:" ? https : http;
    const request = client.request(req.url, {
      method: "POST",
      agent: req.agent,
      headers: req.headers,
    });
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${req.timeoutMs / 1000} s`));
    }, req.timeoutMs);
    const onAbort = () => request.destroy(new Error("the hub stopped during the attempt"));
    req.signal.addEventListener("abort", onAbort, { once: true });
    if (req.signal.aborted) onAbort();

    request.on("error", (err) => done({ status: null, error: describe(err) }));
    request.on("response", (res) => {
      const status = res.statusCode ?? 0;
      let error: string | null = null;
      if (status >= 300 && status < 400) {
        const location = res.headers.location ?? "";
        error = `HTTP ${status}: redirects are not followed${location ? ` (Location: ${location.slice(0, 200)})` : ""}; point the webhook at the final URL`;
      } else if (status < 200 || status >= 300) {
        error = `HTTP ${status}`;
      }
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) {
          // The status is all that counts: close rather than read a large answer.
          res.destroy();
          done({ status, error });
        }
      });
      res.on("end", () => done({ status, error }));
      res.on("error", () => done({ status, error }));
      res.on("close", () => done({ status, error }));
    });
    request.end(req.body);
  });
}

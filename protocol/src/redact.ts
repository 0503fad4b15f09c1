// URLs as messages and logs may show them: broker and database URLs often carry a password,
// which must never reach a terminal, a log file or an error report.

const MASK = "***";

// The userinfo's password of a URL the parser refuses: up to the last "@" before the path.
const RAW_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#]*@/i;

/**
 * `raw` with its password (the userinfo's, and a `password` query parameter as libpq reads
 * it) replaced by `***`; everything else as written. Never throws, and never returns the
 * password, even for a URL it cannot parse.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw.replace(RAW_PASSWORD, `$1${MASK}@`);
  }
  let changed = false;
  if (url.password !== "") {
    url.password = MASK;
    changed = true;
  }
  for (const key of [...url.searchParams.keys()]) {
    if (key.toLowerCase() === "password") {
      url.searchParams.set(key, MASK);
      changed = true;
    }
  }
  if (!changed) return raw;
  const out = url.toString();
  // The parser adds a "/" path to http: and ws: URLs; keep the form the user wrote.
  return out.endsWith("/") && !raw.endsWith("/") ? out.slice(0, -1) : out;
}

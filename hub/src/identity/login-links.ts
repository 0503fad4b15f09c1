// One-time login links for the map (`/#login=CODE`): a way into the page without copying the API
// token, printed by the hub to whoever started it. The code is not the token: it travels in the
// URL's fragment (which browsers never send to a server), works once, expires, and the page
// exchanges it for the token over POST /api/v1/login, so the token itself never enters a URL.

import { createHash, randomBytes } from "node:crypto";

/** How long a link works unless redeemed: long enough to open it, short enough to go stale. */
export const LOGIN_LINK_TTL_MS = 15 * 60_000;
/** Codes outstanding at most; the oldest is forgotten first. Keeps the map small whatever happens. */
export const MAX_LOGIN_LINKS = 64;

function digestOf(code: string): string {
  return createHash("sha256").update(code, "utf8").digest("base64url");
}

export class LoginLinks {
  /** SHA-256 of each outstanding code (a memory dump shows no usable code) → expiry, ms. */
  readonly #codes = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? LOGIN_LINK_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** A new code (192 random bits, base64url): guessing one is hopeless, so no rate limit is needed. */
  issue(): string {
    const code = randomBytes(24).toString("base64url");
    this.#sweep();
    while (this.#codes.size >= MAX_LOGIN_LINKS) {
      const oldest = this.#codes.keys().next().value as string;
      this.#codes.delete(oldest);
    }
    this.#codes.set(digestOf(code), this.#now() + this.#ttlMs);
    return code;
  }

  /** True once for a code that was issued and has not expired; it never works again. */
  redeem(code: string): boolean {
    const key = digestOf(code);
    const expires = this.#codes.get(key);
    if (expires === undefined) return false;
    this.#codes.delete(key);
    return expires > this.#now();
  }

  get outstanding(): number {
    this.#sweep();
    return this.#codes.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, expires] of this.#codes) if (expires <= now) this.#codes.delete(key);
  }
}

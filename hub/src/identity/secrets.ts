// The secrets of MQTT accounts and REST tokens: how they are made, and the only forms in which the
// hub keeps them (a slow salted hash for passwords, a SHA-256 digest for tokens).

import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** 24 random bytes: 192 bits, 32 base64url characters. */
const PASSWORD_BYTES = 24;
/** 32 random bytes: 256 bits, 43 base64url characters. */
const TOKEN_BYTES = 32;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/**
 * scrypt's cost: N = 2^14, r = 8, p = 1 takes 16 MiB and some tens of milliseconds per hash,
 * OWASP's floor for scrypt. A stored hash carries its own parameters, so they may rise later.
 */
const DEFAULT_COST = { N: 2 ** 14, r: 8, p: 1 } as const;
/** Parameters read back from storage are bounded, so a tampered row cannot exhaust memory. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** A new random password for an MQTT account. */
export function newPassword(): string {
  return randomBytes(PASSWORD_BYTES).toString("base64url");
}

/** A new random REST token. */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

function derive(password: string | Buffer, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  // The asynchronous scrypt runs on libuv's thread pool: hashing never blocks the event loop.
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** The stored form of a password: `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(
  password: string,
  cost: ScryptCost = DEFAULT_COST,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost);
  return ["scrypt", cost.N, cost.r, cost.p, salt.toString("base64url"), key.toString("base64url")]
    .map(String)
    .join("$");
}

function parseHash(stored: string): { cost: ScryptCost; salt: Buffer; key: Buffer } | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map((s) => Number(s));
  if (N === undefined || r === undefined || p === undefined) return null;
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || !Number.isInteger(r) || r < 1 || r > MAX_R) return null;
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) return null;
  const salt = Buffer.from(parts[4] ?? "", "base64url");
  const key = Buffer.from(parts[5] ?? "", "base64url");
  if (salt.length === 0 || key.length === 0) return null;
  return { cost: { N, r, p }, salt, key };
}

/**
 * Whether `password` is the one `stored` was made from (constant-time comparison). A malformed
 * stored hash matches nothing.
 */
export async function verifyPassword(password: string | Buffer, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === null) return false;
  const key = await derive(password, parsed.salt, parsed.cost);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/**
 * The stored form of a REST token: its SHA-256 digest, hex. A slow hash exists to make guessing a
 * human-chosen secret expensive; a token is 256 random bits, which no amount of guessing finds,
 * and every API request checks one, so a fast digest is both safe and cheap. A leaked table of
 * digests gives nobody a usable token. The digest also makes the lookup exact (by index).
 */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** SHA-256 of a password as it arrived: how the credential cache recognises it without keeping it. */
export function passwordDigest(password: string | Buffer): Buffer {
  return createHash("sha256").update(password).digest();
}

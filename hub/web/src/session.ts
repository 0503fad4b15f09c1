// The token for this browser session: kept in sessionStorage (never a URL, never localStorage),
// so it is gone when the tab closes.

import type { Access } from "./types.ts";

const TOKEN_KEY = "locus.token";

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  delete document.body.dataset.access;
}

export function setAccess(access: Access): void {
  document.body.dataset.access = access;
}

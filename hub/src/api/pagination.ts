// Paging and time windows of list queries: opaque cursors (base64url of the last id returned) and
// RFC 3339 `from`/`to` bounds, each refused with a 400 that says what a good value looks like.

import { parseTs } from "@locus/protocol";
import type { Page } from "../store/store.ts";
import { badRequest } from "./errors.ts";
import { DEFAULT_PAGE_LIMIT } from "./schemas.ts";

const BASE64URL = /^[A-Za-z0-9_-]+$/;
// Ids are printable ASCII; anything else in a cursor was not made by this API.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** The cursor that continues a list after the item with this id. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, "utf8").toString("base64url");
}

/** The id a cursor continues after; 400 when the cursor was not made by `encodeCursor`. */
export function decodeCursor(cursor: string, isId: (id: string) => boolean = () => true): string {
  const id = BASE64URL.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (id === "" || encodeCursor(id) !== cursor || !PRINTABLE_ASCII.test(id) || !isId(id)) {
    throw badRequest(
      "querystring/cursor is not a cursor this API gave out: pass next_cursor from the previous page unchanged, or leave cursor out to start at the beginning",
    );
  }
  return id;
}

/**
 * One page of a list fetched with one extra item: the page itself and, when the extra item shows
 * there are more, the cursor for the next page.
 */
export function pageOf<T>(
  fetched: readonly T[],
  limit: number,
  idOf: (item: T) => string,
): { items: T[]; nextCursor?: string } {
  if (fetched.length <= limit) return { items: [...fetched] };
  const items = fetched.slice(0, limit);
  const last = items[items.length - 1];
  return last === undefined ? { items } : { items, nextCursor: encodeCursor(idOf(last)) };
}

/**
 * One page of a list route: decodes `cursor` (400 when it is not one of ours, or not an id by
 * `isId`), fetches one item more than `limit` after it, and says where the next page starts.
 */
export async function fetchPage<T>(
  query: { limit?: number; cursor?: string },
  fetch: (page: Page) => Promise<T[]>,
  idOf: (item: T) => string,
  isId?: (id: string) => boolean,
): Promise<{ items: T[]; nextCursor?: string }> {
  const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isId);
  const fetched = await fetch(
    after === undefined ? { limit: limit + 1 } : { limit: limit + 1, after },
  );
  return pageOf(fetched, limit, idOf);
}

function parseBound(name: "from" | "to", value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseTs(value);
  if (ms === null) {
    throw badRequest(
      `querystring/${name} must be an RFC 3339 date-time with a time zone, e.g. 2026-11-24T20:00:00Z or 2026-11-24T21:00:00+01:00`,
    );
  }
  return ms;
}

/** The `from`/`to` query values as epoch ms; 400 when either is not RFC 3339 or from > to. */
export function timeWindow(query: { from?: string; to?: string }): { from?: number; to?: number } {
  const from = parseBound("from", query.from);
  const to = parseBound("to", query.to);
  if (from !== undefined && to !== undefined && from > to) {
    throw badRequest("querystring/from is after querystring/to: swap them or widen the window");
  }
  const window: { from?: number; to?: number } = {};
  if (from !== undefined) window.from = from;
  if (to !== undefined) window.to = to;
  return window;
}

// One colour per shown status, used by the map's icons and the lists' badges alike.

import type { ShownStatus } from "./types.ts";

export const STATUS_COLOURS: Record<ShownStatus, string> = {
  online: "#16a34a",
  stale: "#d97706",
  offline: "#6b7280",
};

export const STATUSES: ShownStatus[] = ["online", "stale", "offline"];

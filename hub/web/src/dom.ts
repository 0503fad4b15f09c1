// Small DOM utilities: elements are built with textContent only (names come from users and devices,
// so nothing is ever parsed as HTML).

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** "12 s ago", "5 min ago", "3 h ago", or the date for older times. */
export function ago(ts: string, nowMs: number): string {
  const t = Date.parse(ts);
  if (!Number.isFinite(t)) return "unknown time";
  const s = Math.max(0, Math.round((nowMs - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

export function clock(ts: string): string {
  const t = Date.parse(ts);
  return Number.isFinite(t) ? new Date(t).toLocaleTimeString() : ts;
}

/**
 * Replaces a list's items, keeping keyboard focus on the item with the same `data-<key>` (lists
 * are redrawn as the fleet changes; focus must not jump away under a keyboard user).
 */
export function replaceItems(list: HTMLElement, items: Node[], key: string): void {
  const active = document.activeElement;
  const focused =
    active instanceof HTMLElement && list.contains(active)
      ? active.getAttribute(`data-${key}`)
      : null;
  list.replaceChildren(...items);
  if (focused !== null) {
    for (const item of list.querySelectorAll<HTMLElement>(`[data-${key}]`)) {
      if (item.getAttribute(`data-${key}`) === focused) {
        item.focus({ preventScroll: true });
        break;
      }
    }
  }
}

// The vehicle list beside the map (#vehicles): one button per vehicle carrying its id and shown
// status, filtered by #vehicle-search. Updates touch only the items of vehicles that changed.

import { ago, byId, el, replaceItems } from "./dom.ts";
import type { ShownStatus, Vehicle } from "./types.ts";

/** Items drawn at most; past that, a note asks to narrow the search. */
const MAX_ITEMS = 500;

export class VehicleList {
  private readonly list = byId<HTMLUListElement>("vehicles");
  private readonly search = byId<HTMLInputElement>("vehicle-search");
  private readonly summary = byId<HTMLElement>("vehicle-summary");
  private items = new Map<string, HTMLButtonElement>();
  private drawnIds: string[] = [];
  private note: string | null = null;
  private readonly counts = {
    online: el("span", { class: "count online" }),
    stale: el("span", { class: "count stale" }),
    offline: el("span", { class: "count offline" }),
  };
  private selected: string | null = null;
  /**
   * Every vehicle id in list order, kept between redraws: sorting 100,000 ids each time the
   * "ago" texts refresh would stall the page. Rebuilt when vehicles come or go.
   */
  private order: string[] = [];
  private known = new Set<string>();
  private drawnCount = 0;

  constructor(
    private readonly vehicles: () => Map<string, Vehicle>,
    private readonly statusOf: (vehicle: Vehicle) => ShownStatus,
    private readonly select: (vehicleId: string) => void,
  ) {
    this.summary.append(this.counts.online, this.counts.stale, this.counts.offline);
    this.search.addEventListener("input", () => this.render());
    this.list.addEventListener("click", (e) => {
      const item = (e.target as HTMLElement).closest<HTMLElement>("[data-vehicle-id]");
      if (item?.dataset.vehicleId) this.select(item.dataset.vehicleId);
    });
  }

  /** Redraws the whole list: after a snapshot (`resort`), a new search or a new vehicle. */
  render(resort = false): void {
    const query = this.search.value.trim().toLowerCase();
    const now = Date.now();
    const all = this.vehicles();
    if (resort || this.order.length !== all.size) {
      this.order = [...all.keys()].sort();
      this.known = new Set(this.order);
    }
    const matching: Vehicle[] = [];
    const counts: Record<ShownStatus, number> = { online: 0, stale: 0, offline: 0 };
    const total = all.size;
    for (const id of this.order) {
      const v = all.get(id);
      if (!v) continue;
      counts[this.statusOf(v)]++;
      if (!query || v.id.toLowerCase().includes(query) || v.name?.toLowerCase().includes(query)) {
        matching.push(v);
      }
    }
    const drawn = matching.slice(0, MAX_ITEMS);
    const more = matching.length - drawn.length;
    const note =
      more > 0
        ? `${more} more: type in the search box to find them`
        : matching.length === 0
          ? total
            ? "No vehicle matches."
            : "No vehicles yet."
          : "";
    const ids = drawn.map((v) => v.id);
    if (note === this.note && sameIds(ids, this.drawnIds)) {
      // The same items in the same order: changed in place, so a click in progress still lands.
      for (const v of drawn) this.fill(this.items.get(v.id) as HTMLButtonElement, v, now);
    } else {
      const items = new Map<string, HTMLButtonElement>();
      const nodes: HTMLElement[] = [];
      for (const v of drawn) {
        const item = this.items.get(v.id) ?? this.item(v, now);
        this.fill(item, v, now);
        items.set(v.id, item);
        nodes.push(el("li", {}, item));
      }
      if (note) nodes.push(el("li", { class: more > 0 ? "more" : "empty" }, note));
      replaceItems(this.list, nodes, "vehicle-id");
      this.items = items;
      this.drawnIds = ids;
      this.note = note;
    }
    this.drawnCount = drawn.length;
    this.counts.online.textContent = `${counts.online} online`;
    this.counts.stale.textContent = `${counts.stale} stale`;
    this.counts.offline.textContent = `${counts.offline} offline`;
  }

  /**
   * Refreshes these vehicles' items. A vehicle new to the list redraws it (when there is room);
   * one the search leaves out costs nothing.
   */
  update(ids: Iterable<string>, all: Map<string, Vehicle>): void {
    const now = Date.now();
    for (const id of ids) {
      const item = this.items.get(id);
      const v = all.get(id);
      if (!v) continue;
      if (!item) {
        if (!this.known.has(id) && this.drawnCount < MAX_ITEMS) {
          this.render();
          return;
        }
        continue;
      }
      this.fill(item, v, now);
    }
  }

  /** Keeps counts and "ago" texts current (called every few seconds). */
  tick(): void {
    this.render();
  }

  highlight(vehicleId: string | null): void {
    this.selected = vehicleId;
    for (const [id, item] of this.items)
      item.setAttribute("aria-pressed", String(id === vehicleId));
  }

  private item(v: Vehicle, now: number): HTMLButtonElement {
    const item = el(
      "button",
      { type: "button", class: "item", "data-vehicle-id": v.id },
      el("span", { class: "dot", "aria-hidden": "true" }),
      el(
        "span",
        { class: "text" },
        el("span", { class: "name" }, v.name ? `${v.name} (${v.id})` : v.id),
        el("span", { class: "meta" }),
      ),
    );
    this.fill(item, v, now);
    return item;
  }

  /** Changes only what differs: this runs for every drawn vehicle that moved, every second. */
  private fill(item: HTMLButtonElement, v: Vehicle, now: number): void {
    const status = this.statusOf(v);
    if (item.dataset.status !== status) {
      item.dataset.status = status;
      (item.firstElementChild as HTMLElement).className = `dot ${status}`;
    }
    const pressed = String(v.id === this.selected);
    if (item.getAttribute("aria-pressed") !== pressed) item.setAttribute("aria-pressed", pressed);
    const fix = v.last_fix;
    const speed = typeof fix?.speed === "number" ? ` · ${Math.round(fix.speed * 3.6)} km/h` : "";
    const when = fix ? `${ago(fix.ts, now)}${speed}` : "no position yet";
    const meta = item.querySelector(".meta") as HTMLElement;
    const text = `${status} · ${when}`;
    if (meta.textContent !== text) meta.textContent = text;
  }
}

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

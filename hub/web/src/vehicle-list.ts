// The vehicle list beside the map (#vehicles): one button per vehicle carrying its id and shown
// status, filtered by #vehicle-search. Updates touch only the items of vehicles that changed.

import { ago, byId, el } from "./dom.ts";
import type { ShownStatus, Vehicle } from "./types.ts";

/** Items drawn at most; past that, a note asks to narrow the search. */
const MAX_ITEMS = 500;

export class VehicleList {
  private readonly list = byId<HTMLUListElement>("vehicles");
  private readonly search = byId<HTMLInputElement>("vehicle-search");
  private readonly summary = byId<HTMLElement>("vehicle-summary");
  private readonly items = new Map<string, HTMLButtonElement>();
  private selected: string | null = null;
  private shownIds: string[] = [];

  constructor(
    private readonly vehicles: () => Iterable<Vehicle>,
    private readonly statusOf: (vehicle: Vehicle) => ShownStatus,
    private readonly select: (vehicleId: string) => void,
  ) {
    this.search.addEventListener("input", () => this.render());
    this.list.addEventListener("click", (e) => {
      const item = (e.target as HTMLElement).closest<HTMLElement>("[data-vehicle-id]");
      if (item?.dataset.vehicleId) this.select(item.dataset.vehicleId);
    });
  }

  /** Redraws the whole list: after a snapshot, a new search or a new vehicle. */
  render(): void {
    const query = this.search.value.trim().toLowerCase();
    const now = Date.now();
    const matching: Vehicle[] = [];
    const counts: Record<ShownStatus, number> = { online: 0, stale: 0, offline: 0 };
    let total = 0;
    for (const v of this.vehicles()) {
      total++;
      counts[this.statusOf(v)]++;
      if (!query || v.id.toLowerCase().includes(query) || v.name?.toLowerCase().includes(query)) {
        matching.push(v);
      }
    }
    matching.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const drawn = matching.slice(0, MAX_ITEMS);
    this.items.clear();
    const nodes: HTMLElement[] = [];
    for (const v of drawn) {
      const item = this.item(v, now);
      this.items.set(v.id, item);
      nodes.push(el("li", {}, item));
    }
    if (matching.length > drawn.length) {
      nodes.push(
        el(
          "li",
          { class: "more" },
          `${matching.length - drawn.length} more: type in the search box to find them`,
        ),
      );
    } else if (matching.length === 0) {
      nodes.push(el("li", { class: "empty" }, total ? "No vehicle matches." : "No vehicles yet."));
    }
    this.list.replaceChildren(...nodes);
    this.shownIds = drawn.map((v) => v.id);
    this.summary.replaceChildren(
      el("span", { class: "count online" }, `${counts.online} online`),
      el("span", { class: "count stale" }, `${counts.stale} stale`),
      el("span", { class: "count offline" }, `${counts.offline} offline`),
    );
  }

  /** Refreshes these vehicles' items; a vehicle the list has not drawn yet redraws it. */
  update(ids: Iterable<string>, all: Map<string, Vehicle>): void {
    const now = Date.now();
    for (const id of ids) {
      const item = this.items.get(id);
      const v = all.get(id);
      if (!v) continue;
      if (!item) {
        if (this.shownIds.length < MAX_ITEMS) {
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
    const item = el("button", { type: "button", class: "item", "data-vehicle-id": v.id });
    this.fill(item, v, now);
    return item;
  }

  private fill(item: HTMLButtonElement, v: Vehicle, now: number): void {
    const status = this.statusOf(v);
    item.dataset.status = status;
    item.setAttribute("aria-pressed", String(v.id === this.selected));
    const fix = v.last_fix;
    const speed = typeof fix?.speed === "number" ? ` · ${Math.round(fix.speed * 3.6)} km/h` : "";
    const when = fix ? `${ago(fix.ts, now)}${speed}` : "no position yet";
    item.replaceChildren(
      el("span", { class: `dot ${status}`, "aria-hidden": "true" }),
      el(
        "span",
        { class: "text" },
        el("span", { class: "name" }, v.name ? `${v.name} (${v.id})` : v.id),
        el("span", { class: "meta" }, `${status} · ${when}`),
      ),
    );
  }
}

// The geofence list beside the map (#geofences): one button per geofence with how many vehicles
// are inside it now.

import { byId, el, replaceItems } from "./dom.ts";
import type { GeofenceFeature } from "./types.ts";

export class GeofenceList {
  private readonly list = byId<HTMLUListElement>("geofences");
  private selected: string | null = null;
  private items = new Map<string, HTMLButtonElement>();
  private ids: string[] = [];

  constructor(
    private readonly geofences: () => Iterable<GeofenceFeature>,
    private readonly insideCount: (geofenceId: string) => number,
    private readonly select: (geofenceId: string) => void,
  ) {
    this.list.addEventListener("click", (e) => {
      const item = (e.target as HTMLElement).closest<HTMLElement>("[data-geofence-id]");
      if (item?.dataset.geofenceId) this.select(item.dataset.geofenceId);
    });
  }

  /** Redraws the list; when the geofences are the same, only their texts change, in place. */
  render(): void {
    const all = [...this.geofences()].sort((a, b) =>
      a.properties.name.localeCompare(b.properties.name),
    );
    const ids = all.map((g) => g.id);
    const same = ids.length === this.ids.length && ids.every((id, i) => id === this.ids[i]);
    if (!same) {
      const items = new Map<string, HTMLButtonElement>();
      const nodes: HTMLElement[] = [];
      for (const g of all) {
        const item = this.items.get(g.id) ?? this.item(g.id);
        items.set(g.id, item);
        nodes.push(el("li", {}, item));
      }
      if (nodes.length === 0) nodes.push(el("li", { class: "empty" }, "No geofences yet."));
      replaceItems(this.list, nodes, "geofence-id");
      this.items = items;
      this.ids = ids;
    }
    for (const g of all) this.fill(this.items.get(g.id) as HTMLButtonElement, g);
  }

  private item(id: string): HTMLButtonElement {
    return el(
      "button",
      { type: "button", class: "item", "data-geofence-id": id, "aria-pressed": "false" },
      el("span", { class: "shape", "aria-hidden": "true" }),
      el("span", { class: "text" }, el("span", { class: "name" }), el("span", { class: "meta" })),
    );
  }

  private fill(item: HTMLButtonElement, g: GeofenceFeature): void {
    const kind =
      g.geometry.type === "Point" || g.properties.drawn_as === "circle"
        ? "circle"
        : g.geometry.type === "LineString"
          ? "corridor"
          : "polygon";
    const set = (selector: string, text: string) => {
      const node = item.querySelector(selector) as HTMLElement;
      if (node.textContent !== text) node.textContent = text;
    };
    (item.firstElementChild as HTMLElement).className = `shape ${kind}`;
    set(".name", g.properties.name);
    set(".meta", `${this.insideCount(g.id)} inside · ${kind}`);
    item.setAttribute("aria-pressed", String(g.id === this.selected));
  }

  highlight(geofenceId: string | null): void {
    this.selected = geofenceId;
    for (const item of this.list.querySelectorAll<HTMLElement>("[data-geofence-id]")) {
      item.setAttribute("aria-pressed", String(item.dataset.geofenceId === geofenceId));
    }
  }
}

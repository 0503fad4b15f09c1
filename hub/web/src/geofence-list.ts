// The geofence list beside the map (#geofences): one button per geofence with how many vehicles
// are inside it now.

import { byId, el, replaceItems } from "./dom.ts";
import type { GeofenceFeature } from "./types.ts";

export class GeofenceList {
  private readonly list = byId<HTMLUListElement>("geofences");
  private selected: string | null = null;

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

  render(): void {
    const all = [...this.geofences()].sort((a, b) =>
      a.properties.name.localeCompare(b.properties.name),
    );
    const nodes = all.map((g) => {
      const inside = this.insideCount(g.id);
      const kind = g.properties.drawn_as === "circle" ? "circle" : "polygon";
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "item",
            "data-geofence-id": g.id,
            "aria-pressed": String(g.id === this.selected),
          },
          el("span", { class: `shape ${kind}`, "aria-hidden": "true" }),
          el(
            "span",
            { class: "text" },
            el("span", { class: "name" }, g.properties.name),
            el("span", { class: "meta" }, `${inside} inside · ${kind}`),
          ),
        ),
      );
    });
    if (nodes.length === 0) nodes.push(el("li", { class: "empty" }, "No geofences yet."));
    replaceItems(this.list, nodes, "geofence-id");
  }

  highlight(geofenceId: string | null): void {
    this.selected = geofenceId;
    for (const item of this.list.querySelectorAll<HTMLElement>("[data-geofence-id]")) {
      item.setAttribute("aria-pressed", String(item.dataset.geofenceId === geofenceId));
    }
  }
}

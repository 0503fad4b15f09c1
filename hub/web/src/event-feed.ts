// The event feed (#events): geofence events as they happen, newest first, a bounded number kept.

import { byId, clock, el } from "./dom.ts";
import type { GeofenceEvent } from "./types.ts";

const MAX_EVENTS = 200;

export class EventFeed {
  private readonly list = byId<HTMLUListElement>("events");
  private readonly seen = new Set<string>();

  constructor(
    private readonly geofenceName: (geofenceId: string) => string | undefined,
    private readonly selectVehicle: (vehicleId: string) => void,
  ) {
    this.list.addEventListener("click", (e) => {
      const item = (e.target as HTMLElement).closest<HTMLElement>("[data-event-vehicle-id]");
      if (item?.dataset.eventVehicleId) this.selectVehicle(item.dataset.eventVehicleId);
    });
    this.list.append(el("li", { class: "empty" }, "Enter and exit events appear here."));
  }

  clear(): void {
    this.seen.clear();
    this.list.replaceChildren(el("li", { class: "empty" }, "Enter and exit events appear here."));
  }

  /** Adds an event at the top; one already shown (a redelivery) is skipped. */
  add(event: GeofenceEvent): boolean {
    return this.insert(event, "top");
  }

  /** Adds an event from before the page opened, below those shown. */
  addOlder(event: GeofenceEvent): boolean {
    return this.insert(event, "bottom");
  }

  private insert(event: GeofenceEvent, where: "top" | "bottom"): boolean {
    if (this.seen.has(event.id)) return false;
    this.seen.add(event.id);
    this.list.querySelector(".empty")?.remove();
    const name = event.geofence_name ?? this.geofenceName(event.geofence_id) ?? event.geofence_id;
    const item = el(
      "li",
      { "data-event-id": event.id, class: "new" },
      el(
        "button",
        { type: "button", class: "item", "data-event-vehicle-id": event.vehicle_id },
        el("span", { class: `badge ${event.type}` }, event.type),
        el(
          "span",
          { class: "text" },
          el("span", { class: "name" }, `${event.vehicle_id} → ${name}`),
          el("span", { class: "meta" }, clock(event.ts)),
        ),
      ),
    );
    if (where === "top") this.list.prepend(item);
    else {
      item.classList.remove("new");
      this.list.append(item);
    }
    while (this.list.children.length > MAX_EVENTS) {
      const last = this.list.lastElementChild as HTMLElement;
      if (last.dataset.eventId) this.seen.delete(last.dataset.eventId);
      last.remove();
    }
    return true;
  }
}

// The details panel (#details): the selected vehicle (its fix, status, geofences and track over
// the period chosen in #track-period) or the selected geofence (who is inside, and for an admin
// the rename, edit and delete buttons).

import type { Position } from "geojson";
import type { Api } from "./api.ts";
import { ago, byId, clock, el } from "./dom.ts";
import type { Fleet } from "./fleet.ts";
import type { TrackLayer } from "./track-layer.ts";
import type { Fix, ShownStatus, Vehicle } from "./types.ts";

const PERIODS: Record<string, number> = { "1h": 3_600_000, "6h": 21_600_000, "24h": 86_400_000 };
const TRACK_LIMIT = 10_000;
const MAX_TRACK_PAGES = 10;

export type Selection = { kind: "vehicle"; id: string } | { kind: "geofence"; id: string } | null;

export interface DetailsActions {
  selectVehicle(id: string): void;
  /** The hub said who is inside a geofence: counts elsewhere may have changed. */
  insideLoaded(geofenceId: string): void;
  close(): void;
  rename(geofenceId: string): void;
  edit(geofenceId: string): void;
  remove(geofenceId: string): void;
}

function row(label: string, value: string): HTMLElement {
  return el("div", { class: "row" }, el("dt", {}, label), el("dd", {}, value));
}

export class DetailsPanel {
  private readonly panel = byId<HTMLElement>("details");
  private readonly body = byId<HTMLElement>("details-body");
  private readonly title = byId<HTMLElement>("details-title");
  private readonly period = byId<HTMLSelectElement>("track-period");
  private readonly trackNote = byId<HTMLElement>("track-note");
  private selection: Selection = null;
  /** Answers to an older track request are dropped when a newer one was made. */
  private trackRequest = 0;

  constructor(
    private readonly fleet: Fleet,
    private readonly api: Api,
    private readonly track: TrackLayer,
    private readonly statusOf: (v: Vehicle) => ShownStatus,
    private readonly isAdmin: () => boolean,
    private readonly actions: DetailsActions,
  ) {
    this.period.addEventListener("change", () => {
      if (this.selection?.kind === "vehicle") void this.loadTrack(this.selection.id);
    });
    byId("details-close").addEventListener("click", () => this.actions.close());
    this.body.addEventListener("click", (e) => {
      const target = e.target as HTMLElement;
      const inside = target.closest<HTMLElement>("[data-inside-vehicle-id]");
      if (inside?.dataset.insideVehicleId)
        this.actions.selectVehicle(inside.dataset.insideVehicleId);
      const action = target.closest<HTMLElement>("[data-action]")?.dataset.action;
      const sel = this.selection;
      if (!action || sel?.kind !== "geofence") return;
      if (action === "rename") this.actions.rename(sel.id);
      if (action === "edit-shape") this.actions.edit(sel.id);
      if (action === "delete") this.actions.remove(sel.id);
    });
  }

  show(selection: Selection): void {
    const changed =
      selection?.kind !== this.selection?.kind || selection?.id !== this.selection?.id;
    this.selection = selection;
    delete this.panel.dataset.vehicleId;
    delete this.panel.dataset.geofenceId;
    this.panel.hidden = selection === null;
    if (changed) {
      this.track.clear();
      this.trackNote.textContent = "";
    }
    if (selection?.kind === "vehicle") {
      this.panel.dataset.vehicleId = selection.id;
      if (changed) void this.loadTrack(selection.id);
    }
    if (selection?.kind === "geofence") {
      this.panel.dataset.geofenceId = selection.id;
      if (changed) void this.loadInside(selection.id);
    }
    this.refresh();
  }

  /** Redraws the panel's text from the fleet (after an update that concerns the selection). */
  refresh(): void {
    const sel = this.selection;
    this.panel.classList.toggle("vehicle", sel?.kind === "vehicle");
    if (sel?.kind === "vehicle") this.renderVehicle(sel.id);
    else if (sel?.kind === "geofence") this.renderGeofence(sel.id);
  }

  /** A new fix of the selected vehicle: extend its track. */
  newFix(fix: Fix): void {
    if (this.selection?.kind === "vehicle" && fix.vehicle_id === this.selection.id) {
      this.track.extend([fix.longitude, fix.latitude]);
    }
  }

  get current(): Selection {
    return this.selection;
  }

  private renderVehicle(id: string): void {
    const v = this.fleet.vehicles.get(id);
    this.title.textContent = v?.name ? `${v.name}` : id;
    if (!v) {
      this.body.replaceChildren(
        el("p", { class: "muted" }, "This vehicle is not known to the hub."),
      );
      return;
    }
    const status = this.statusOf(v);
    const fix = v.last_fix;
    const rows: HTMLElement[] = [row("Id", v.id), row("Status", status)];
    if (fix) {
      rows.push(row("Last fix", `${clock(fix.ts)} (${ago(fix.ts, Date.now())})`));
      rows.push(row("Position", `${fix.latitude.toFixed(5)}, ${fix.longitude.toFixed(5)}`));
      if (typeof fix.speed === "number")
        rows.push(row("Speed", `${Math.round(fix.speed * 3.6)} km/h`));
      if (typeof fix.heading === "number") rows.push(row("Heading", `${Math.round(fix.heading)}°`));
      if (typeof fix.accuracy === "number")
        rows.push(row("Accuracy", `±${Math.round(fix.accuracy)} m`));
    } else {
      rows.push(row("Last fix", "none yet"));
    }
    const names = v.geofences.map((g) => this.fleet.geofences.get(g)?.properties.name ?? g);
    rows.push(row("Inside", names.length ? names.join(", ") : "no geofence"));
    this.body.replaceChildren(
      el("span", { class: `status-pill ${status}` }, status),
      el("dl", {}, ...rows),
    );
  }

  private renderGeofence(id: string): void {
    const g = this.fleet.geofences.get(id);
    this.title.textContent = g ? g.properties.name : id;
    if (!g) {
      this.body.replaceChildren(el("p", { class: "muted" }, "This geofence was deleted."));
      return;
    }
    const rows: HTMLElement[] = [row("Id", g.id)];
    if (g.geometry.type === "Point") {
      rows.push(row("Shape", `circle, radius ${Math.round(Number(g.properties.radius_m))} m`));
    } else if (g.geometry.type === "LineString") {
      rows.push(row("Shape", `corridor, ${Math.round(Number(g.properties.width_m))} m wide`));
    } else if (
      g.properties.drawn_as === "circle" &&
      typeof g.properties.circle_radius_m === "number"
    ) {
      rows.push(row("Shape", `circle, radius ${Math.round(g.properties.circle_radius_m)} m`));
    } else {
      rows.push(row("Shape", g.geometry.type === "Polygon" ? "polygon" : "several polygons"));
    }
    if (g.properties.updated_at)
      rows.push(row("Changed", new Date(g.properties.updated_at).toLocaleString()));
    const inside = this.fleet.inside(id);
    const list = el(
      "ul",
      { class: "inside" },
      ...inside.map((vid) =>
        el(
          "li",
          {},
          el("button", { type: "button", class: "link", "data-inside-vehicle-id": vid }, vid),
        ),
      ),
    );
    const parts: HTMLElement[] = [
      el("dl", {}, ...rows),
      el("h3", {}, `Inside now (${inside.length})`),
      inside.length ? list : el("p", { class: "muted" }, "No vehicle is inside."),
    ];
    if (this.isAdmin()) {
      parts.push(
        el(
          "div",
          { class: "actions" },
          el("button", { type: "button", "data-action": "rename" }, "Rename"),
          el("button", { type: "button", "data-action": "edit-shape" }, "Edit shape"),
          el("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete"),
        ),
      );
    }
    this.body.replaceChildren(...parts);
  }

  /** Asks the hub who is inside now; the vehicles' own lists may lag behind a geofence's edit. */
  private async loadInside(id: string): Promise<void> {
    try {
      const answer = await this.api.get<{ vehicles: string[] }>(
        `/api/v1/geofences/${encodeURIComponent(id)}/vehicles`,
      );
      this.fleet.setInside(id, answer.vehicles);
      this.actions.insideLoaded(id);
      if (this.selection?.kind === "geofence" && this.selection.id === id) this.refresh();
    } catch {
      // A hub without this route, or a geofence deleted meanwhile: the stream's view stands.
    }
  }

  /**
   * Loads the track page by page (the API answers at most 10,000 fixes, oldest first), up to
   * MAX_TRACK_PAGES pages: a day at one fix a second fits.
   */
  private async loadTrack(id: string): Promise<void> {
    const request = ++this.trackRequest;
    const span = PERIODS[this.period.value] ?? (PERIODS["1h"] as number);
    const to = new Date().toISOString();
    let from = new Date(Date.now() - span).toISOString();
    const positions: Position[] = [];
    let lastTs: string | null = null;
    let full = false;
    this.trackNote.textContent = "Loading track…";
    try {
      for (let page = 0; page < MAX_TRACK_PAGES; page++) {
        const query = new URLSearchParams({ from, to, limit: String(TRACK_LIMIT) });
        const answer = await this.api.get<{ locations: Fix[] }>(
          `/api/v1/vehicles/${encodeURIComponent(id)}/locations?${query}`,
        );
        if (request !== this.trackRequest) return;
        for (const f of answer.locations) {
          // A page starts at the previous page's last time again: that fix is drawn once.
          if (page > 0 && f.ts === lastTs) continue;
          positions.push([f.longitude, f.latitude]);
        }
        const last = answer.locations[answer.locations.length - 1];
        full = answer.locations.length >= TRACK_LIMIT;
        if (!full || !last || last.ts === lastTs) break;
        lastTs = last.ts;
        from = last.ts;
      }
      this.track.set(positions);
      const n = positions.length;
      this.trackNote.textContent =
        n === 0 ? "No fixes in this period." : `${n} fixes${full ? " (the earliest of more)" : ""}`;
    } catch (error) {
      if (request === this.trackRequest) {
        this.trackNote.textContent = `Track not loaded: ${(error as Error).message}`;
      }
    }
  }
}

// The geofence editor (admin tokens only): terra-draw draws polygons and circles and moves the
// vertices of a selected geofence; saving goes through the REST API (POST/PUT/DELETE
// /api/v1/geofences). A circle is saved as the hub judges it: a Point (its centre) with
// properties.radius_m.

import type { Point, Polygon, Position } from "geojson";
import type { Map as MapLibreMap } from "maplibre-gl";
import {
  type GeoJSONStoreFeatures,
  TerraDraw,
  TerraDrawCircleMode,
  TerraDrawPolygonMode,
  TerraDrawSelectMode,
} from "terra-draw";
import { TerraDrawMapLibreGLAdapter } from "terra-draw-maplibre-gl-adapter";
import type { Api } from "./api.ts";
import { circleOf } from "./circle.ts";
import { byId } from "./dom.ts";
import type { GeofenceForm } from "./geofence-form.ts";
import type { GeofenceFeature, GeofenceProperties } from "./types.ts";

const CIRCLE_HINT =
  "A circle is saved as its centre and radius; vehicles are inside up to that distance from the centre.";
const POLYGON_HINT = "Drag the white points to move corners; drag a middle point to add one.";

export interface EditorHost {
  geofence(id: string): GeofenceFeature | undefined;
  /** The API stored this geofence: show it at once (the stream's copy follows). */
  stored(geofence: GeofenceFeature): void;
  deleted(id: string): void;
  /** The editor shows this geofence itself while it is being changed (null: none). */
  editing(id: string | null): void;
  selectedGeofence(): string | null;
}

/** Properties the hub sets itself; they are not sent back. */
function ownProperties(p: GeofenceProperties): GeofenceProperties {
  const { created_at: _c, updated_at: _u, ...rest } = p;
  return rest;
}

const round = (ps: Position[]) =>
  ps.map(([x = 0, y = 0]) => [Math.round(x * 1e9) / 1e9, Math.round(y * 1e9) / 1e9]);

export class Editor {
  private readonly draw: TerraDraw;
  private readonly status = byId<HTMLElement>("editor-hint");
  /** The shape in terra-draw being drawn or changed, and what it is for. */
  private work: { drawId: string; kind: "polygon" | "circle"; geofenceId: string | null } | null =
    null;
  private nextId = 1;

  constructor(
    map: MapLibreMap,
    private readonly api: Api,
    private readonly form: GeofenceForm,
    private readonly host: EditorHost,
  ) {
    const polygonStyles = {
      fillColor: "#6366f1",
      fillOpacity: 0.2,
      outlineColor: "#4338ca",
      outlineWidth: 2,
      closingPointColor: "#4338ca",
      closingPointOutlineColor: "#ffffff",
    } as const;
    this.draw = new TerraDraw({
      adapter: new TerraDrawMapLibreGLAdapter({ map }),
      // Own ids: terra-draw's default uses crypto.randomUUID, which plain-HTTP pages lack.
      idStrategy: {
        isValidId: (id) => typeof id === "string" && id.startsWith("draft-"),
        getId: () => `draft-${this.nextId++}`,
      },
      modes: [
        new TerraDrawPolygonMode({ styles: polygonStyles }),
        new TerraDrawCircleMode({
          styles: {
            fillColor: "#6366f1",
            fillOpacity: 0.2,
            outlineColor: "#4338ca",
            outlineWidth: 2,
          },
        }),
        new TerraDrawSelectMode({
          flags: {
            polygon: {
              feature: {
                draggable: true,
                coordinates: { draggable: true, midpoints: true, deletable: true },
              },
            },
            circle: { feature: { draggable: true, coordinates: { resizable: "center-fixed" } } },
          },
          styles: {
            selectedPolygonColor: "#6366f1",
            selectedPolygonFillOpacity: 0.25,
            selectedPolygonOutlineColor: "#4338ca",
            selectionPointColor: "#ffffff",
            selectionPointOutlineColor: "#4338ca",
            midPointColor: "#c7d2fe",
            midPointOutlineColor: "#4338ca",
          },
        }),
      ],
    });
    this.draw.start();
    this.draw.on("finish", (id, context) => {
      if (context.action !== "draw" || this.work) return;
      const mode = this.draw.getMode();
      if (mode !== "polygon" && mode !== "circle") return;
      this.work = { drawId: String(id), kind: mode, geofenceId: null };
      this.toolbar(null);
      this.say("");
      this.draw.setMode("select");
      this.draw.selectFeature(id);
      this.form.open({
        title: mode === "circle" ? "New circle geofence" : "New geofence",
        hint: mode === "circle" ? CIRCLE_HINT : POLYGON_HINT,
        name: "",
        save: (name) => this.saveDrawn(name),
        cancel: () => this.discard(),
      });
    });

    for (const button of document.querySelectorAll<HTMLButtonElement>("#editor [data-action]")) {
      button.addEventListener("click", () => this.command(button.dataset.action ?? ""));
    }
  }

  /** Deletes a geofence after the user confirms it. */
  async remove(geofenceId: string): Promise<void> {
    const g = this.host.geofence(geofenceId);
    if (!g || !window.confirm(`Delete the geofence "${g.properties.name}"?`)) return;
    try {
      await this.api.request("DELETE", `/api/v1/geofences/${encodeURIComponent(geofenceId)}`);
      this.host.deleted(geofenceId);
    } catch (error) {
      this.say(`Not deleted: ${(error as Error).message}`);
    }
  }

  rename(geofenceId: string): void {
    const g = this.host.geofence(geofenceId);
    if (!g) return;
    this.discard();
    this.form.open({
      title: "Rename geofence",
      hint: "",
      name: g.properties.name,
      save: (name) =>
        this.put(geofenceId, { ...g, properties: { ...ownProperties(g.properties), name } }),
      cancel: () => {},
    });
  }

  /** Loads a geofence's polygon into terra-draw so its vertices can be moved. */
  edit(geofenceId: string): void {
    const g = this.host.geofence(geofenceId);
    if (!g) {
      this.say("Select a geofence first (in the list or on the map), then edit it.");
      return;
    }
    if (g.geometry.type !== "Polygon" || g.geometry.coordinates.length !== 1) {
      this.say(
        "Only a polygon without holes can be reshaped here; change circles, corridors and others through the API.",
      );
      return;
    }
    this.discard();
    const ring = round(g.geometry.coordinates[0] ?? []);
    const drawId = `draft-${this.nextId++}`;
    const feature: GeoJSONStoreFeatures = {
      type: "Feature",
      id: drawId,
      geometry: { type: "Polygon", coordinates: [ring] },
      properties: { mode: "polygon" },
    };
    const [result] = this.draw.addFeatures([feature]);
    if (!result?.valid) {
      this.say(`This geofence cannot be edited here: ${result?.reason ?? "not accepted"}`);
      return;
    }
    this.work = { drawId, kind: "polygon", geofenceId };
    this.host.editing(geofenceId);
    this.draw.setMode("select");
    this.draw.selectFeature(drawId);
    const before = JSON.stringify(ring);
    this.form.open({
      title: "Edit geofence",
      hint: POLYGON_HINT,
      name: g.properties.name,
      save: (name) => {
        const geometry = this.drawnPolygon(drawId);
        const properties: GeofenceProperties = { ...ownProperties(g.properties), name };
        // A circle whose corners were moved is a circle no more.
        if (JSON.stringify(geometry.coordinates[0]) !== before) {
          delete properties.drawn_as;
          delete properties.circle_center;
          delete properties.circle_radius_m;
        }
        return this.put(geofenceId, { ...g, geometry, properties });
      },
      cancel: () => this.discard(),
    });
  }

  private command(action: string): void {
    if (action === "edit") {
      const id = this.host.selectedGeofence();
      if (id) this.edit(id);
      else this.say("Select a geofence first (in the list or on the map), then edit it.");
      return;
    }
    if (action !== "draw-polygon" && action !== "draw-circle") return;
    this.form.close();
    this.discard();
    const mode = action === "draw-polygon" ? "polygon" : "circle";
    this.draw.setMode(mode);
    this.toolbar(action);
    this.say(
      mode === "polygon"
        ? "Click the corners; click the first one (or double-click) to close. Esc cancels."
        : `Click the centre, move out to the radius and click again. ${CIRCLE_HINT}`,
    );
  }

  private async saveDrawn(name: string): Promise<void> {
    const work = this.work;
    if (!work) return;
    let geometry: Polygon | Point = this.drawnPolygon(work.drawId);
    const properties: GeofenceProperties = { name };
    if (work.kind === "circle") {
      const { center, radiusM } = circleOf(geometry.coordinates[0] ?? []);
      geometry = { type: "Point", coordinates: center };
      // The hub takes radii from 1 m; a click without a drag is still a small circle.
      properties.radius_m = Math.max(1, radiusM);
    }
    const stored = await this.api.request<GeofenceFeature>("POST", "/api/v1/geofences", {
      type: "Feature",
      geometry,
      properties,
    });
    this.discard();
    this.host.stored(stored);
    this.say(`Saved "${stored.properties.name}".`);
  }

  private async put(geofenceId: string, g: GeofenceFeature): Promise<void> {
    const stored = await this.api.request<GeofenceFeature>(
      "PUT",
      `/api/v1/geofences/${encodeURIComponent(geofenceId)}`,
      { type: "Feature", geometry: g.geometry, properties: g.properties },
    );
    this.discard();
    this.host.stored(stored);
    this.say(`Saved "${stored.properties.name}".`);
  }

  private drawnPolygon(drawId: string): Polygon {
    const feature = this.draw.getSnapshotFeature(drawId);
    if (feature?.geometry.type !== "Polygon")
      throw new Error("The drawn shape is gone; draw it again.");
    return { type: "Polygon", coordinates: feature.geometry.coordinates as Position[][] };
  }

  /** Drops the shape being drawn or changed and returns to plain map use. */
  private discard(): void {
    const work = this.work;
    this.work = null;
    this.draw.setMode("static");
    if (work && this.draw.hasFeature(work.drawId)) this.draw.removeFeatures([work.drawId]);
    // A shape left half-drawn (Esc, or another tool chosen) goes too.
    const drafts = this.draw.getSnapshot().map((f) => f.id as string);
    if (drafts.length) this.draw.removeFeatures(drafts.filter((id) => this.draw.hasFeature(id)));
    if (work?.geofenceId) this.host.editing(null);
    this.toolbar(null);
  }

  private toolbar(active: string | null): void {
    for (const button of document.querySelectorAll<HTMLButtonElement>("#editor [data-action]")) {
      button.setAttribute("aria-pressed", String(button.dataset.action === active));
    }
  }

  private say(message: string): void {
    this.status.textContent = message;
  }
}

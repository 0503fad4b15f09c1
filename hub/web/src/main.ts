// The live map page: builds the map and its parts, logs in, and feeds the stream into them.
// Test and benchmark hook: window.locus = { map, ready, stats }.

import maplibregl from "maplibre-gl";
import { Api } from "./api.ts";
import { offlineStyle, readMapConfig } from "./basemap-style.ts";
import { DetailsPanel } from "./details.ts";
import { byId } from "./dom.ts";
import { Editor } from "./editor.ts";
import { EventFeed } from "./event-feed.ts";
import { Fleet } from "./fleet.ts";
import { GeofenceForm } from "./geofence-form.ts";
import { GeofenceList } from "./geofence-list.ts";
import { GeofencesLayer } from "./geofences-layer.ts";
import { LiveView, type LocusStats } from "./live.ts";
import { LoginForm } from "./login.ts";
import { forgetToken, setAccess, storedToken } from "./session.ts";
import { StreamClient, streamUrl } from "./stream.ts";
import { TrackLayer } from "./track-layer.ts";
import type { Access, GeofenceEvent, GeofenceFeature, ShownStatus, Vehicle } from "./types.ts";
import { VehicleList } from "./vehicle-list.ts";
import { VehiclesLayer } from "./vehicles-layer.ts";

declare global {
  interface Window {
    locus: { map: maplibregl.Map; ready: Promise<void>; stats: LocusStats };
  }
}

/** Stale vehicles are re-judged this often, as no message says a vehicle fell silent. */
const TICK_MS = 10_000;
/** Events shown from before the page opened. */
const RECENT_EVENTS_MS = 30 * 60_000;

maplibregl.setWorkerUrl(__LOCUS_WORKER_URL__);

async function start(): Promise<void> {
  // The form is live before anything loads: a token typed at once is taken, never submitted.
  const login = new LoginForm();
  let firstToken: Promise<string> | null = login.ask();
  const config = readMapConfig();
  const map = new maplibregl.Map({
    container: "map",
    style: config.style_url ?? offlineStyle(),
    center: [10, 30],
    zoom: 1.4,
    attributionControl: {
      compact: true,
      customAttribution: config.style_url ? undefined : "Basemap: Natural Earth",
    },
  });
  if (config.style_url) {
    // An online style that cannot be had (no internet, a wrong URL) must not leave a blank page.
    map.once("error", (e) => {
      if (map.isStyleLoaded()) return;
      console.warn(`online map style not loaded (${e.error?.message}); using the offline basemap`);
      map.setStyle(offlineStyle());
    });
  }
  map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");

  let drawn: () => void = () => {};
  const stats: LocusStats = { updates: 0, vehicles: 0 };
  const ready = new Promise<void>((resolve) => {
    drawn = resolve;
  });
  window.locus = { map, ready, stats };

  await new Promise<void>((resolve) => map.once("load", () => resolve()));

  const api = new Api(storedToken);
  const fleet = new Fleet();
  let access: Access | null = null;
  let live: LiveView | null = null;
  const select = (kind: "vehicle" | "geofence", id: string) => live?.select({ kind, id }, true);

  const geofences = new GeofencesLayer(map, (id) => select("geofence", id));
  const track = new TrackLayer(map);
  const vehicles = new VehiclesLayer(map, (id) => select("vehicle", id));
  geofences.install();
  track.install();
  vehicles.install();

  const form = new GeofenceForm();
  const feed = new EventFeed(
    (id) => fleet.geofences.get(id)?.properties.name,
    (id) => select("vehicle", id),
  );
  let editor: Editor | null = null;
  const statusOf = (v: Vehicle): ShownStatus => fleet.statusOf(v, Date.now());
  const details = new DetailsPanel(fleet, api, track, statusOf, () => access === "admin", {
    selectVehicle: (id) => select("vehicle", id),
    insideLoaded: () => live?.membershipsChanged(),
    close: () => live?.select(null),
    rename: (id) => editor?.rename(id),
    edit: (id) => editor?.edit(id),
    remove: (id) => void editor?.remove(id),
  });
  live = new LiveView({
    map,
    fleet,
    vehicles,
    geofences,
    vehicleList: new VehicleList(
      () => fleet.vehicles,
      statusOf,
      (id) => select("vehicle", id),
    ),
    geofenceList: new GeofenceList(
      () => fleet.geofences.values(),
      (id) => fleet.inside(id).length,
      (id) => select("geofence", id),
    ),
    feed,
    details,
    stats,
  });
  const view = live;
  setInterval(() => view.tick(), TICK_MS);

  const editorHost = {
    geofence: (id: string) => fleet.geofences.get(id),
    stored: (geofence: GeofenceFeature) => {
      view.apply({ type: "geofence", op: "upsert", geofence }, performance.now());
      view.select({ kind: "geofence", id: geofence.id });
    },
    deleted: (id: string) => view.apply({ type: "geofence", op: "delete", id }, performance.now()),
    editing: (id: string | null) => geofences.hide(id),
    selectedGeofence: () => (details.current?.kind === "geofence" ? details.current.id : null),
  };

  const setUpAccess = (role: Access) => {
    access = role;
    setAccess(role);
    const editorBar = byId("editor");
    editorBar.hidden = role !== "admin";
    for (const b of editorBar.querySelectorAll("button")) b.disabled = role !== "admin";
    if (role === "admin" && !editor) editor = new Editor(map, api, form, editorHost);
    if (role !== "admin") form.close();
    details.refresh();
  };

  let stream: StreamClient | null = null;
  let first = true;

  const connect = async (reason?: string): Promise<void> => {
    const token = await (firstToken ?? login.ask(reason));
    firstToken = null;
    const client = new StreamClient(streamUrl(), token, {
      message: (message, receivedAt) => {
        if (message.type === "snapshot") {
          login.show(false);
          setUpAccess(message.role ?? access ?? "read");
          if (!message.role) void probeAccess(api).then(setUpAccess);
        }
        view.apply(message, receivedAt);
        if (message.type === "snapshot" && first) {
          first = false;
          void loadRecentEvents(api, feed);
          whenDrawn(map, drawn);
        }
      },
      refused: (why) => {
        forgetToken();
        void connect(`That token was refused: ${why}.`);
      },
      state: (state) => {
        byId("connection").dataset.state = state;
        byId("connection").textContent =
          state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
      },
    });
    stream = client;
    client.start();
  };

  byId("logout").addEventListener("click", () => {
    stream?.stop();
    stream = null;
    forgetToken();
    access = null;
    form.close();
    // Nothing of the fleet stays on the page for whoever logs in next.
    view.select(null);
    view.apply(
      { type: "snapshot", vehicles: [], geofences: { type: "FeatureCollection", features: [] } },
      performance.now(),
    );
    feed.clear();
    byId("connection").dataset.state = "idle";
    byId("connection").textContent = "Not connected";
    byId("editor").hidden = true;
    void connect();
  });
  setUpMenu();
  // Escape closes the details panel (the geofence form handles its own Escape).
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !form.isOpen && details.current) view.select(null);
  });
  // A login link opened in a tab that has the map already: start afresh with its code.
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#login=")) location.reload();
  });
  await connect();
}

/**
 * Calls `done` once the vehicles' source holds the snapshot and a frame was drawn with it. Not
 * the map's "idle" event: with a busy fleet (updates every second, geofences flashing) the map
 * may not rest for a long time.
 */
function whenDrawn(map: maplibregl.Map, done: () => void): void {
  const check = () => {
    if (!map.isSourceLoaded("vehicles") || !map.isSourceLoaded("geofences")) return;
    map.off("render", check);
    done();
  };
  map.on("render", check);
  map.once("idle", check);
  map.triggerRepaint();
}

/** For a hub whose snapshot does not say the role: only an admin token may list tokens. */
async function probeAccess(api: Api): Promise<Access> {
  try {
    await api.get("/api/v1/tokens");
    return "admin";
  } catch {
    return "read";
  }
}

/** Fills the feed with the last events before the page opened (they change no membership). */
async function loadRecentEvents(api: Api, feed: EventFeed): Promise<void> {
  const from = new Date(Date.now() - RECENT_EVENTS_MS).toISOString();
  try {
    const answer = await api.get<{ events: GeofenceEvent[] }>(
      `/api/v1/events?from=${encodeURIComponent(from)}&limit=1000`,
    );
    for (const event of answer.events.slice(-50).reverse()) feed.addOlder(event);
  } catch {
    // The feed fills from the stream all the same; older events are a convenience.
  }
}

/** On a phone the lists are a drawer opened from the header's menu button. */
function setUpMenu(): void {
  const button = byId<HTMLButtonElement>("menu");
  const close = () => {
    document.body.classList.remove("drawer-open");
    button.setAttribute("aria-expanded", "false");
  };
  button.addEventListener("click", () => {
    const open = !document.body.classList.contains("drawer-open");
    document.body.classList.toggle("drawer-open", open);
    button.setAttribute("aria-expanded", String(open));
  });
  byId("sidebar").addEventListener("click", (e) => {
    if ((e.target as HTMLElement).closest("[data-vehicle-id],[data-geofence-id]")) close();
  });
}

start().catch((error: unknown) => {
  const box = document.getElementById("fatal");
  if (box) {
    box.hidden = false;
    box.textContent = `The map could not start: ${(error as Error).message}`;
  }
  throw error;
});

// Reads routes for `--routes FILE`: GeoJSON LineStrings (a FeatureCollection, one Feature, or a
// bare geometry; MultiLineString parts count as separate routes), as [longitude, latitude] lists.

/** A route: positions [longitude, latitude], WGS 84. */
export type Route = [number, number][];

/** The file does not hold usable routes; the message says what to fix. */
export class RoutesError extends Error {
  override name = "RoutesError";
}

/** The routes in a GeoJSON text; throws RoutesError naming the problem. */
export function parseRoutes(text: string): Route[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RoutesError(`not JSON: ${(err as Error).message}`);
  }
  const routes: Route[] = [];
  const geometries = geometriesOf(doc);
  geometries.forEach(({ geometry, where }) => {
    const g = geometry as { type?: unknown; coordinates?: unknown } | null;
    if (g?.type === "LineString") {
      routes.push(line(g.coordinates, where));
    } else if (g?.type === "MultiLineString" && Array.isArray(g.coordinates)) {
      g.coordinates.forEach((part, p) => {
        routes.push(line(part, `${where}, part ${p}`));
      });
    }
    // Other geometries (points of interest, polygons) are not routes: skipped.
  });
  if (routes.length === 0) throw new RoutesError("no LineString or MultiLineString in it");
  return routes;
}

function geometriesOf(doc: unknown): { geometry: unknown; where: string }[] {
  const d = doc as { type?: unknown; features?: unknown; geometry?: unknown } | null;
  if (d?.type === "FeatureCollection" && Array.isArray(d.features)) {
    return d.features.map((f, i) => ({
      geometry: (f as { geometry?: unknown } | null)?.geometry,
      where: `feature ${i}`,
    }));
  }
  if (d?.type === "Feature") return [{ geometry: d.geometry, where: "the feature" }];
  if (d?.type === "LineString" || d?.type === "MultiLineString") {
    return [{ geometry: d, where: "the geometry" }];
  }
  throw new RoutesError("expected a GeoJSON FeatureCollection, Feature or LineString");
}

function line(coordinates: unknown, where: string): Route {
  if (!Array.isArray(coordinates)) throw new RoutesError(`${where}: coordinates must be an array`);
  const route: Route = [];
  coordinates.forEach((position, i) => {
    const lon = Array.isArray(position) ? position[0] : undefined;
    const lat = Array.isArray(position) ? position[1] : undefined;
    if (
      typeof lon !== "number" ||
      typeof lat !== "number" ||
      !(lon >= -180 && lon <= 180) ||
      !(lat >= -90 && lat <= 90)
    ) {
      throw new RoutesError(`${where}, position ${i}: expected [longitude, latitude] in range`);
    }
    const previous = route[route.length - 1];
    if (previous === undefined || previous[0] !== lon || previous[1] !== lat)
      route.push([lon, lat]);
  });
  if (route.length < 2) throw new RoutesError(`${where}: a route needs two distinct positions`);
  return route;
}

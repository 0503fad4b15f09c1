// The vehicle icons, drawn on a canvas and added with map.addImage, so the map needs no sprite
// sheet from anywhere: a disc in the status colour with a white arrow when the heading is known
// (the layer rotates it) and a plain centre dot when it is not.

import type { Map as MapLibreMap } from "maplibre-gl";
import { STATUS_COLOURS, STATUSES } from "./status-colours.ts";

const SIZE = 26; // CSS pixels
const RATIO = 2; // drawn at twice the size, sharp on high-density screens

function draw(colour: string, withHeading: boolean): ImageData {
  const px = SIZE * RATIO;
  const canvas = document.createElement("canvas");
  canvas.width = px;
  canvas.height = px;
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  ctx.scale(RATIO, RATIO);
  const c = SIZE / 2;
  const r = 10;

  ctx.shadowColor = "rgba(15, 23, 42, 0.35)";
  ctx.shadowBlur = 3;
  ctx.shadowOffsetY = 1;
  ctx.beginPath();
  ctx.arc(c, c, r, 0, 2 * Math.PI);
  ctx.fillStyle = colour;
  ctx.fill();
  ctx.shadowColor = "transparent";
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();

  ctx.fillStyle = "#ffffff";
  ctx.beginPath();
  if (withHeading) {
    // A navigation arrow pointing north; the layer turns it to the heading.
    ctx.moveTo(c, c - 5.5);
    ctx.lineTo(c + 4.5, c + 4.5);
    ctx.lineTo(c, c + 2);
    ctx.lineTo(c - 4.5, c + 4.5);
    ctx.closePath();
  } else {
    ctx.arc(c, c, 3, 0, 2 * Math.PI);
  }
  ctx.fill();
  return ctx.getImageData(0, 0, px, px);
}

/** Image names: `vehicle-<status>-heading` and `vehicle-<status>-still`. */
export function addVehicleIcons(map: MapLibreMap): void {
  for (const status of STATUSES) {
    for (const withHeading of [true, false]) {
      const name = `vehicle-${status}-${withHeading ? "heading" : "still"}`;
      if (!map.hasImage(name)) {
        map.addImage(name, draw(STATUS_COLOURS[status], withHeading), { pixelRatio: RATIO });
      }
    }
  }
}

// The live map (CONTRACT §8): `/` is its page and `/map/…` its script, styles, MapLibre worker
// and offline basemap, all from the built hub/web/dist, plus `/map/config.json` saying which style
// to use. They hold no data, so they load without the token; the page asks for it. Every answer
// carries a strict Content-Security-Policy: scripts, styles and workers only from the hub, and
// connections only back to it (the stream's WebSocket included).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import Type from "typebox";
import {
  buildWebIfMissing,
  defaultWebDir,
  gzipped,
  readWebAssets,
  withBody,
} from "./web-assets.ts";

export interface RootPageOptions {
  /** LOCUS_MAP_STYLE_URL: an online style instead of the offline basemap. */
  styleUrl: string | null;
  /** The built map (default: hub/web/dist, or web/ beside the bundled hub). */
  webDir?: string;
  /** Build it at start when missing (default true). */
  build?: boolean;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function missingPage(why: string): string {
  const escaped = escapeHtml(why);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Locus</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>Locus</h1>
<p><strong>The live map is not built</strong> (${escaped}). Run <code>npm run build:web</code> in the
repository, then reload this page.</p>
<p>The REST API works meanwhile: <a href="/docs">API documentation</a>,
<a href="/openapi.json">OpenAPI document</a>, <a href="/api/v1/health">health</a>.</p>
</body></html>
`;
}

/** A Host header fit to name the page's own origin in the policy; anything odd is left out. */
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export function contentSecurityPolicy(host: string | undefined, styleUrl: string | null): string {
  // 'self' covers same-origin ws:/wss: in current browsers; the explicit origins help older ones.
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : "";
  // An online style brings tiles, sprites and glyphs from hosts the operator chose: any over
  // HTTPS, and the style's own origin when that is plain HTTP (a tile server on the LAN, say).
  const origin = styleUrl ? new URL(styleUrl) : null;
  const online = origin ? ` https:${origin.protocol === "http:" ? ` ${origin.origin}` : ""}` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${online}`,
    `connect-src 'self'${sockets}${online}`,
    "worker-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export const rootPage: FastifyPluginAsyncTypebox<RootPageOptions> = async (app, options) => {
  const dir = options.webDir ?? defaultWebDir();
  const notBuilt = options.build === false ? null : await buildWebIfMissing(dir);
  const assets = readWebAssets(dir);
  const index = assets.get("/");
  if (index && options.styleUrl) {
    // The page reads the configured style from its meta element, before any request.
    const html = index.body
      .toString("utf8")
      .replace(
        '<meta name="locus-map-style" content="">',
        `<meta name="locus-map-style" content="${escapeHtml(options.styleUrl)}">`,
      );
    assets.set("/", withBody(index, Buffer.from(html)));
  }
  const missing = missingPage(notBuilt ?? "its files are not in place");
  const config = JSON.stringify({ style_url: options.styleUrl });

  const secure = (request: FastifyRequest, reply: FastifyReply) =>
    reply
      .header(
        "content-security-policy",
        contentSecurityPolicy(request.headers.host, options.styleUrl),
      )
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("x-frame-options", "DENY")
      .header("cross-origin-opener-policy", "same-origin");

  const send = async (request: FastifyRequest, reply: FastifyReply, urlPath: string) => {
    secure(request, reply);
    const asset = assets.get(urlPath);
    if (!asset) {
      return reply.code(404).send({
        statusCode: 404,
        error: "Not Found",
        message: `No map file ${urlPath}: the page names the files it needs`,
      });
    }
    reply
      .type(asset.type)
      .header("etag", asset.etag)
      .header("vary", "accept-encoding")
      .header(
        "cache-control",
        asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      );
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    const accepts = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    const zipped = accepts ? await gzipped(asset) : null;
    if (zipped) return reply.header("content-encoding", "gzip").send(zipped);
    return reply.send(asset.body);
  };

  app.get(
    "/",
    {
      schema: {
        summary: "Live map",
        description: "The live map page (it asks for a token). No token needed.",
        security: [],
        produces: ["text/html"],
        response: { 200: Type.String({ description: "HTML page" }) },
      },
    },
    async (request, reply) => {
      if (!assets.has("/")) {
        secure(request, reply);
        return reply
          .type("text/html; charset=utf-8")
          .header("cache-control", "no-cache")
          .send(missing);
      }
      return send(request, reply, "/");
    },
  );

  app.get("/map/config.json", { schema: { hide: true } }, async (request, reply) => {
    secure(request, reply);
    return reply.type("application/json").header("cache-control", "no-cache").send(config);
  });

  app.get<{ Params: { file: string } }>(
    "/map/:file",
    { schema: { hide: true } },
    async (request, reply) => send(request, reply, `/map/${request.params.file}`),
  );
};

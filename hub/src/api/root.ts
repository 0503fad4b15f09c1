// The page at `/`: for now a placeholder that says the live map is not built yet and points to the
// API. It holds no data, so it loads without the token.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import Type from "typebox";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Locus</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #222; }
  code { background: #f3f3f3; padding: 0 .25em; border-radius: 3px; }
</style>
</head>
<body>
<h1>Locus</h1>
<p><strong>The live map is not built yet.</strong> This page will show vehicles and geofences as they move.</p>
<p>Until then, use the REST API:</p>
<ul>
  <li><a href="/docs">API documentation</a> (try requests from the browser)</li>
  <li><a href="/openapi.json">OpenAPI document</a></li>
  <li><a href="/api/v1/health">Health</a> (no token needed)</li>
</ul>
<p>Every other <code>/api/v1</code> route, and <code>/metrics</code>, needs the header
<code>Authorization: Bearer &lt;token&gt;</code>; the hub prints the token when it starts.</p>
</body>
</html>
`;

export const rootPage: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/",
    {
      schema: {
        summary: "Start page",
        description: "A placeholder for the live map, with links to the API. No token needed.",
        security: [],
        produces: ["text/html"],
        response: { 200: Type.String({ description: "HTML page" }) },
      },
    },
    async (_request, reply) => reply.type("text/html; charset=utf-8").send(PAGE),
  );
};

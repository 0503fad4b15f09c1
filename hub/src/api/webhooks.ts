// Webhook routes (CONTRACT §5, docs/webhooks.md): create, list, read, replace and delete webhooks,
// and read a webhook's deliveries log. Writes go through the dispatcher, which keeps the delivery
// loops in step; reads go to the store. Secrets are taken, never answered.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { formatTs } from "@locus/protocol";
import Type from "typebox";
import type { WebhookInput, WebhookRecord } from "../store/store.ts";
import type { WebhookRegistry } from "../webhooks/dispatcher.ts";
import { checkWebhookUrl } from "../webhooks/url-check.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, badRequest, notFound, quote } from "./errors.ts";
import { fetchPage } from "./pagination.ts";
import { AUTHENTICATED_ERRORS, ErrorSchema, PageQuerySchema } from "./schemas.ts";
import {
  DeliveriesQuerySchema,
  DeliveryListSchema,
  WebhookIdParamsSchema,
  WebhookInputSchema,
  WebhookListSchema,
  WebhookSchema,
} from "./webhook-schemas.ts";

const TAGS = ["webhooks"];

interface WebhookBody {
  url: string;
  secret?: string;
  types?: string[];
  geofence_ids?: string[];
}

function noWebhook(id: string): ApiError {
  return notFound(`no webhook with id ${quote(id)}: list them with GET /api/v1/webhooks`);
}

/** The answer: everything but the secret, of which only whether it is set. */
function toAnswer(hook: WebhookRecord) {
  return {
    id: hook.id,
    url: hook.url,
    has_secret: hook.secret !== null,
    ...(hook.types === null ? {} : { types: hook.types }),
    ...(hook.geofence_ids === null ? {} : { geofence_ids: hook.geofence_ids }),
    created_at: formatTs(hook.created_at),
    updated_at: formatTs(hook.updated_at),
  };
}

function repeated(list: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const item of list) {
    if (seen.has(item)) return item;
    seen.add(item);
  }
  return undefined;
}

/** The body checked beyond its schema (the URL's target, repeats), as the store takes it. */
function toInput(body: WebhookBody, allowPrivate: boolean): WebhookInput {
  const checked = checkWebhookUrl(body.url, allowPrivate);
  if ("problem" in checked) throw badRequest(`body/url ${checked.problem}`);
  for (const field of ["types", "geofence_ids"] as const) {
    const twice = repeated(body[field] ?? []);
    if (twice !== undefined) {
      throw badRequest(`body/${field} names ${quote(twice)} twice: list each once`);
    }
  }
  return {
    url: body.url,
    secret: body.secret ?? null,
    types: body.types ?? null,
    geofence_ids: body.geofence_ids ?? null,
  };
}

export const webhookRoutes: FastifyPluginAsyncTypebox<{
  deps: ApiDeps;
  webhooks: WebhookRegistry;
}> = async (app, { deps, webhooks }) => {
  const store = deps.store.webhooks;
  const allowPrivate = webhooks.settings.allowPrivate;
  const writeErrors = { ...AUTHENTICATED_ERRORS, 403: ErrorSchema };

  app.post(
    "/webhooks",
    {
      schema: {
        tags: TAGS,
        summary: "Create a webhook",
        description:
          "Each geofence event committed from now on that matches `types` and `geofence_ids` (absent: all) is POSTed to `url` as the event JSON, in event order, at least once, with Locus-Event-Id, Locus-Timestamp and (with a secret) Locus-Signature headers; failed attempts are retried with backoff for 24 h (docs/webhooks.md). Needs an admin token.",
        body: WebhookInputSchema,
        response: { 201: WebhookSchema, ...writeErrors, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const hook = await webhooks.create(toInput(request.body, allowPrivate));
      if (hook === null) {
        throw new ApiError(
          "LOCUS_TOO_MANY_WEBHOOKS",
          409,
          `there are ${webhooks.settings.maxWebhooks} webhooks already, the most allowed (LOCUS_WEBHOOK_MAX): delete one first, or use one webhook for several purposes`,
        );
      }
      reply.code(201);
      return toAnswer(hook);
    },
  );

  app.get(
    "/webhooks",
    {
      schema: {
        tags: TAGS,
        summary: "List webhooks",
        description: "A page of webhooks in creation order, without their secrets.",
        querystring: PageQuerySchema,
        response: { 200: WebhookListSchema, ...AUTHENTICATED_ERRORS },
      },
    },
    async (request) => {
      const page = await fetchPage(
        request.query,
        (p) => store.list(p),
        (w) => w.id,
      );
      return {
        webhooks: page.items.map(toAnswer),
        ...(page.nextCursor === undefined ? {} : { next_cursor: page.nextCursor }),
      };
    },
  );

  app.get(
    "/webhooks/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Get a webhook",
        params: WebhookIdParamsSchema,
        response: { 200: WebhookSchema, ...AUTHENTICATED_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => {
      const hook = await store.get(request.params.id);
      if (hook === null) throw noWebhook(request.params.id);
      return toAnswer(hook);
    },
  );

  app.put(
    "/webhooks/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Replace a webhook",
        description:
          "Replaces url, secret and filters (a secret left out is removed); delivery carries on from where it was, with the new settings from the next attempt. Needs an admin token.",
        params: WebhookIdParamsSchema,
        body: WebhookInputSchema,
        response: { 200: WebhookSchema, ...writeErrors, 404: ErrorSchema },
      },
    },
    async (request) => {
      const hook = await webhooks.replace(request.params.id, toInput(request.body, allowPrivate));
      if (hook === null) throw noWebhook(request.params.id);
      return toAnswer(hook);
    },
  );

  app.delete(
    "/webhooks/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Delete a webhook",
        description:
          "Stops its deliveries at once (an attempt under way is cut short) and removes its deliveries log. Needs an admin token.",
        params: WebhookIdParamsSchema,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...writeErrors,
          404: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      if (!(await webhooks.remove(request.params.id))) throw noWebhook(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/webhooks/:id/deliveries",
    {
      schema: {
        tags: TAGS,
        summary: "A webhook's deliveries log",
        description:
          "One entry per attempt, newest first: the HTTP status (null when there was no answer) and why it failed. The hub keeps the newest LOCUS_WEBHOOK_DELIVERIES_KEPT entries per webhook (default 1000).",
        params: WebhookIdParamsSchema,
        querystring: DeliveriesQuerySchema,
        response: { 200: DeliveryListSchema, ...AUTHENTICATED_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      if ((await store.get(id)) === null) throw noWebhook(id);
      const entries = await store.deliveries(id, request.query.limit ?? 100);
      return { deliveries: entries.map((e) => ({ ...e, at: formatTs(e.at) })) };
    },
  );
};

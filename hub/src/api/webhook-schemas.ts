// TypeBox schemas of the webhook routes (CONTRACT §5, docs/webhooks.md). A webhook's secret is
// taken, never answered: answers say only whether one is set.

import Type from "typebox";
import { MAX_URL_LENGTH } from "../webhooks/url-check.ts";
import { MAX_ID_LENGTH } from "./schemas.ts";

export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 256;
export const MAX_TYPES = 16;
export const MAX_GEOFENCE_IDS = 100;
export const EVENT_TYPE_PATTERN = "^[a-z][a-z_]{0,31}$";

const TimestampSchema = Type.String({ format: "date-time", description: "RFC 3339 UTC" });

export const WebhookInputSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: MAX_URL_LENGTH,
      description: `Where events are POSTed: http:// or https://, at most ${MAX_URL_LENGTH} characters, no credentials, no #fragment. Loopback and private addresses are refused unless the hub sets LOCUS_WEBHOOK_ALLOW_PRIVATE=true`,
    }),
    secret: Type.Optional(
      Type.String({
        minLength: MIN_SECRET_LENGTH,
        maxLength: MAX_SECRET_LENGTH,
        description: `Signs each delivery (Locus-Signature: sha256=HMAC-SHA256 of "{Locus-Timestamp}.{body}"), ${MIN_SECRET_LENGTH}-${MAX_SECRET_LENGTH} characters. Never answered back; absent: deliveries are not signed`,
      }),
    ),
    types: Type.Optional(
      Type.Array(Type.String({ pattern: EVENT_TYPE_PATTERN }), {
        minItems: 1,
        maxItems: MAX_TYPES,
        description: `Event types to deliver (enter, exit, dwell …), 1-${MAX_TYPES}; absent: every type`,
      }),
    ),
    geofence_ids: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH }), {
        minItems: 1,
        maxItems: MAX_GEOFENCE_IDS,
        description: `Deliver only events of these geofences, 1-${MAX_GEOFENCE_IDS} ids; absent: every geofence`,
      }),
    ),
  },
  { additionalProperties: false, description: "A webhook to create, or what replaces one (PUT)" },
);

export const WebhookSchema = Type.Object(
  {
    id: Type.String({ description: "Webhook id" }),
    url: Type.String(),
    has_secret: Type.Boolean({
      description: "Whether deliveries are signed; the secret itself is never answered",
    }),
    types: Type.Optional(Type.Array(Type.String(), { description: "Absent: every type" })),
    geofence_ids: Type.Optional(
      Type.Array(Type.String(), { description: "Absent: every geofence" }),
    ),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  },
  { description: "A webhook" },
);

export const WebhookListSchema = Type.Object({
  webhooks: Type.Array(WebhookSchema),
  next_cursor: Type.Optional(
    Type.String({ description: "Pass as `cursor` to get the next page; absent on the last page" }),
  ),
});

export const WebhookIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description: "Webhook id" }),
});

export const DeliveriesQuerySchema = Type.Object({
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description: "Entries to return, newest first (default 100, max 1000)",
    }),
  ),
});

export const DeliveryListSchema = Type.Object({
  deliveries: Type.Array(
    Type.Object({
      event_id: Type.String(),
      attempt: Type.Integer({ description: "1 for the first attempt at this event, then 2, 3 …" }),
      status: Type.Union([Type.Integer(), Type.Null()], {
        description: "The HTTP status answered; null when there was no answer",
      }),
      error: Type.Union([Type.String(), Type.Null()], {
        description: "Why the attempt failed; null when it delivered",
      }),
      outcome: Type.Union(
        [Type.Literal("delivered"), Type.Literal("retrying"), Type.Literal("failed")],
        {
          description:
            "delivered (2xx); retrying (another attempt follows); failed (given up after the retry period: the webhook moved on)",
        },
      ),
      at: TimestampSchema,
    }),
  ),
});

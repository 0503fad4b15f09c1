// TypeBox schemas of the identity routes (CONTRACT §5): vehicle registration and credentials,
// MQTT client accounts and REST tokens. Secrets appear only in the answers that issue them.

import { VEHICLE_ID_PATTERN } from "@locus/protocol";
import Type from "typebox";
import { VehicleSchema } from "./schemas.ts";

const ID_RULE = "1-64 characters of A-Z a-z 0-9 _ . -";

export const AccountNameSchema = Type.String({
  pattern: VEHICLE_ID_PATTERN.source,
  description: `Name: ${ID_RULE}`,
});

const TimestampSchema = Type.String({ format: "date-time", description: "RFC 3339 UTC" });
const NextCursorSchema = Type.String({
  description: "Pass as `cursor` to get the next page; absent on the last page",
});

export const VehicleRegistrationSchema = Type.Object(
  {
    id: Type.String({
      pattern: VEHICLE_ID_PATTERN.source,
      description: `Vehicle id, also its MQTT username: ${ID_RULE}`,
    }),
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "Display name, 1-200 characters" }),
    ),
  },
  { additionalProperties: false, description: "A vehicle to register" },
);

export const MqttCredentialsSchema = Type.Object(
  {
    username: Type.String({ description: "MQTT username" }),
    password: Type.String({
      description: "MQTT password: shown this once; the hub keeps only a slow hash of it",
    }),
  },
  { description: "MQTT credentials" },
);

export const RegisteredVehicleSchema = Type.Object(
  {
    ...VehicleSchema.properties,
    mqtt: MqttCredentialsSchema,
  },
  { description: "The registered vehicle and its MQTT credentials" },
);

export const VehicleCredentialsSchema = Type.Object(
  { id: Type.String({ description: "Vehicle id" }), mqtt: MqttCredentialsSchema },
  { description: "A vehicle's new MQTT credentials; the old password no longer works" },
);

export const DeleteVehicleQuerySchema = Type.Object({
  purge: Type.Optional(
    Type.Boolean({
      default: false,
      description: "true: also delete the vehicle's stored fixes and events",
    }),
  ),
});

const ClientRoleSchema = Type.Union([Type.Literal("events"), Type.Literal("observer")], {
  description:
    "events: may subscribe to locus/geofence/events; observer: also to locus/vehicles/+/location and …/status",
});

export const ClientInputSchema = Type.Object(
  { name: AccountNameSchema, role: ClientRoleSchema },
  { additionalProperties: false, description: "An MQTT client account to create" },
);

export const ClientSchema = Type.Object(
  { name: Type.String(), role: ClientRoleSchema, created_at: TimestampSchema },
  { description: "An MQTT client account (its password is never shown again)" },
);

export const IssuedClientSchema = Type.Object(
  { name: Type.String(), role: ClientRoleSchema, mqtt: MqttCredentialsSchema },
  { description: "The new client account and its credentials" },
);

export const ClientListSchema = Type.Object({
  clients: Type.Array(ClientSchema),
  next_cursor: Type.Optional(NextCursorSchema),
});

export const ClientNameParamsSchema = Type.Object({ name: AccountNameSchema });

const TokenRoleSchema = Type.Union([Type.Literal("admin"), Type.Literal("read")], {
  description: "admin: everything; read: GET and HEAD only",
});

export const TokenInputSchema = Type.Object(
  { name: AccountNameSchema, role: TokenRoleSchema },
  { additionalProperties: false, description: "A REST token to issue" },
);

export const TokenSchema = Type.Object(
  { name: Type.String(), role: TokenRoleSchema, created_at: TimestampSchema },
  { description: "An issued REST token (the token itself is never shown again)" },
);

export const IssuedTokenSchema = Type.Object(
  {
    name: Type.String(),
    role: TokenRoleSchema,
    token: Type.String({
      description: "The bearer token: shown this once; the hub keeps only its SHA-256 digest",
    }),
  },
  { description: "The new token" },
);

export const TokenListSchema = Type.Object({
  tokens: Type.Array(TokenSchema),
  next_cursor: Type.Optional(NextCursorSchema),
});

export const TokenNameParamsSchema = Type.Object({ name: AccountNameSchema });

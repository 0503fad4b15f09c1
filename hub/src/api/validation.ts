// Request validation from the routes' TypeBox schemas: query and path values are converted to the
// schema's types (bodies never are), defaults applied, and failures become 400s whose message names
// the field, the rule and the field's documented meaning.

import type { FastifySchemaCompiler } from "fastify";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { Value } from "typebox/value";
import { badRequest } from "./errors.ts";

interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

const MAX_REPORTED = 3;

function decodePointer(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}

// The subschema a TypeBox error's schemaPath ("#/properties/x/anyOf/0") points at.
function subschema(root: unknown, schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const token of schemaPath.split("/").slice(1)) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[decodePointer(token)];
  }
  return typeof node === "object" && node !== null ? (node as Record<string, unknown>) : undefined;
}

function describe(error: SchemaError, part: string, schema: unknown): string {
  const where = `${part}${error.instancePath}`;
  const p = error.params;
  let text: string;
  switch (error.keyword) {
    case "required": {
      const missing = (p.requiredProperties as string[] | undefined) ?? [];
      const names = missing.map((name) => `${where}/${name}`);
      return `${names.join(", ")} ${names.length === 1 ? "is" : "are"} required`;
    }
    case "additionalProperties": {
      const extra = (p.additionalProperties as string[] | undefined) ?? [];
      return `${extra.map((name) => `${where}/${name}`).join(", ")}: unknown, leave out`;
    }
    case "const":
      text = `${where} must be ${JSON.stringify(p.allowedValue)}`;
      break;
    case "enum":
      text = `${where} must be one of ${((p.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(", ")}`;
      break;
    case "anyOf":
      text = `${where} matches none of the accepted forms`;
      break;
    default:
      text = `${where} ${error.message}`;
  }
  const description = subschema(schema, error.schemaPath)?.description;
  return typeof description === "string" ? `${text} (${description})` : text;
}

/** The message for a failed validation: the first few distinct problems, most specific first. */
export function validationMessage(
  errors: readonly SchemaError[],
  part: string,
  schema: unknown,
): string {
  // An anyOf failure also lists every branch's failure; the anyOf line alone is clearer.
  const unions = errors.filter((e) => e.keyword === "anyOf").map((e) => `${e.schemaPath}/anyOf/`);
  const shown = errors.filter(
    (e) => e.keyword !== "boolean" && !unions.some((prefix) => e.schemaPath.startsWith(prefix)),
  );
  const lines = [...new Set(shown.map((e) => describe(e, part, schema)))];
  const head = lines.slice(0, MAX_REPORTED).join("; ");
  return lines.length > MAX_REPORTED ? `${head}; and ${lines.length - MAX_REPORTED} more` : head;
}

/**
 * Fastify validator compiler for TypeBox schemas. Query strings and path parameters arrive as
 * text, so they are converted to the schema's types and given its defaults; JSON bodies are checked
 * as sent, so `"5"` is not taken for 5.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema);
  const part = httpPart ?? "request";
  const isBody = httpPart === "body";
  return (input: unknown) => {
    const value = isBody ? input : Value.Convert(schema, Value.Default(schema, input));
    if (check.Check(value)) return { value };
    const errors = check.Errors(value) as unknown as SchemaError[];
    const error = badRequest(validationMessage(errors, part, schema));
    return { error };
  };
};

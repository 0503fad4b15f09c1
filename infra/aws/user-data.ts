// The instance's user data: instance/user-data.sh with its settings block filled in. The values
// are names, addresses and ARNs (CloudFormation tokens while synthesising), never a secret: the
// instance reads the secrets themselves from Secrets Manager at boot.

import fs from "node:fs";
import path from "node:path";

export const INSTANCE_DIR = path.join(import.meta.dirname, "instance");

/** What the first boot needs to know; each becomes one line of /etc/locus/deploy.env. */
export interface DeployEnv {
  LOCUS_STACK: string;
  LOCUS_REGION: string;
  LOCUS_REPOSITORY: string;
  LOCUS_REF: string;
  LOCUS_DOMAIN: string;
  LOCUS_ACME_EMAIL: string;
  LOCUS_PUBLIC_IP: string;
  /** "local" (PostgreSQL on the instance) or "rds". */
  LOCUS_DATABASE: "local" | "rds";
  LOCUS_DB_SECRET_ARN: string;
  LOCUS_API_TOKEN_SECRET_ARN: string;
  LOCUS_MQTT_SECRET_ARN: string;
  LOCUS_CA_PARAMETER: string;
  LOCUS_LOG_GROUP_PREFIX: string;
}

/**
 * Renders user-data.sh. Values are single-quoted shell words: a value holding a quote or a
 * newline would break out of the settings file, so it is refused (tokens never hold one).
 */
export function renderUserData(env: DeployEnv): string {
  const template = fs.readFileSync(path.join(INSTANCE_DIR, "user-data.sh"), "utf8");
  const lines = Object.entries(env).map(([key, value]) => {
    if (/['\n\r]/.test(value)) throw new Error(`${key} may not hold a quote or a newline`);
    return `${key}='${value}'`;
  });
  if (!template.includes("@DEPLOY_ENV@")) throw new Error("user-data.sh lost its @DEPLOY_ENV@");
  return template.replace("@DEPLOY_ENV@", lines.join("\n"));
}

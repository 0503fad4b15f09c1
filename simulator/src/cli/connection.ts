// The simulator's broker account and trust: --username with --password, --password-file or the
// environment (the agent's names), and --ca for mqtts:// and wss:// brokers, read the agent's way.

import { isTlsBroker, readCaFile, readPasswordFile } from "@locus/agent";
import { UsageError } from "./usage-error.ts";

export const USERNAME_ENV = "LOCUS_MQTT_USERNAME";
export const PASSWORD_ENV = "LOCUS_MQTT_PASSWORD";

export interface Connection {
  username?: string;
  password?: string;
  /** PEM CA certificates, read once and shared by every vehicle. */
  ca?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Reads the connection flags; throws a UsageError naming the flag. */
export function readConnection(
  values: Map<string, string>,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
  brokerUrl: string,
): Connection {
  const out: Connection = {};
  const username = values.get("username") ?? nonEmpty(env[USERNAME_ENV]);
  const file = values.get("password-file");
  if (file !== undefined && values.has("password")) {
    throw new UsageError("give --password or --password-file, not both");
  }
  let password: string | undefined;
  if (file !== undefined) {
    try {
      password = readPasswordFile(file, readFile);
    } catch (err) {
      throw new UsageError(`--password-file: ${(err as Error).message}`);
    }
  } else {
    password = values.get("password") ?? nonEmpty(env[PASSWORD_ENV]);
  }
  if (password !== undefined && username === undefined) {
    const from =
      file !== undefined
        ? "--password-file"
        : values.has("password")
          ? "--password"
          : `$${PASSWORD_ENV}`;
    throw new UsageError(`${from} needs --username (or $${USERNAME_ENV})`);
  }
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;

  const caFile = values.get("ca");
  if (caFile !== undefined) {
    if (!isTlsBroker(brokerUrl))
      throw new UsageError("--ca goes with an mqtts:// or wss:// broker");
    try {
      out.ca = readCaFile(caFile, readFile);
    } catch (err) {
      throw new UsageError(`--ca: ${(err as Error).message}`);
    }
  }
  return out;
}

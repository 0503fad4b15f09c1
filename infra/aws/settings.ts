// The deployment's settings: each from CDK context (`-c name=value`, or cdk.json) or else from an
// environment variable, else its default. docs/aws.md lists them. A bad value stops synthesis
// with one line naming the setting.

import { execFileSync } from "node:child_process";
import { InstanceArchitecture, InstanceType } from "aws-cdk-lib/aws-ec2";

export interface DeploySettings {
  stackName: string;
  instanceType: string;
  architecture: "x86_64" | "arm64";
  /** IPv4 CIDRs that may reach 8883 and 443. */
  allowedCidrs: string[];
  /** Public DNS name of the instance: a Let's Encrypt certificate; null: a self-signed CA. */
  domain: string | null;
  /** Let's Encrypt account e-mail (with a domain). */
  acmeEmail: string | null;
  /** Amazon RDS for PostgreSQL instead of PostgreSQL on the instance. */
  rds: boolean;
  /** Git repository the instance clones (https), and the commit, tag or branch it builds. */
  repository: string | null;
  ref: string | null;
  /** Daily EBS snapshots kept. */
  snapshotRetention: number;
  /** Root volume size in GiB. */
  volumeGiB: number;
}

export class SettingError extends Error {
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = "SettingError";
  }
}

/** Reads one setting: CDK context first, then LOCUS_AWS_<NAME> in the environment. */
export type SettingSource = (contextKey: string) => string | undefined;

const ENV_NAMES: Record<string, string> = {
  stackName: "LOCUS_AWS_STACK_NAME",
  instanceType: "LOCUS_AWS_INSTANCE_TYPE",
  architecture: "LOCUS_AWS_ARCHITECTURE",
  allowedCidrs: "LOCUS_AWS_ALLOWED_CIDRS",
  domain: "LOCUS_AWS_DOMAIN",
  acmeEmail: "LOCUS_AWS_ACME_EMAIL",
  rds: "LOCUS_AWS_RDS",
  repository: "LOCUS_AWS_REPOSITORY",
  ref: "LOCUS_AWS_REF",
  snapshotRetention: "LOCUS_AWS_SNAPSHOT_RETENTION",
  volumeGiB: "LOCUS_AWS_VOLUME_GIB",
};

export function settingNames(): Record<string, string> {
  return { ...ENV_NAMES };
}

/** Git facts of the checkout the deployment is synthesised from; null where there is none. */
export interface Checkout {
  remote: string | null;
  head: string | null;
}

export function readCheckout(dir: string): Checkout {
  const git = (...args: string[]): string | null => {
    try {
      const out = execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: "pipe" }).trim();
      return out === "" ? null : out;
    } catch {
      return null;
    }
  };
  return { remote: git("remote", "get-url", "origin"), head: git("rev-parse", "HEAD") };
}

/**
 * The checkout's origin as an https URL the instance can clone anonymously (a git@host:owner/repo
 * SSH remote becomes one), or null for an origin the instance could not reach (a local path, a
 * clone of a clone): then the repository must be given, and synthesis still works meanwhile.
 */
function httpsRemote(remote: string | null): string | null {
  if (remote === null) return null;
  const ssh = /^git@([^:]+):(.+)$/.exec(remote);
  const url = ssh ? `https://${ssh[1]}/${ssh[2]}` : remote;
  return url.startsWith("https://") ? url : null;
}

export function readSettings(source: SettingSource, checkout: Checkout): DeploySettings {
  const get = (key: string): string | null => {
    const raw = source(key) ?? process.env[ENV_NAMES[key] ?? ""];
    return raw === undefined || raw.trim() === "" ? null : raw.trim();
  };
  const name = `${ENV_NAMES.stackName} / -c stackName`;
  const stackName = get("stackName") ?? "Locus";
  if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(stackName)) {
    throw new SettingError(name, `"${stackName}" is not a stack name (letters, digits, -)`);
  }

  const instanceType = get("instanceType") ?? "t3.micro";
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(instanceType)) {
    throw new SettingError("instanceType", `"${instanceType}" is not an EC2 type like t3.micro`);
  }
  const inferred =
    new InstanceType(instanceType).architecture === InstanceArchitecture.ARM_64
      ? "arm64"
      : "x86_64";
  const architecture = get("architecture") ?? inferred;
  if (architecture !== "x86_64" && architecture !== "arm64") {
    throw new SettingError("architecture", `"${architecture}" must be x86_64 or arm64`);
  }
  if (architecture !== inferred) {
    throw new SettingError(
      "architecture",
      `${architecture} does not match ${instanceType}, which is ${inferred} (choose e.g. t4g.micro for arm64)`,
    );
  }

  const allowedCidrs = (get("allowedCidrs") ?? "0.0.0.0/0").split(",").map((c) => c.trim());
  for (const cidr of allowedCidrs) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
      throw new SettingError("allowedCidrs", `"${cidr}" is not an IPv4 CIDR like 203.0.113.0/24`);
    }
  }

  const domain = get("domain")?.toLowerCase() ?? null;
  if (
    domain !== null &&
    !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain)
  ) {
    throw new SettingError("domain", `"${domain}" is not a DNS name like locus.example.com`);
  }
  const acmeEmail = get("acmeEmail");
  if (domain !== null && (acmeEmail === null || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(acmeEmail))) {
    throw new SettingError(
      "acmeEmail",
      "a domain needs the e-mail address of its Let's Encrypt account (-c acmeEmail=you@example.com)",
    );
  }

  const rdsText = get("rds") ?? "false";
  if (rdsText !== "true" && rdsText !== "false") {
    throw new SettingError("rds", `"${rdsText}" must be true or false`);
  }

  const repository = get("repository") ?? httpsRemote(checkout.remote);
  if (repository !== null && !/^https:\/\/[^\s'"$`\\]+$/.test(repository)) {
    throw new SettingError("repository", `"${repository}" must be an https:// git URL`);
  }
  const ref = get("ref") ?? checkout.head;
  if (ref !== null && !/^[A-Za-z0-9._/-]{1,200}$/.test(ref)) {
    throw new SettingError("ref", `"${ref}" is not a git commit, tag or branch name`);
  }

  const whole = (key: string, fallback: number, min: number, max: number): number => {
    const text = get(key);
    if (text === null) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new SettingError(key, `"${text}" must be a whole number from ${min} to ${max}`);
    }
    return n;
  };

  return {
    stackName,
    instanceType,
    architecture,
    allowedCidrs,
    domain,
    acmeEmail: domain === null ? null : acmeEmail,
    rds: rdsText === "true",
    repository,
    ref,
    snapshotRetention: whole("snapshotRetention", 7, 1, 1000),
    volumeGiB: whole("volumeGiB", 20, 8, 16384),
  };
}
